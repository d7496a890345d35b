// AsyncAPI: `fastify.sse.asyncapi()` describes every SSE route and hub topic of an app as an
// AsyncAPI 3.0 document, which the official parser (@asyncapi/parser) reads with no error and
// no warning, and which a client can follow to the streams it lists.
import t, { type Test } from 'tap'
import { Parser, type AsyncAPIDocumentInterface, type ChannelInterface, type Diagnostic } from '@asyncapi/parser'
import { Type } from '@sinclair/typebox'
import Fastify, { type FastifyInstance } from 'fastify'
import ssePlugin, { HubResetSchema, sseResponseSchema, type AsyncApiDocument, type AsyncApiOptions } from '../src/index.js'
import { collectEvents } from '../src/testing/index.js'
import { startApp } from './helpers/server.js'

const jobEvents = {
  progress: Type.Object({ percent: Type.Integer({ minimum: 0, maximum: 100 }), step: Type.String() }),
  // A string schema: sent as the raw text.
  log: Type.String({ description: 'A line of the job\'s log' }),
  end: Type.Union([
    Type.Object({ ok: Type.Literal(true), elapsedMs: Type.Integer({ minimum: 0 }) }),
    Type.Object({ ok: Type.Literal(false), error: Type.String() })
  ])
}
const chatEvents = {
  message: Type.Object({ from: Type.String(), text: Type.String() }),
  joined: Type.Object({ who: Type.String() })
}
const alertEvents = { alert: Type.Object({ level: Type.Union([Type.Literal('info'), Type.Literal('warn')]), text: Type.String() }) }

const options: AsyncApiOptions = {
  id: 'urn:example:jobs',
  info: {
    title: 'jobs and chat',
    version: '1.2.0',
    description: 'Job progress, a chat lobby and rooms, as Server-Sent Events.',
    contact: { name: 'Ops', url: 'https://example.com', email: 'ops@example.com' },
    license: { name: 'MIT', url: 'https://opensource.org/licenses/MIT' }
  },
  servers: { local: { host: 'localhost:3000', protocol: 'http', description: 'A developer\'s machine' } }
}

// The JSON a schema reads as in a document: TypeBox's symbol keys dropped.
const json = (schema: unknown): unknown => JSON.parse(JSON.stringify(schema))
// What the document said: without the `x-parser-…` keys the parser adds to what it read.
const said = (value: unknown): unknown => JSON.parse(JSON.stringify(value, (key, inner) => key.startsWith('x-parser-') ? undefined : inner))

async function realisticApp (app: FastifyInstance) {
  const lobby = app.sse.topic('chat:lobby', { events: chatEvents })
  // Published to, streamed by no route of this app (another service may).
  app.sse.topic('alerts', { events: alertEvents })
  app.get('/jobs/:id/events', {
    sse: { events: jobEvents },
    schema: {
      summary: 'Follow a job',
      description: 'Progress and log lines until the job ends.',
      tags: ['jobs'],
      params: Type.Object({ id: Type.String({ description: 'The job\'s id', examples: ['42'] }) }),
      querystring: Type.Object({ verbose: Type.Optional(Type.Boolean()) })
    }
  }, async function * () {
    yield { event: 'progress', data: { percent: 50, step: 'build' } }
    yield { event: 'log', data: 'compiled\nlinked' }
    yield { event: 'end', data: { ok: true, elapsedMs: 12 } }
  })
  app.get('/tail/:level', {
    sse: true,
    schema: { params: Type.Object({ level: Type.Union([Type.Literal('info'), Type.Literal('debug')]) }) }
  }, async function * (request) {
    yield { event: (request.params as { level: string }).level, data: { line: 'started' } }
  })
  app.get('/chat', { schema: { operationId: 'lobby', response: { 200: sseResponseSchema(chatEvents, { topic: lobby }) } } },
    (_request, reply) => reply.sse(lobby.subscribe()))
  app.get('/rooms/:room/events', { schema: { response: { 200: sseResponseSchema(chatEvents, { topic: 'room:{room}' }) } } },
    (request, reply) => reply.sse(app.sse.topic(`room:${(request.params as { room: string }).room}`, { events: chatEvents }).subscribe()))
  app.post('/rooms/:room/messages', async request => {
    const room = app.sse.topic(`room:${(request.params as { room: string }).room}`, { events: chatEvents })
    return { id: await room.publish({ data: { from: 'ann', text: 'hi' } }) }
  })
  app.get('/health', async () => ({ ok: true }))
  app.get('/asyncapi.json', { schema: { hide: true } }, () => app.sse.asyncapi(options))
}

