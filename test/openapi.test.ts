// OpenAPI: with @fastify/swagger registered, an SSE route is documented as a text/event-stream
// response with one schema per event name, from the same TypeBox map; streaming is unchanged,
// and without swagger the route is left exactly as declared.
import t, { type Test } from 'tap'
import swagger from '@fastify/swagger'
import { Validator } from '@seriousme/openapi-schema-validator'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance, RouteOptions } from 'fastify'
import { HubResetSchema, sseResponseSchema, sseTransformObject } from '../src/index.js'
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

t.test('schemas fast-json-stringify refuses (Type.BigInt(), Type.Undefined()) do not fail app.ready() with swagger', async t => {
  const exotic = { big: Type.BigInt(), nothing: Type.Undefined(), tick: events.tick }
  const { app } = await startApp(t, app => {
    app.get('/exotic', { sse: { events: exotic } }, async function * () {
      yield { event: 'tick', data: { n: 3, at: 'x'.repeat(20) } }
    })
  }, { before: app => app.register(swagger, openapi) })
  const items = pathsOf(app)['/exotic']?.get?.responses['200'].content['text/event-stream'].schema.oneOf
  t.same(items.map((item: { title: string }) => item.title), ['big', 'nothing', 'tick'])
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

t.test('sseResponseSchema() documents a Type.Date() as the ISO string it would travel as; the stream itself refuses the map at its first call, saying what to use', async t => {
  const dated = { at: Type.Date(), tick: events.tick }
  const { app, logs } = await startApp(t, app => {
    app.get('/dated', { schema: { response: { 200: sseResponseSchema(dated) } } },
      (_request, reply) => reply.sse([{ event: 'at', data: new Date('2026-01-02T03:04:05.000Z') }], { events: dated }))
  }, { before: app => app.register(swagger, openapi) })
  const items = pathsOf(app)['/dated']?.get?.responses['200'].content['text/event-stream'].schema.oneOf
  t.same(items[0]?.properties.data, { type: 'string', format: 'date-time' })
  const response = await fetch(`${await appUrl(app)}/dated`)
  t.equal(response.status, 500, 'a normal HTTP error: nothing was streamed')
  await response.text()
  t.match(logs.find(line => line.level === 50), { err: { code: 'FST_SSE_INVALID_OPTION', message: /option "events\.at \(reply\.sse\(\) in route GET \/dated\)".*format: 'date-time'/ } })
})

// Checks a document against the OpenAPI Initiative's JSON schema of its version (2.0 to 3.2).
async function validate (t: Test, document: unknown, version: string): Promise<void> {
  const validator = new Validator()
  const result = await validator.validate(JSON.parse(JSON.stringify(document)))
  t.same(result.errors, undefined, `no errors against the OpenAPI ${version} schema`)
  t.equal(result.valid, true, `valid OpenAPI ${version}`)
  t.equal(validator.version, version)
}

t.test('a hub route documented with sseResponseSchema(events, { topic }) lists the hub\'s reset event, which the stream does send', async t => {
  const news = { headline: Type.Object({ title: Type.String() }) }
  const { app } = await startApp(t, app => {
    const topic = app.sse.topic('news', { events: news })
    app.get('/news', { schema: { response: { 200: sseResponseSchema(news, { topic }) } } }, (_request, reply) => reply.sse(topic.subscribe()))
    app.get('/rooms/:id', { schema: { response: { 200: sseResponseSchema(undefined, { topic: 'room:{id}' }) } } },
      (request, reply) => reply.sse(app.sse.topic(`room:${(request.params as { id: string }).id}`).subscribe()))
    app.post('/news', async () => ({ id: await topic.publish({ event: 'headline', data: { title: 'first' } }) }))
  }, { before: app => app.register(swagger, openapi) })
  const response = pathsOf(app)['/news']?.get?.responses['200']
  t.match(response.description, /hub topic `news`.*`Last-Event-ID`.*`reset`/)
  const items: Array<Record<string, any>> = response.content['text/event-stream'].schema.oneOf
  t.same(items.map(item => item.title), ['headline', 'reset'])
  const reset = items[1]
  t.same(reset?.properties.event, { type: 'string', enum: ['reset'] })
  // swagger writes `const` as a one-value enum for OpenAPI 3.0
  t.same(reset?.properties.data, {
    type: 'object',
    properties: {
      reason: { anyOf: [{ type: 'string', enum: ['expired'] }, { type: 'string', enum: ['unknown'] }] },
      lastEventId: { type: 'string' },
      topic: { type: 'string' }
    },
    required: ['reason', 'lastEventId']
  }, 'data is HubResetSchema (with `topic`, set on streams of several topics)')
  t.match(reset?.description, /can no longer be resumed/)
  const untyped: Array<Record<string, any>> = pathsOf(app)['/rooms/{id}']?.get?.responses['200'].content['text/event-stream'].schema.oneOf
  t.same(untyped.map(item => item.title), ['event', 'reset'])
  t.same(untyped[0]?.properties.event, { type: 'string', not: { enum: ['reset'] } }, 'the untyped item leaves reset to its own item (oneOf)')
  await validate(t, app.swagger(), '3.0')

  // What the document promises is what a client that comes back with a stale id gets.
  await fetch(`${await appUrl(app)}/news`, { method: 'POST' })
  const { events: [first] } = await collectEvents(app, '/news', { events: { ...news, reset: HubResetSchema }, lastEventId: '1-0', count: 1 })
  t.equal(first?.event, 'reset')
  t.same(Object.keys(first?.data ?? {}).sort(), [...reset?.properties.data.required].sort())
})

t.test('with OpenAPI 3.2 and sseTransformObject, each event is an itemSchema; JSON data is a string with contentSchema', async t => {
  const { app } = await startApp(t, routes, {
    before: app => app.register(swagger, { openapi: { openapi: '3.2.0', info: { title: 'feeds', version: '1.0.0' } }, transformObject: sseTransformObject })
  })
  const paths = pathsOf(app)
  const media = paths['/ticks']?.get?.responses['200'].content['text/event-stream']
  t.same(Object.keys(media), ['itemSchema'], 'no `schema`: in 3.2 it would mean the whole stream')
  const items: Array<Record<string, any>> = media.itemSchema.oneOf
  t.same(items.map(item => item.title), ['message', 'tick', 'progress'])
  t.same(items[0]?.properties.data, { type: 'string' }, 'a string schema is the raw text: kept as it is')
  t.same(items[1]?.properties.data, { type: 'string', contentMediaType: 'application/json', contentSchema: json(events.tick) })
  t.same(items[2]?.properties.data.contentSchema.description, 'How far the job is')
  t.same(items[1]?.properties.event, { type: 'string', enum: ['tick'] })
  t.same(items[1]?.properties.retry, { type: 'integer', minimum: 0, description: 'Reconnection delay in milliseconds.' })
  const untyped = paths['/untyped']?.get?.responses['200'].content['text/event-stream']
  t.same(untyped.itemSchema.oneOf[0].properties.data, { type: 'string' }, 'untyped data is text: JSON or a raw string')
  t.same(Object.keys(paths['/manual']?.get?.responses['200'].content['text/event-stream']), ['itemSchema'], 'reply.sse() routes too')
  t.same(Object.keys(paths['/own']?.get?.responses['200'].content), ['application/json'], 'other media types are left alone')
  await validate(t, app.swagger(), '3.2')
  t.match(app.swagger({ yaml: true }), /text\/event-stream:\n\s+itemSchema:/, 'the YAML document too')
})

t.test('OpenAPI 3.0 and 3.1 documents keep `schema` with sseTransformObject set, and Swagger 2.0 is left as it is', async t => {
  for (const version of ['3.0.3', '3.1.1']) {
    const { app } = await startApp(t, routes, {
      before: app => app.register(swagger, { openapi: { openapi: version, info: { title: 'feeds', version: '1.0.0' } }, transformObject: sseTransformObject })
    })
    const media = pathsOf(app)['/ticks']?.get?.responses['200'].content['text/event-stream']
    t.same(Object.keys(media), ['schema'], version)
    t.same(media.schema.oneOf.map((item: { title: string }) => item.title), ['message', 'tick', 'progress'])
    t.same(media.schema.oneOf[1].properties.data, json(events.tick), `${version}: data is the event's schema`)
    await validate(t, app.swagger(), version.slice(0, 3))
  }
  const { app } = await startApp(t, async app => {
    app.get('/ticks', { sse: { events } }, async function * () { yield { data: 'x' } })
  }, { before: app => app.register(swagger, { swagger: { info: { title: 'feeds', version: '1.0.0' } }, transformObject: sseTransformObject }) })
  const document = app.swagger() as unknown as { swagger: string, paths: Paths }
  t.equal(document.swagger, '2.0')
  t.ok(document.paths['/ticks']?.get, 'documented as swagger does')
})

t.test('in OpenAPI 3.2, a stream described as a whole (an array schema) or already with an itemSchema is left as written', async t => {
  const item = Type.Object({ event: Type.String(), data: Type.String() })
  const { app } = await startApp(t, app => {
    app.get('/whole', { schema: { response: { 200: { description: 'all', content: { 'text/event-stream': { schema: Type.Array(item) } } } } } },
      (_request, reply) => reply.sse([{ data: 'x' }]))
    app.get('/both', { schema: { response: { 200: { description: 'both', content: { 'text/event-stream': { schema: Type.Array(item), itemSchema: item } } } } } },
      (_request, reply) => reply.sse([{ data: 'x' }]))
  }, { before: app => app.register(swagger, { openapi: { openapi: '3.2.0', info: { title: 'feeds', version: '1.0.0' } }, transformObject: sseTransformObject }) })
  const paths = pathsOf(app)
  t.same(paths['/whole']?.get?.responses['200'].content['text/event-stream'], { schema: json(Type.Array(item)) })
  t.same(paths['/both']?.get?.responses['200'].content['text/event-stream'], { schema: json(Type.Array(item)), itemSchema: json(item) })
  await validate(t, app.swagger(), '3.2')
})

t.test('sseTransformObject reaches every stream of a 3.2 document: webhooks, callbacks, other methods, request bodies, components', async t => {
  const stream = () => ({ 'text/event-stream': { schema: sseResponseSchema(events).content['text/event-stream'].schema } })
  const operation = () => ({
    requestBody: { content: stream() },
    responses: { 200: { description: 'events', content: stream() } },
    callbacks: { onDone: { '{$request.query.url}': { post: { responses: { 200: { description: 'events', content: stream() } } } } } }
  })
  const document = json({
    openapi: '3.2.0',
    info: { title: 'feeds', version: '1.0.0' },
    paths: { '/a': { get: operation(), additionalOperations: { LINK: operation() } } },
    webhooks: { tick: { post: operation() } },
    components: { responses: { Stream: { description: 'events', content: stream() } }, pathItems: { Feed: { get: operation() } } }
  }) as Record<string, any>
  const result = sseTransformObject({ openapiObject: document }) as Record<string, any>
  const medias = [
    result.paths['/a'].get.requestBody.content,
    result.paths['/a'].get.responses['200'].content,
    result.paths['/a'].get.callbacks.onDone['{$request.query.url}'].post.responses['200'].content,
    result.paths['/a'].additionalOperations.LINK.responses['200'].content,
    result.webhooks.tick.post.responses['200'].content,
    result.components.responses.Stream.content,
    result.components.pathItems.Feed.get.responses['200'].content
  ]
  for (const media of medias) t.same(Object.keys(media['text/event-stream']), ['itemSchema'])
  t.equal(medias[0]?.['text/event-stream'].itemSchema.oneOf[1].properties.data.contentMediaType, 'application/json')
  await validate(t, result, '3.2')
})

t.test('sseResponseSchema() refuses what is neither an event map nor a topic, naming the option, when the route is declared', async t => {
  t.throws(() => sseResponseSchema('tick' as never), { code: 'FST_SSE_INVALID_OPTION', message: 'fastify-typed-sse: option "events (sseResponseSchema)" must be an object of TypeBox schemas by event name, got "tick"' })
  t.throws(() => sseResponseSchema(events, { topic: 42 as never }), { code: 'FST_SSE_INVALID_OPTION', message: /option "topic \(sseResponseSchema\)" must be a topic, its name or a pattern like "room:\{id\}", got 42/ })
  t.throws(() => sseResponseSchema(events, { topic: '' }), { code: 'FST_SSE_INVALID_OPTION', message: /"topic \(sseResponseSchema\)"/ })
  t.throws(() => sseResponseSchema(events, { topic: { name: '' } }), { code: 'FST_SSE_INVALID_OPTION', message: /"topic \(sseResponseSchema\)"/ })
})
