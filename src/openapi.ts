// OpenAPI for SSE routes: a `200` `text/event-stream` response whose schema is a `oneOf` with
// one item per event name, built from the same TypeBox map that types and checks the stream.
// The stream hijacks the reply, so Fastify never serializes with this schema: it is documentation.
// OpenAPI 3.2 describes each event with `itemSchema` instead; Fastify requires `schema` in a
// route's response content, so routes keep the 3.0/3.1 form and `sseTransformObject` moves it
// over in the finished document, where the version is known.
import type { FastifyInstance, RouteOptions } from 'fastify'
import { invalidOption } from './errors.js'
import type { EventMap, EventSchema } from './events.js'
import { HUB_RESET_EVENT, HubResetSchema } from './hub/reset.js'
import { jsonSchemaOf, type JsonSchema } from './json-schema.js'
import { isStringSchema } from './validator.js'

/** What `sseResponseSchema()` returns: a response object for `schema.response[200]`. */
export interface SseResponseSchema {
  description: string
  content: { 'text/event-stream': { schema: JsonSchema } }
}

export interface SseResponseSchemaOptions {
  /**
   * @defaultValue 'A stream of Server-Sent Events; each item of the schema is one event.', or
   * for a topic, a sentence on replay and `reset`
   */
  description?: string | undefined
  /**
   * The hub topic the route streams (`reply.sse(topic.subscribe())`): its handle, its name, or a
   * pattern like `'room:{id}'` for a family of topics named at run time. Adds the hub's `reset`
   * event to the documented events, and links the route to the topic in `fastify.sse.asyncapi()`.
   */
  topic?: string | { readonly name: string } | undefined
}

const DESCRIPTION = 'A stream of Server-Sent Events; each item of the schema is one event.'

// Marks a response made here, so the catalog knows the route streams (and what) without asking
// the route anything else. A symbol: JSON, swagger's copies and Fastify never see it; enumerable,
// so a response spread into a new object (`{ ...sseResponseSchema(events), description }`) keeps it.
const kStream = Symbol.for('fastify-typed-sse.stream')

interface DocumentedStream {
  events: EventMap | undefined
  topic: string | undefined
}

/**
 * The OpenAPI response of a stream of `events`: `text/event-stream` with a `oneOf` of one object
 * per event name, `{ event, data, id?, retry? }`, where `data` is that event's schema. Routes with
 * the `{ sse: { events } }` option get it by themselves when @fastify/swagger is registered; for
 * a route that calls `reply.sse()`, put it in `schema.response[200]` yourself (with `topic` when
 * it streams a hub topic). It also puts the route in `fastify.sse.asyncapi()`.
 *
 * @example
 * app.get('/feed', { schema: { response: { 200: sseResponseSchema(events) } } },
 *   (request, reply) => reply.sse(source, { events }))
 * app.get('/rooms/:id/events', { schema: { response: { 200: sseResponseSchema(events, { topic: 'room:{id}' }) } } },
 *   (request, reply) => reply.sse(app.sse.topic(`room:${request.params.id}`, { events }).subscribe()))
 */
export function sseResponseSchema (events?: EventMap, options: SseResponseSchemaOptions = {}): SseResponseSchema {
  if (events !== undefined && (typeof events !== 'object' || events === null)) {
    throw invalidOption('events (sseResponseSchema)', 'an object of TypeBox schemas by event name', events)
  }
  const topic = typeof options.topic === 'object' && options.topic !== null ? options.topic.name : options.topic
  if (topic !== undefined && (typeof topic !== 'string' || topic === '')) {
    throw invalidOption('topic (sseResponseSchema)', 'a topic, its name or a pattern like "room:{id}"', topic)
  }
  const hub = topic !== undefined
  const items = events === undefined
    ? [untypedItem(hub)]
    : Object.entries(events).filter(([name]) => !hub || name !== HUB_RESET_EVENT).map(([name, schema]) => eventItem(name, schema))
  if (hub) items.push(eventItem(HUB_RESET_EVENT, HubResetSchema, RESET_DESCRIPTION))
  const stream: DocumentedStream = { events, topic }
  return {
    description: options.description ?? (hub ? topicDescription(topic) : DESCRIPTION),
    content: { 'text/event-stream': { schema: { oneOf: items } } },
    [kStream]: stream
  } as SseResponseSchema
}

