// Compiled by `npm run typecheck`, never run: the documents' helpers fit @fastify/swagger's
// options as its own types declare them, and `fastify.sse.asyncapi()` asks for what it needs.
import Fastify from 'fastify'
import swagger from '@fastify/swagger'
import { Type } from '@sinclair/typebox'
import ssePlugin, { sseResponseSchema, sseTransformObject, type AsyncApiDocument } from '../../src/index.js'
import type { Equal, Expect } from './helpers.js'

const app = Fastify()
const info = { title: 'feeds', version: '1.0.0' }
// Set as is, or inside a transform of the user's own.
await app.register(swagger, { openapi: { openapi: '3.2.0', info }, transformObject: sseTransformObject })
await app.register(swagger, { openapi: { openapi: '3.2.0', info }, transformObject: document => sseTransformObject(document) })
await app.register(ssePlugin)

const events = { tick: Type.Object({ n: Type.Integer() }) }
const room = app.sse.topic('room:1', { events })
sseResponseSchema(events, { topic: room })
sseResponseSchema(events, { topic: 'room:{id}', description: 'A room' })
// @ts-expect-error a topic is named by a string or a handle
sseResponseSchema(events, { topic: 1 })

export type Document = Expect<Equal<ReturnType<typeof app.sse.asyncapi>, AsyncApiDocument>>
app.sse.asyncapi({ info, servers: { local: { host: 'localhost:3000', protocol: 'http' } }, id: 'urn:example:feeds' })
// @ts-expect-error the Info Object needs a version
app.sse.asyncapi({ info: { title: 'feeds' } })
// @ts-expect-error info is required
app.sse.asyncapi({})