// The official parser is slow (a second or more per document on an idle machine): each app
// below is built and its document parsed once, and the tests read the result.
const parser = new Parser()

interface Parsed {
  raw: AsyncApiDocument
  document: AsyncAPIDocumentInterface
  diagnostics: Diagnostic[]
}

async function parse (raw: AsyncApiDocument): Promise<Parsed> {
  const { document, diagnostics } = await parser.parse(JSON.stringify(raw))
  if (document === undefined) {
    throw new Error(`the parser returned no document: ${JSON.stringify(diagnostics.map(({ code, message }) => ({ code, message })))}`)
  }
  return { raw, document, diagnostics }
}

function noErrorNoWarning (t: Test, { diagnostics }: Parsed): void {
  // Severity 0 is an error, 1 a warning; 2 and 3 are information and hints.
  const problems = diagnostics.filter(diagnostic => diagnostic.severity <= 1)
  t.same(problems.map(({ code, message, path }) => ({ code, message, path: path.join('/') })), [], 'no error and no warning')
  // The one piece of information: AsyncAPI 3.1 exists; the document is 3.0, as asked.
  t.same(diagnostics.filter(diagnostic => diagnostic.severity > 1).map(diagnostic => diagnostic.code), ['asyncapi-latest-version'])
}

function channelAt (document: AsyncAPIDocumentInterface, address: string): ChannelInterface {
  const channel = document.channels().all().find(channel => channel.address() === address)
  if (channel === undefined) throw new Error(`no channel at ${address}`)
  return channel
}

const messageNames = (channel: ChannelInterface) => channel.messages().all().map(message => message.name())

// Fastify's path syntax, operationId, hidden routes, several methods, a spread response, and
// schemas with TypeBox extras, non-JSON types, recursion and `$defs`.
// (Type.Date() itself is refused when a route is declared: the data travels as JSON, a string.)
const dated = { at: Type.String({ format: 'date-time', description: 'When' }), tick: Type.Object({ n: Type.Integer() }) }
// What TypeBox 1 (non-enumerable) and 0.34 (symbol) keep besides the JSON Schema.
Object.defineProperty(dated.tick, '~kind', { value: 'Object', enumerable: false })
const Comment = Type.Recursive(This => Type.Object({ text: Type.String(), replies: Type.Array(This) }), { $id: 'Comment' })
// A hand-written schema with definitions of its own, referred to from its root.
const pair = Type.Unsafe<{ a: number, b: number }>({
  type: 'object',
  properties: { a: { $ref: '#/$defs/count' }, b: { $ref: '#/definitions/count' } },
  $defs: { count: { type: 'integer', minimum: 0 } },
  definitions: { count: { type: 'integer', minimum: 0 } }
})

async function edgeApp (app: FastifyInstance) {
  const one = async function * () { yield { data: 'x' } }
  app.get('/files/:name(^[a-z]+).png', { sse: true, schema: { params: Type.Object({ name: Type.String({ examples: ['report'] }) }) } }, one)
  app.get('/range/:from-:to', { sse: true }, one)
  app.get('/v1::stream/:id', { sse: true }, one)
  app.get('/static/*', { sse: true }, one)
  app.register(async child => { child.get('/feed', { sse: true }, one) }, { prefix: '/v2' })
  app.route({ method: ['GET', 'POST'], url: '/feed', sse: { events: dated }, schema: { operationId: 'feed' }, handler: async function * () {} } as never)
  app.get('/secret', { sse: true, schema: { hide: true } }, async function * () {})
  app.get('/feed/other', { sse: true, schema: { operationId: 'feed' } }, async function * () {})
  // A response copied into a new object is still known for what it is.
  app.get('/spread', { schema: { response: { 200: { ...sseResponseSchema(dated), description: 'Spread' } } } }, (_request, reply) => reply.sse([]))
  app.get('/thread', { sse: { events: { comment: Comment, pair } } }, async function * () {})
}

