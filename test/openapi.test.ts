// OpenAPI: with @fastify/swagger registered, an SSE route is documented as a text/event-stream
// response with one schema per event name, from the same TypeBox map; streaming is unchanged,
// and without swagger the route is left exactly as declared.
import t from 'tap'
import swagger from '@fastify/swagger'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance, RouteOptions } from 'fastify'
import { sseResponseSchema } from '../src/index.js'
import { appUrl, collectEvents } from '../src/testing/index.js'
import { startApp } from './helpers/server.js'

const events = {
  message: Type.String(),
  tick: Type.Object({ n: Type.Integer({ minimum: 0 }), at: Type.String({ minLength: 20 }) }),
  progress: Type.Object({ percent: Type.Number({ minimum: 0, maximum: 100 }) }, { description: 'How far the job is' })
}

const openapi = { openapi: { info: { title: 'feeds', version: '1.0.0' } } }

// The document's paths, loosely typed: the test reads what swagger wrote.
type Paths = Record<string, Record<string, { summary?: string, responses: Record<string, any> }>>
const pathsOf = (app: FastifyInstance): Paths => (app.swagger() as unknown as { paths: Paths }).paths

// The JSON a schema reads as in a document: TypeBox's symbol keys dropped.
const json = (schema: unknown): unknown => JSON.parse(JSON.stringify(schema))

async function routes (app: FastifyInstance) {
  app.get('/ticks', { sse: { events }, schema: { summary: 'A clock', tags: ['feeds'] } }, async function * () {
    yield { event: 'tick', id: 1, data: { n: 1, at: '2026-01-01T00:00:00Z' } }
    yield { event: 'progress', data: { percent: 50 } }
    yield { data: 'plain text' }
  })
  app.get('/untyped', { sse: true }, async function * () {
    yield { data: { any: 'thing' } }
  })
  app.get('/manual', { schema: { response: { 200: sseResponseSchema(events, { description: 'The same feed, by reply.sse()' }) } } },
    (_request, reply) => reply.sse([{ event: 'tick', data: { n: 2, at: '2026-01-01T00:00:01Z' } }], { events }))
  app.get('/own', { sse: { events }, schema: { response: { 200: { description: 'Documented by hand', type: 'string' } } } }, async function * () {
    yield { data: 'x' }
  })
  app.get('/json', { schema: { response: { 200: Type.Object({ ok: Type.Boolean() }) } } }, async () => ({ ok: true }))
}

t.test('an { sse } route is documented as text/event-stream with one item per event name', async t => {
  const { app } = await startApp(t, routes, { before: app => app.register(swagger, openapi) })
  const operation = pathsOf(app)['/ticks']?.get
  t.equal(operation?.summary, 'A clock', 'the route\'s own schema is kept')
  const response = operation?.responses['200']
  t.same(Object.keys(response.content), ['text/event-stream'])
  const items: Array<Record<string, any>> = response.content['text/event-stream'].schema.oneOf
  t.same(items.map(item => item.title), ['message', 'tick', 'progress'], 'one item per event name, in map order')
  for (const item of items) {
    const name = item.title as keyof typeof events
    // swagger writes `const` as a one-value enum for OpenAPI 3.0
    t.same(item.properties.event, { type: 'string', enum: [name] }, `${name}: the event name`)
    t.same(item.properties.data, json(events[name]), `${name}: data is the map's schema`)
    t.same(item.required, name === 'message' ? ['data'] : ['event', 'data'])
    t.same(item.properties.id, { type: 'string', description: 'Sent back as `Last-Event-ID` when the client reconnects.' })
  }
  t.match(items[0]?.description, /unnamed event.*`data` is the raw text/)
  t.match(items[1]?.description, /"tick".*`data` is JSON/)
  t.equal(items[2]?.properties.data.description, 'How far the job is')
})

