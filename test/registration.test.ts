// An event map is checked and compiled where it is given, as Fastify compiles a route's schemas:
// a route's when it is declared (so a bad one fails `ready()`), a topic's at `topic()`, and
// reply.sse()'s at its first call. The error names the option, the key and where it was given.
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import { Type as Type0 } from '@sinclair/typebox'
import ssePlugin from '../src/index.js'
import { startApp } from './helpers/server.js'
import { rawGet } from './helpers/raw.js'

async function app (t: Test): Promise<FastifyInstance> {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(ssePlugin)
  return app
}

const cyclic: Record<string, unknown> = { type: 'object', properties: {} }
;(cyclic.properties as Record<string, unknown>).self = cyclic

// [what, the map, the message]
const badMaps: Array<[string, unknown, RegExp]> = [
  ['a map that is not an object', 'not a map', /option "sse\.events \(route GET \/s\)" must be an object mapping event names to schemas, got "not a map"/],
  ['an array', [Type.String()], /option "sse\.events \(route GET \/s\)" must be an object mapping event names to schemas, got an array/],
  ['a value that is not a schema', { tick: 42 }, /option "sse\.events\.tick \(route GET \/s\)" must be a schema \(TypeBox 1, TypeBox 0\.34 or JSON Schema\), got 42/],
  ['a 0.34 type the validator cannot check', { at: Type0.Object({ when: Type0.Date() }) },
    /option "sse\.events\.at \(route GET \/s\)" must be a schema the validator can check, but "type": "Date" at "\/properties\/when" is not a JSON Schema type/],
  ['a misspelt JSON Schema type', { tick: { type: 'strng' } }, /"type": "strng" at "" is not a JSON Schema type/],
  ['a pattern that is not a regular expression', { tick: Type.String({ pattern: '(' }) },
    /option "sse\.events\.tick \(route GET \/s\)" must be a schema the validator can check, but Invalid regular expression/],
  ['a schema that contains itself', { tree: cyclic }, /but it contains itself at "\/properties\/self"/]
]

for (const [what, events, message] of badMaps) {
  t.test(`a route with ${what} fails where it is declared`, async t => {
    const fastify = await app(t)
    t.throws(() => fastify.get('/s', { sse: { events } } as never, async function * () {}), { code: 'FST_SSE_INVALID_OPTION', statusCode: 500, message })
  })
}

t.test('a route declared inside a plugin with a bad map fails ready()', async t => {
  const fastify = Fastify()
  t.teardown(() => fastify.close())
  await fastify.register(ssePlugin)
  fastify.register(async function feeds (instance) {
    instance.get('/feeds/news', { sse: { events: { headline: 'a string' } } } as never, async function * () {})
  })
  await t.rejects(async () => { await fastify.ready() }, { code: 'FST_SSE_INVALID_OPTION', message: /option "sse\.events\.headline \(route GET \/feeds\/news\)"/ })
})

t.test('app.route({ sse }) is checked the same way', async t => {
  const fastify = await app(t)
  t.throws(() => fastify.route({ method: 'POST', url: '/r', sse: { events: { tick: null } }, handler: async function * () {} } as never), {
    code: 'FST_SSE_INVALID_OPTION', message: /option "sse\.events\.tick \(route POST \/r\)" must be a schema/
  })
})

t.test('a topic with a bad map fails at topic()', async t => {
  const fastify = await app(t)
  t.throws(() => fastify.sse.topic('news', { events: { headline: Type0.Uint8Array() } } as never), {
    code: 'FST_SSE_INVALID_OPTION', message: /option "events\.headline \(topic "news"\)" must be a schema the validator can check, but "type": "Uint8Array"/
  })
  t.throws(() => fastify.sse.topic('news', { events: 7 } as never), { code: 'FST_SSE_INVALID_OPTION', message: /option "events \(topic "news"\)" must be an object/ })
})

t.test('reply.sse() with a bad map answers its first call with a 500 that names the key, before any byte of stream', async t => {
  const { port, logs } = await startApp(t, app => {
    app.get('/s', (_request, reply) => reply.sse([{ event: 'tick', data: 1 }], { events: { tick: 'integer' } as never }))
  })
  const response = await rawGet(port, '/s')
  t.equal(response.status, 500)
  t.match(response.headers['content-type'], /application\/json/)
  response.close()
  t.match(logs.find(line => line.level === 50), {
    err: { code: 'FST_SSE_INVALID_OPTION', message: /option "events\.tick \(reply\.sse\(\) in route GET \/s\)" must be a schema/ }
  })
})

t.test('a good map of either major is compiled when the route is declared, and streams', async t => {
  const events = { one: Type.Object({ n: Type.Integer() }), zero: Type0.Object({ n: Type0.Integer() }), message: Type.String() }
  const { port } = await startApp(t, app => {
    app.get('/s', { sse: { events } }, async function * () {
      yield { event: 'one', data: { n: 1 } }
      yield { event: 'zero', data: { n: 0 } }
      yield { data: 'plain' }
    })
  })
  const response = await rawGet(port, '/s')
  await response.ended
  t.equal(response.body(), 'event: one\ndata: {"n":1}\n\nevent: zero\ndata: {"n":0}\n\ndata: plain\n\n')
})