t.test('an app with typed, untyped and hub routes, and topics', async t => {
  const started = await startApp(t, realisticApp)
  // Served by a route of the app, as a user would.
  const response = await fetch(`${started.url}/asyncapi.json`)
  t.equal(response.status, 200)
  const realistic = { ...started, ...await parse(await response.json() as AsyncApiDocument) }

  t.test('the document of an app with typed, untyped and hub routes and topics passes @asyncapi/parser with no error and no warning', async t => {
    noErrorNoWarning(t, realistic)
    const { document } = realistic
    t.equal(document.version(), '3.0.0')
    t.equal(document.info().title(), 'jobs and chat')
    t.same(document.servers().all().map(server => server.host()), ['localhost:3000'])
    t.same(document.channels().all().map(channel => channel.address()).sort(), [
      '/chat', '/jobs/{id}/events', '/rooms/{room}/events', '/tail/{level}', 'alerts', 'chat:lobby', 'room:{room}'
    ], 'a channel per stream route and per topic; /health is no stream, /asyncapi.json is hidden')
  })

  t.test('a route channel: its path parameters, one message per event name with its schema, and a send operation over HTTP', async t => {
    const { document } = realistic
    const jobs = channelAt(document, '/jobs/{id}/events')
    t.same(jobs.parameters().all().map(parameter => said(parameter.json())), [{ description: 'The job\'s id', examples: ['42'] }])
    t.same(messageNames(jobs), ['progress', 'log', 'end'])
    const [progress, log, end] = jobs.messages().all()
    t.same(said(progress?.payload()?.json()), json(jobEvents.progress))
    t.equal(progress?.contentType(), 'application/json')
    t.same(said(log?.payload()?.json()), { type: 'string', description: 'A line of the job\'s log' })
    t.equal(log?.contentType(), 'text/plain', 'a string schema is sent as the raw text')
    t.same(said(end?.payload()?.json()), json(jobEvents.end), 'a TypeBox union is an anyOf')
    t.match(end?.summary(), /`event: end`.*addEventListener\('end'/)

    const [operation, ...others] = jobs.operations().all()
    t.equal(others.length, 0)
    t.equal(operation?.action(), 'send', 'the server sends; clients receive')
    t.equal(operation?.summary(), 'Follow a job')
    t.equal(operation?.description(), 'Progress and log lines until the job ends.')
    t.same(operation?.tags().all().map(tag => tag.name()), ['jobs'])
    t.same(operation?.messages().all().map(message => message.name()), ['progress', 'log', 'end'])
    t.same(said(operation?.bindings().get('http')?.value()), {
      method: 'GET', query: { type: 'object', properties: { verbose: { type: 'boolean' } } }
    })

    const tail = channelAt(document, '/tail/{level}')
    t.same(tail.parameters().all().map(parameter => said(parameter.json())), [{ description: 'The path parameter `level`.', enum: ['info', 'debug'] }],
      'a union of literals is the parameter\'s enum')
    t.same(tail.messages().all().map(message => said(message.json())), [{
      title: 'Any event',
      summary: 'An event of any name (untyped stream); its data is JSON, or the raw text of a string.',
      payload: {}
    }], 'an untyped route has one untyped message')
  })

  t.test('hub channels: each topic, a family of topics by its pattern, and the routes that stream them, all with the reset message', async t => {
    const { document, raw } = realistic
    const lobby = channelAt(document, 'chat:lobby')
    t.same(messageNames(lobby), ['message', 'joined', 'reset'])
    const reset = lobby.messages().all()[2]
    t.same(said(reset?.payload()?.json()), json(HubResetSchema))
    t.match(reset?.summary(), /can no longer be resumed.*Refetch the state/)
    t.same(lobby.operations().all().map(operation => [operation.id(), operation.action()]), [['publish-chat-lobby', 'send']])
    t.same(messageNames(channelAt(document, 'alerts')), ['alert', 'reset'], 'a topic no route streams is there too')

    const family = channelAt(document, 'room:{room}')
    t.same(family.parameters().all().map(parameter => parameter.id()), ['room'])
    t.match(family.description(), /A family of hub topics, one per name of the form `room:\{room\}`/)
    t.same(messageNames(family), ['message', 'joined', 'reset'])

    const chat = channelAt(document, '/chat')
    t.equal(chat.id(), 'lobby', 'the route\'s operationId names its channel')
    t.same(chat.operations().all().map(operation => operation.id()), ['lobby'])
    t.match(chat.description(), /hub topic `chat:lobby`.*`Last-Event-ID`/)
    t.same(messageNames(chat), ['message', 'joined', 'reset'])
    const rooms = channelAt(document, '/rooms/{room}/events')
    t.same(rooms.parameters().all().map(parameter => parameter.id()), ['room'])
    t.same(messageNames(rooms), ['message', 'joined', 'reset'])

    // The route channels share the topics' messages: one definition each, in components.
    t.same(raw.channels.lobby?.messages.message, { $ref: '#/components/messages/topic-chat-lobby.message' })
    t.same(raw.channels['topic-chat-lobby']?.messages.message, { $ref: '#/components/messages/topic-chat-lobby.message' })
  })

  t.test('a client that follows the document reaches each route channel and receives only the messages it lists', async t => {
    const { app, url, document } = realistic
    // Something to replay on the hub routes.
    const posted = await fetch(`${url}/rooms/7/messages`, { method: 'POST' })
    const { id } = await posted.json() as { id: string }
    await app.inject({ method: 'POST', url: '/rooms/7/messages' })
    const routes = document.channels().all().filter(channel => channel.address()?.startsWith('/'))
    t.equal(routes.length, 4)
    for (const channel of routes) {
      const path = (channel.address() as string).replace(/\{([^}]+)\}/g, (_match, name: string) => {
        const parameter = channel.parameters().get(name)?.json() as { enum?: string[], examples?: string[] } | undefined
        return parameter?.enum?.[0] ?? parameter?.examples?.[0] ?? '7'
      })
      const names = messageNames(channel)
      const hub = names.includes('reset')
      // On a hub route: the event after `id` is replayed (`until` the stream falls silent).
      const { events } = await collectEvents(app, path, { lastEventId: hub ? id : undefined, timeout: 500 })
      t.ok(events.length > 0, `${path}: events arrived`)
      for (const event of events) {
        t.ok(names.includes(event.event) || names.includes(undefined), `${path}: "${event.event}" is a message of the channel`)
      }
      if (hub) {
        // A made-up id gets the documented reset.
        const { events: [reset] } = await collectEvents(app, path, { lastEventId: '1-0', count: 1 })
        t.equal(reset?.event, 'reset', `${path}: a stale id gets the documented reset`)
      }
    }
  })

  t.test('the document depends on the app, not on its traffic: topics named per request are left out', async t => {
    const { app } = realistic
    const before = app.sse.asyncapi(options)
    for (const room of ['1', '2', '3']) await app.inject({ method: 'POST', url: `/rooms/${room}/messages` })
    app.sse.topic('late', { events: alertEvents })
    t.same(app.sse.asyncapi(options), before)
    t.notOk(JSON.stringify(before).includes('room:1'))
  })
})