t.test('swagger registered after the plugin documents the routes just the same', async t => {
  const { app } = await startApp(t, async app => {
    await app.register(swagger, openapi)
    await routes(app)
  })
  const schema = pathsOf(app)['/ticks']?.get?.responses['200'].content['text/event-stream'].schema
  t.same(schema.oneOf.map((item: { title: string }) => item.title), ['message', 'tick', 'progress'])
})

t.test('untyped routes, reply.sse() routes with sseResponseSchema(), and hand-written responses', async t => {
  const { app } = await startApp(t, routes, { before: app => app.register(swagger, openapi) })
  const paths = pathsOf(app)
  const untyped = paths['/untyped']?.get?.responses['200'].content['text/event-stream'].schema.oneOf
  t.match(untyped, [{ type: 'object', properties: { event: { type: 'string' }, data: {} }, required: ['data'] }])
  const manual = paths['/manual']?.get?.responses['200']
  t.equal(manual.description, 'The same feed, by reply.sse()')
  t.same(manual.content['text/event-stream'].schema.oneOf.map((item: { title: string }) => item.title), ['message', 'tick', 'progress'])
  const own = paths['/own']?.get?.responses['200']
  t.equal(own.description, 'Documented by hand', 'a route that documents its own 200 keeps it')
  t.same(Object.keys(own.content), ['application/json'])
  t.match(paths['/json']?.get?.responses['200'].content['application/json'].schema, { type: 'object', properties: { ok: { type: 'boolean' } } })
})

t.test('the documented routes still stream, typed, past the response schema', async t => {
  const { app } = await startApp(t, routes, { before: app => app.register(swagger, openapi) })
  const ticks = await collectEvents(app, '/ticks', { events })
  t.same(ticks.events, [
    { event: 'tick', data: { n: 1, at: '2026-01-01T00:00:00Z' }, id: '1' },
    { event: 'progress', data: { percent: 50 }, id: undefined },
    { event: 'message', data: 'plain text', id: undefined }
  ])
  const manual = await collectEvents(app, '/manual', { events })
  t.same(manual.events, [{ event: 'tick', data: { n: 2, at: '2026-01-01T00:00:01Z' }, id: undefined }])
  const untyped = await collectEvents(app, '/untyped')
  t.same(untyped.events, [{ event: 'message', data: { any: 'thing' }, id: undefined }])
  const response = await fetch(`${await appUrl(app)}/json`)
  t.same(await response.json(), { ok: true }, 'other routes serialize as before')
})

t.test('without @fastify/swagger, an { sse } route keeps the schema it was declared with', async t => {
  const seen: Array<RouteOptions['schema']> = []
  const declared = { summary: 'kept as is' }
  const { app } = await startApp(t, app => {
    // Added after the plugin's hook, so it sees the route as the plugin left it.
    app.addHook('onRoute', route => { if (route.method === 'GET') seen.push(route.schema) })
    app.get('/bare', { sse: { events } }, async function * () { yield { data: 'x' } })
    app.get('/summary', { sse: { events }, schema: declared }, async function * () { yield { data: 'y' } })
  })
  t.equal(seen.length, 2)
  t.equal(seen[0], undefined, 'no schema added')
  t.equal(seen[1], declared, 'the same schema object')
  t.same(Object.keys(declared), ['summary'], 'with no response added')
  t.same((await collectEvents(app, '/bare', { events })).events, [{ event: 'message', data: 'x', id: undefined }])
})

t.test('schemas fast-json-stringify refuses (Type.Date(), Type.BigInt()) do not fail app.ready() with swagger', async t => {
  const exotic = { at: Type.Date(), big: Type.BigInt(), tick: events.tick }
  const { app } = await startApp(t, app => {
    app.get('/exotic', { sse: { events: exotic } }, async function * () {
      yield { event: 'tick', data: { n: 3, at: 'x'.repeat(20) } }
    })
  }, { before: app => app.register(swagger, openapi) })
  const items = pathsOf(app)['/exotic']?.get?.responses['200'].content['text/event-stream'].schema.oneOf
  t.same(items.map((item: { title: string }) => item.title), ['at', 'big', 'tick'])
  t.same((await collectEvents(app, '/exotic', { events: { tick: events.tick } })).events, [{ event: 'tick', data: { n: 3, at: 'x'.repeat(20) }, id: undefined }])
})

