// OpenAPI for SSE routes: a `200` `text/event-stream` response whose schema is a `oneOf` with
// one item per event name, built from the same TypeBox map that types and checks the stream.
// The stream hijacks the reply, so Fastify never serializes with this schema: it is documentation.
import type { TSchema } from '@sinclair/typebox'
import type { FastifyInstance, RouteOptions } from 'fastify'
import type { EventMap } from './events.js'
import { jsonSchemaOf, type JsonSchema } from './json-schema.js'
import { isStringSchema } from './validator.js'

/** What `sseResponseSchema()` returns: a response object for `schema.response[200]`. */
export interface SseResponseSchema {
  description: string
  content: { 'text/event-stream': { schema: JsonSchema } }
}

export interface SseResponseSchemaOptions {
  /** @defaultValue 'A stream of Server-Sent Events; each item of the schema is one event.' */
  description?: string | undefined
}

const DESCRIPTION = 'A stream of Server-Sent Events; each item of the schema is one event.'

/**
 * The OpenAPI response of a stream of `events`: `text/event-stream` with a `oneOf` of one object
 * per event name, `{ event, data, id?, retry? }`, where `data` is that event's schema. Routes with
 * the `{ sse: { events } }` option get it by themselves when @fastify/swagger is registered; for
 * a route that calls `reply.sse()`, put it in `schema.response[200]` yourself.
 *
 * @example
 * app.get('/feed', { schema: { response: { 200: sseResponseSchema(events) } } },
 *   (request, reply) => reply.sse(source, { events }))
 */
export function sseResponseSchema (events?: EventMap, options: SseResponseSchemaOptions = {}): SseResponseSchema {
  const items = events === undefined ? [untypedItem()] : Object.entries(events).map(([name, schema]) => eventItem(name, schema))
  return {
    description: options.description ?? DESCRIPTION,
    content: { 'text/event-stream': { schema: { oneOf: items } } }
  }
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
  // over) and which fast-json-stringify refuses for schemas TypeBox allows (Type.Date(),
  // Type.BigInt()), failing app.ready() only because swagger is there. When it is the route's only
  // response schema, nothing else needs the compiler; otherwise Fastify's compiles them all.
  if (Object.keys(response).length === 0 && route.serializerCompiler === undefined) {
    route.serializerCompiler = () => JSON.stringify
  }
}

function eventItem (name: string, schema: TSchema): JsonSchema {
  const unnamed = name === 'message'
  const encoding = isStringSchema(schema) ? 'the raw text' : 'JSON'
  return {
    type: 'object',
    title: name,
    description: unnamed
      ? `An unnamed event (\`EventSource.onmessage\`); \`data\` is ${encoding}.`
      : `The event "${name}" (\`addEventListener('${name}', …)\`); \`data\` is ${encoding}.`,
    properties: {
      event: { type: 'string', const: name },
      data: jsonSchemaOf(schema),
      ...frameFields()
    },
    required: unnamed ? ['data'] : ['event', 'data']
  }
}

function untypedItem (): JsonSchema {
  return {
    type: 'object',
    title: 'event',
    description: 'An event; `data` is JSON, or the raw text for a string.',
    properties: { event: { type: 'string' }, data: {}, ...frameFields() },
    required: ['data']
  }
}

function frameFields (): JsonSchema {
  return {
    id: { type: 'string', description: 'Sent back as `Last-Event-ID` when the client reconnects.' },
    retry: { type: 'integer', minimum: 0, description: 'Reconnection delay in milliseconds.' }
  }
}