/** The stream a route's responses document, if one of its 2xx responses is from `sseResponseSchema()`. */
export function streamOfResponse (response: unknown): DocumentedStream | undefined {
  if (typeof response !== 'object' || response === null) return undefined
  for (const status of ['200', '2xx', '2XX']) {
    const documented = (response as Record<string, unknown>)[status]
    if (typeof documented === 'object' && documented !== null && kStream in documented) {
      return (documented as { [kStream]: DocumentedStream })[kStream]
    }
  }
  return undefined
}

const RESET_DESCRIPTION = 'The hub\'s `reset` event: the `Last-Event-ID` the client came back with can no longer be ' +
  'resumed (`expired`: older than the topic keeps; `unknown`: never stored here), so events may be missing. ' +
  'Refetch the state, then carry on with the live events.'

function topicDescription (topic: string): string {
  return `The events of the hub topic \`${topic}\` as Server-Sent Events; each item of the schema is one event. ` +
    'A client that reconnects with `Last-Event-ID` first gets every event it missed, or a `reset` event when ' +
    'they are no longer kept; then the live events.'
}

/**
 * Called for each `{ sse }` route: documents it, when @fastify/swagger is registered and the route
 * does not describe its own `200`. Without swagger the route is left exactly as declared.
 */
export function documentSseRoute (instance: FastifyInstance, route: RouteOptions, events: EventMap | undefined): void {
  if (!instance.hasPlugin('@fastify/swagger')) return
  const schema = route.schema ?? {}
  const response = (schema.response ?? {}) as Record<string, unknown>
  if (Object.hasOwn(response, '200') || Object.hasOwn(response, '2xx') || Object.hasOwn(response, '2XX')) return
  // A new object: the route's schema may be shared with other routes.
  route.schema = { ...schema, response: { ...response, 200: sseResponseSchema(events) } }
  // Fastify would compile a serializer from it, which is never used (the stream takes the reply
  // over) and which fast-json-stringify refuses for schemas TypeBox allows (Type.BigInt(),
  // Type.Undefined()), failing app.ready() only because swagger is there. When it is the route's only
  // response schema, nothing else needs the compiler; otherwise Fastify's compiles them all.
  if (Object.keys(response).length === 0 && route.serializerCompiler === undefined) {
    route.serializerCompiler = () => JSON.stringify
  }
}

function eventItem (name: string, schema: EventSchema, description?: string): JsonSchema {
  const unnamed = name === 'message'
  const encoding = isStringSchema(schema) ? 'the raw text' : 'JSON'
  return {
    type: 'object',
    title: name,
    description: description ?? (unnamed
      ? `An unnamed event (\`EventSource.onmessage\`); \`data\` is ${encoding}.`
      : `The event "${name}" (\`addEventListener('${name}', …)\`); \`data\` is ${encoding}.`),
    properties: {
      event: { type: 'string', const: name },
      data: jsonSchemaOf(schema),
      ...frameFields()
    },
    required: unnamed ? ['data'] : ['event', 'data']
  }
}

function untypedItem (hub: boolean): JsonSchema {
  return {
    type: 'object',
    title: 'event',
    description: 'An event; `data` is JSON, or the raw text for a string.',
    // On a topic, `reset` is the hub's own event, documented by an item of its own.
    properties: { event: hub ? { type: 'string', not: { const: HUB_RESET_EVENT } } : { type: 'string' }, data: {}, ...frameFields() },
    required: ['data']
  }
}

function frameFields (): JsonSchema {
  return {
    id: { type: 'string', description: 'Sent back as `Last-Event-ID` when the client reconnects.' },
    retry: { type: 'integer', minimum: 0, description: 'Reconnection delay in milliseconds.' }
  }
}

/** What @fastify/swagger hands its `transformObject` option. */
export type SwaggerDocumentObject = { openapiObject: object } | { swaggerObject: object }