t.test('a route\'s own error responses are still serialized by their schemas', async t => {
  const { app } = await startApp(t, app => {
    app.get('/guarded', {
      sse: { events },
      schema: { response: { 403: Type.Object({ message: Type.String() }) } }
    }, async function * () {
      // Thrown before the first event: Fastify answers with a normal HTTP error.
      throw Object.assign(new Error('not yours'), { statusCode: 403 })
    })
  }, { before: app => app.register(swagger, openapi) })
  const responses = pathsOf(app)['/guarded']?.get?.responses
  t.same(Object.keys(responses ?? {}).sort(), ['200', '403'])
  const response = await fetch(`${await appUrl(app)}/guarded`)
  t.equal(response.status, 403)
  t.same(await response.json(), { message: 'not yours' }, 'only what the 403 schema holds: fast-json-stringify compiled it')
})

t.test('the event map itself is not changed by documenting it', async t => {
  const before = json(events)
  const { app } = await startApp(t, routes, { before: app => app.register(swagger, openapi) })
  app.swagger()
  t.same(json(events), before)
  t.equal(Object.getOwnPropertySymbols(events.tick).length > 0, true, 'still a TypeBox schema')
})

t.test('the progress example documents its job stream: one schema per event, from its map', async t => {
  const { buildProgress } = await import('../examples/progress/server.js')
  const app = await buildProgress({ logger: false })
  t.teardown(() => app.close())
  const response = await app.inject('/openapi.json')
  t.equal(response.statusCode, 200)
  const document = response.json()
  t.equal(document.openapi.startsWith('3.'), true)
  const operation = document.paths['/jobs/{id}/events'].get
  t.same(Object.keys(operation.responses['200'].content), ['text/event-stream'])
  const items: Array<Record<string, any>> = operation.responses['200'].content['text/event-stream'].schema.oneOf
  t.same(items.map(item => item.title), ['progress', 'end'])
  t.same(items[0]?.properties.data, {
    type: 'object',
    properties: { percent: { type: 'integer', minimum: 0, maximum: 100 }, step: { type: 'string' } },
    required: ['percent', 'step']
  })
  t.same(items[1]?.properties.data, {
    type: 'object',
    properties: { steps: { type: 'integer', minimum: 0 }, elapsedMs: { type: 'integer', minimum: 0 } },
    required: ['steps', 'elapsedMs']
  })
  t.same(items.map(item => item.properties.event), [{ type: 'string', enum: ['progress'] }, { type: 'string', enum: ['end'] }])
  t.notOk(document.paths['/openapi.json'], 'the document route itself is hidden')
})

t.test('a reply.sse() route documented with sseResponseSchema() starts with Type.Date() in its map, documented as the ISO string it is sent as', async t => {
  const dated = { at: Type.Date(), tick: events.tick }
  const { app } = await startApp(t, app => {
    app.get('/dated', { schema: { response: { 200: sseResponseSchema(dated) } } },
      (_request, reply) => reply.sse([{ event: 'at', data: new Date('2026-01-02T03:04:05.000Z') }], { events: dated }))
  }, { before: app => app.register(swagger, openapi) })
  const items = pathsOf(app)['/dated']?.get?.responses['200'].content['text/event-stream'].schema.oneOf
  t.same(items[0]?.properties.data, { type: 'string', format: 'date-time' })
  const response = await fetch(`${await appUrl(app)}/dated`)
  t.equal(await response.text(), 'event: at\ndata: "2026-01-02T03:04:05.000Z"\n\n', 'JSON.stringify writes a Date as its ISO string')
})
