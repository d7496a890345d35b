// A TypeBox schema as the documents (OpenAPI, AsyncAPI) show it: plain JSON Schema describing
// what is on the wire. TypeBox also has types that JSON has not (Type.Date(), Type.BigInt(),
// Type.Uint8Array(), …), written as `type: 'Date'` and the like: no document validates with
// those, and fast-json-stringify refuses them when Fastify compiles a response schema.

/** A JSON Schema object, as it appears in a document. */
export type JsonSchema = Record<string, unknown>

const JSON_TYPES = new Set(['string', 'number', 'integer', 'boolean', 'object', 'array', 'null'])

// Keywords whose values are schemas (or maps or lists of schemas); every other keyword holds
// data (`const`, `enum`, `default`, `examples`), which is never rewritten.
const SUBSCHEMAS = ['items', 'additionalProperties', 'not', 'if', 'then', 'else', 'contains', 'propertyNames',
  'unevaluatedProperties', 'unevaluatedItems', 'additionalItems']
const SUBSCHEMA_LISTS = ['anyOf', 'oneOf', 'allOf', 'prefixItems']
const SUBSCHEMA_MAPS = ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas']

/**
 * A JSON copy of `schema`: TypeBox's symbol and non-enumerable keys are dropped (TypeBox 0.34 and
 * 1 alike), and nothing that reads or rewrites the document (swagger's resolver, Fastify's schema
 * compiler) can touch the map the stream is checked with. A Date is described as the ISO string
 * `JSON.stringify` writes for it; other non-JSON types keep only their title and description.
 */
export function jsonSchemaOf (schema: unknown): JsonSchema {
  return rewrite(JSON.parse(JSON.stringify(schema)) as JsonSchema)
}

function rewrite (schema: JsonSchema): JsonSchema {
  if (typeof schema.type === 'string' && !JSON_TYPES.has(schema.type)) return wireForm(schema)
  return mapSubschemas(schema, rewrite)
}

/** A copy of `schema` with each of its direct subschemas (in properties, items, anyOf, …) mapped. */
export function mapSubschemas (schema: JsonSchema, map: (subschema: JsonSchema) => JsonSchema): JsonSchema {
  const copy: JsonSchema = { ...schema }
  for (const keyword of SUBSCHEMAS) {
    const sub = schema[keyword]
    if (isObject(sub)) copy[keyword] = map(sub)
  }
  for (const keyword of SUBSCHEMA_LISTS) {
    const list = schema[keyword]
    if (Array.isArray(list)) copy[keyword] = list.map(sub => isObject(sub) ? map(sub) : sub)
  }
  for (const keyword of SUBSCHEMA_MAPS) {
    const entries = schema[keyword]
    if (isObject(entries)) copy[keyword] = Object.fromEntries(Object.entries(entries).map(([name, sub]) => [name, isObject(sub) ? map(sub) : sub]))
  }
  return copy
}

function wireForm (schema: JsonSchema): JsonSchema {
  const annotations: JsonSchema = {}
  for (const keyword of ['title', 'description']) if (typeof schema[keyword] === 'string') annotations[keyword] = schema[keyword]
  if (schema.type === 'Date') return { type: 'string', format: 'date-time', ...annotations }
  return { description: `A TypeBox ${String(schema.type)}, which has no JSON form.`, ...annotations }
}

export function isObject (value: unknown): value is JsonSchema {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