t.test('edge cases of paths, ids and schemas', async t => {
  const started = await startApp(t, edgeApp)
  const edge = { ...started, ...await parse(started.app.sse.asyncapi(options)) }

  t.test('Fastify path syntax becomes channel addresses: regular expressions, several parameters in a segment, `::`, `*`, prefixes', async t => {
    noErrorNoWarning(t, edge)
    const { app, document } = edge
    const addresses = new Map(document.channels().all().map(channel => [channel.address(), channel.parameters().all().map(parameter => parameter.id())]))
    t.same(addresses.get('/files/{name}.png'), ['name'])
    t.same(addresses.get('/range/{from}-{to}'), ['from', 'to'])
    t.same(addresses.get('/v1:stream/{id}'), ['id'])
    t.same(addresses.get('/static/{wildcard}'), ['wildcard'])
    t.same(addresses.get('/v2/feed'), [], 'routes of encapsulated plugins too, with their prefix')
    t.match(channelAt(document, '/static/{wildcard}').parameters().get('wildcard')?.description(), /Fastify's `\*`/)
    // Each address, filled in, is the route it names.
    for (const path of ['/files/report.png', '/range/1-9', '/v1:stream/3', '/static/a/b.txt', '/v2/feed']) {
      const { events } = await collectEvents(app, path)
      t.same(events.map(event => event.data), ['x'], path)
    }
  })

  t.test('operationId, hidden routes, several methods, and schemas with TypeBox extras or non-JSON types', async t => {
    const { raw } = edge
    t.same(Object.keys(raw.channels).filter(id => ['feed', 'feed-2', 'spread'].includes(id)), ['feed', 'feed-2', 'spread'], 'ids stay unique')
    t.same(Object.keys(raw.operations).filter(id => id.startsWith('feed')), ['feed-get', 'feed-post', 'feed'], 'one operation per method, ids unique')
    t.same(raw.operations['feed-post']?.bindings?.http.method, 'POST')
    t.same(Object.keys(raw.channels.spread?.messages ?? {}), ['at', 'tick'])
    t.same(raw.channels.feed?.messages.at, {
      name: 'at',
      title: 'at',
      summary: 'Sent as `event: at`, read with `addEventListener(\'at\', …)`. Its data is the raw text.',
      contentType: 'text/plain',
      payload: { type: 'string', format: 'date-time', description: 'When' }
    }, 'a string schema is raw text, with its format')
    t.same(raw.channels.feed?.messages.tick, { name: 'tick', title: 'tick', summary: 'Sent as `event: tick`, read with `addEventListener(\'tick\', …)`. Its data is JSON.', contentType: 'application/json', payload: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] } })
    t.notOk(Object.values(raw.channels).some(channel => channel.address === '/secret'), 'schema.hide leaves a route out')
  })

  t.test('recursive and $defs schemas: their named parts move to components.schemas, and every $ref points there', async t => {
    const { raw, document } = edge
    const messages = raw.channels.thread?.messages as Record<string, { payload: unknown }>
    t.same(messages.comment?.payload, { $ref: '#/components/schemas/Comment' })
    t.same(raw.components.schemas?.Comment, {
      type: 'object',
      required: ['text', 'replies'],
      properties: { text: { type: 'string' }, replies: { type: 'array', items: { $ref: '#/components/schemas/Comment' } } }
    })
    t.same(messages.pair?.payload, {
      type: 'object',
      properties: { a: { $ref: '#/components/schemas/count' }, b: { $ref: '#/components/schemas/count-2' } }
    })
    t.same(raw.components.schemas?.count, { type: 'integer', minimum: 0 })
    // The parser resolved the references: the payload is the comment's schema.
    const comment = channelAt(document, '/thread').messages().all()[0]
    t.same(comment?.payload()?.type(), 'object')
    t.same(Object.keys(comment?.payload()?.properties() ?? {}), ['text', 'replies'])
  })
})

