// The rules a schema sets for one event's data, shared by the server (src/schema.ts) and the
// client (src/client/decode.ts) so both sides read a schema the same way: how its data is
// encoded, and how it is checked. No Node or Fastify imports: the client bundles this file.
//
// One engine for both TypeBox majors: TypeBox 1's compiler reads a schema as JSON Schema, so it
// takes TypeBox 1 schemas, @sinclair/typebox 0.34 schemas (whose own compiler refuses TypeBox 1's)
// and plain JSON Schema alike, and explains a failure the same way whichever major wrote it. It
// is the schema-level `Compile` of `typebox/schema`: the same engine and errors as
// `typebox/compile`'s, without the value operations (decode, clean, defaults) that this code never
// uses, which keeps about 16 KB (gzipped) out of a page that bundles the client.
import { Compile, type XSchema } from 'typebox/schema'
import type { EventSchema } from './events.js'

/**
 * A schema whose values are strings only is sent as raw text, so token streams read
 * `data: Hello` rather than `data: "Hello"`; any other schema means JSON.
 */
export function isStringSchema (schema: EventSchema): boolean {
  return (schema as { type?: unknown }).type === 'string'
}

/** Where and why data failed its schema. */
export interface Failure {
  /** JSON pointer into the data (`''` for the data itself). */
  path: string
  /** What the schema expected there. */
  reason: string
}

export interface Validator {
  /** True when `data` matches the schema. Cheap: compiled once. */
  check (data: unknown): boolean
  /** The first failing path and what was expected there; call it only after a failed check. */
  explain (data: unknown): Failure
}

// Keyed by the schema object: a schema shared by several maps, routes and topics compiles once.
const bySchema = new WeakMap<EventSchema, Validator>()

/**
 * The validator of `schema`, compiled on first use. Throws what the compiler throws for a
 * schema it cannot build (the callers name the event). Where a page's Content-Security-Policy
 * forbids eval, TypeBox checks with its interpreter instead of generated code: same rules, slower.
 */
export function validatorOf (schema: EventSchema): Validator {
  let validator = bySchema.get(schema)
  if (validator === undefined) {
    const problem = uncheckable(schema, '', new Set())
    if (problem !== undefined) throw new TypeError(problem)
    const compiled = Compile(schema as XSchema)
    validator = {
      check: (data) => compiled.Check(data),
      explain: (data) => explain(compiled.Errors(data)[1])
    }
    bySchema.set(schema, validator)
  }
  return validator
}

// The `type` names the engine checks: JSON Schema's, and the JavaScript ones TypeBox 1 adds. It
// lets any other name through unchecked (0.34's Date, Uint8Array, Function…, or a typo): every
// value would pass, so such a schema is refused instead.
const CHECKED_TYPES = new Set(['object', 'array', 'string', 'number', 'integer', 'boolean', 'null',
  'bigint', 'symbol', 'undefined', 'void', 'function', 'constructor'])

// Keywords whose values are data, not schemas (a `type` inside them means nothing), and those
// whose values map names to schemas (a property may be called `type` or `default`).
const DATA_KEYWORDS = new Set(['const', 'enum', 'default', 'examples'])
const SCHEMA_MAPS = new Set(['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas', 'dependencies'])

/** Why the engine could not check `schema` (at `pointer` in the whole), or `undefined`. */
function uncheckable (schema: object, pointer: string, ancestors: Set<object>): string | undefined {
  if (ancestors.has(schema)) return `it contains itself at "${pointer}" (describe recursive data with Type.Cyclic, Type.Recursive or $ref)`
  const type = (schema as { type?: unknown }).type
  for (const name of Array.isArray(type) ? type : [type]) {
    if (typeof name === 'string' && !CHECKED_TYPES.has(name)) {
      return `"type": ${JSON.stringify(name)} at "${pointer}" is not a JSON Schema type, so nothing would be checked ` +
        '(data travels as JSON: a date, for one, is Type.String({ format: \'date-time\' }))'
    }
  }
  ancestors.add(schema)
  try {
    for (const [key, value] of Object.entries(schema)) {
      if (typeof value !== 'object' || value === null || DATA_KEYWORDS.has(key)) continue
      // Sub-schemas sit directly under a keyword (`items`, `not`), in a list (`anyOf`), or by name.
      const children = Array.isArray(value) || SCHEMA_MAPS.has(key) ? Object.entries(value) : [['', value]]
      for (const [name, child] of children) {
        if (typeof child !== 'object' || child === null) continue
        const problem = uncheckable(child, name === '' ? `${pointer}/${key}` : `${pointer}/${key}/${name}`, ancestors)
        if (problem !== undefined) return problem
      }
    }
  } finally {
    ancestors.delete(schema)
  }
  return undefined
}

/** One error as TypeBox 1 reports it (the shape of Ajv's, which Fastify's own messages use). */
interface SchemaError {
  keyword: string
  schemaPath: string
  instancePath: string
  params: Record<string, unknown>
  message: string
}

function explain (errors: readonly SchemaError[]): Failure {
  const first = errors[0]
  if (first === undefined) return { path: '', reason: 'does not match the schema' }
  // Errors come innermost first. One inside an alternative of a union says little (the data may
  // have meant another alternative), so the outermost union around it speaks instead.
  const union = errors.find(error => isUnion(error) && first.schemaPath.startsWith(`${error.schemaPath}/${error.keyword}/`))
  if (union !== undefined) return { path: union.instancePath, reason: unionReason(union, errors) }
  // `additionalProperties: false` reports the extra property as failing the schema `false`.
  if (first.keyword === 'boolean') return { path: first.instancePath, reason: 'is not allowed here' }
  return { path: first.instancePath, reason: first.message }
}

function isUnion (error: SchemaError): boolean {
  return error.keyword === 'anyOf' || error.keyword === 'oneOf'
}

// "must be "on" or "off"", "must be string or null": the alternatives, when each is a plain
// type or constant; otherwise TypeBox's own "must match a schema in anyOf".
function unionReason (union: SchemaError, errors: readonly SchemaError[]): string {
  const prefix = `${union.schemaPath}/${union.keyword}/`
  const expected = new Set<string>()
  for (const error of errors) {
    if (!error.schemaPath.startsWith(prefix)) continue
    const direct = !error.schemaPath.slice(prefix.length).includes('/') && error.instancePath === union.instancePath
    if (direct && error.keyword === 'type') expected.add(String(error.params.type))
    else if (direct && error.keyword === 'const') expected.add(JSON.stringify(error.params.allowedValue))
    else return union.message
  }
  const list = [...expected]
  if (list.length === 0) return union.message
  return `must be ${list.length === 1 ? list[0] : `${list.slice(0, -1).join(', ')} or ${list.at(-1)}`}`
}