/**
 * For @fastify/swagger's `transformObject` option: makes the stream responses of an OpenAPI 3.2
 * document say what 3.2 means. There, a `text/event-stream` `schema` is the whole stream (an array
 * of events) and `itemSchema` is one event, whose fields are text after parsing: so each such
 * `schema` that describes one event moves to `itemSchema`, and a JSON `data` becomes a string
 * with `contentMediaType: application/json` and its schema as `contentSchema`. Documents of
 * other versions (3.0, 3.1, Swagger 2.0) come back unchanged, so it can always be set.
 *
 * @example
 * await app.register(swagger, { openapi: { openapi: '3.2.0', info }, transformObject: sseTransformObject })
 */
export function sseTransformObject (input: SwaggerDocumentObject): object {
  if (!('openapiObject' in input)) return input.swaggerObject
  const document = input.openapiObject as JsonSchema
  const minor = /^3\.(\d+)\./.exec(String(document.openapi))?.[1]
  if (minor === undefined || Number(minor) < 2) return document
  const paths = document.paths as Record<string, unknown> | undefined
  for (const item of Object.values(paths ?? {})) toItemSchemas(item)
  for (const item of Object.values(asObject(document.webhooks) ?? {})) toItemSchemas(item)
  const components = asObject(document.components)
  for (const item of Object.values(asObject(components?.pathItems) ?? {})) toItemSchemas(item)
  for (const response of Object.values(asObject(components?.responses) ?? {})) streamContent(response)
  return document
}

const OPERATIONS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace', 'query']

// One Path Item: its operations (and 3.2's `additionalOperations`), their responses, request
// bodies and callbacks (which hold Path Items of their own).
function toItemSchemas (pathItem: unknown): void {
  const item = asObject(pathItem)
  if (item === undefined) return
  const operations = [...OPERATIONS.map(method => item[method]), ...Object.values(asObject(item.additionalOperations) ?? {})]
  for (const operation of operations.map(asObject)) {
    if (operation === undefined) continue
    for (const response of Object.values(asObject(operation.responses) ?? {})) streamContent(response)
    streamContent(operation.requestBody)
    for (const callback of Object.values(asObject(operation.callbacks) ?? {})) {
      for (const callbackItem of Object.values(asObject(callback) ?? {})) toItemSchemas(callbackItem)
    }
  }
}

function streamContent (holder: unknown): void {
  const content = asObject(asObject(holder)?.content)
  const media = asObject(content?.['text/event-stream'])
  if (content === undefined || media === undefined) return
  const schema = asObject(media.schema)
  // An array `schema` already describes the whole stream; with an `itemSchema`, it was written for 3.2.
  if (schema === undefined || schema.type === 'array' || media.itemSchema !== undefined) return
  const { schema: _, ...rest } = media
  content['text/event-stream'] = { ...rest, itemSchema: eventsAsText(schema) }
}

function eventsAsText (schema: JsonSchema): JsonSchema {
  for (const keyword of ['oneOf', 'anyOf']) {
    const items = schema[keyword]
    if (Array.isArray(items)) return { ...schema, [keyword]: items.map(item => eventAsText(asObject(item) ?? {})) }
  }
  return eventAsText(schema)
}

// "Field value types MUST be handled as specified by the text/event-stream specification …
// fields not given an explicit value type MUST be handled as strings", and JSON in `data` is
// described with `contentMediaType` and `contentSchema` (OpenAPI 3.2, Special Considerations
// for Server-Sent Events).
function eventAsText (event: JsonSchema): JsonSchema {
  const properties = asObject(event.properties)
  const data = asObject(properties?.data)
  if (properties === undefined || data === undefined || data.type === 'string') return event
  // No schema (an untyped stream): the text is JSON, or the raw text of a string.
  const text = Object.keys(data).length === 0
    ? { type: 'string' }
    : { type: 'string', contentMediaType: 'application/json', contentSchema: data }
  return { ...event, properties: { ...properties, data: text } }
}

function asObject (value: unknown): JsonSchema | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as JsonSchema : undefined
}