t.test('asyncapi() called before the app is ready, or without info, fails saying what to do', async t => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(ssePlugin)
  t.throws(() => app.sse.asyncapi(options), { code: 'FST_SSE_NOT_READY', message: /after await app\.ready\(\)/ })
  await app.ready()
  t.throws(() => app.sse.asyncapi({} as AsyncApiOptions), { code: 'FST_SSE_INVALID_OPTION', message: /option "info \(fastify\.sse\.asyncapi\)" must be an object with a title and a version/ })
  t.throws(() => app.sse.asyncapi({ info: { title: 'x' } } as AsyncApiOptions), { code: 'FST_SSE_INVALID_OPTION' })
  t.throws(() => app.sse.asyncapi({ info: options.info, servers: 'localhost' } as unknown as AsyncApiOptions), { code: 'FST_SSE_INVALID_OPTION', message: /servers/ })
  t.same(app.sse.asyncapi({ info: options.info }).channels, {}, 'an app without streams has no channels')
})

t.test('the progress example serves the AsyncAPI document of its job stream', async t => {
  const { buildProgress } = await import('../examples/progress/server.js')
  const app = await buildProgress({ logger: false })
  t.teardown(() => app.close())
  const response = await app.inject('/asyncapi.json')
  t.equal(response.statusCode, 200)
  const parsed = await parse(response.json())
  noErrorNoWarning(t, parsed)
  const jobs = channelAt(parsed.document, '/jobs/{id}/events')
  t.same(messageNames(jobs), ['progress', 'end'])
  t.same(jobs.parameters().all().map(parameter => parameter.id()), ['id'])
  t.notOk(JSON.parse(JSON.stringify((await app.inject('/openapi.json')).json())).paths['/asyncapi.json'], 'the document route is hidden from OpenAPI')
})
