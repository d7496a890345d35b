// Both TypeBox majors are first-class: an event map written with `typebox` 1 or with
// `@sinclair/typebox` 0.34 (or mixing them) streams validated events through a real server, with
// the same error shape (event name, schema path, reason); the type providers of both keep params
// typed and validated; topics, the client and OpenAPI read both.
import t, { type Test } from 'tap'
import swagger from '@fastify/swagger'
import { Type as Type1 } from 'typebox'
import { Type as Type0 } from '@sinclair/typebox'
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { TypeBoxTypeProvider as TypeBoxTypeProvider5 } from 'type-provider-typebox-5'
import type { FastifyInstance } from 'fastify'
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { HubResetSchema, InvalidEventError } from '../src/index.js'
import { sseClient } from '../src/client/index.js'
import { startApp } from './helpers/server.js'
import { rawGet } from './helpers/raw.js'
import { ensureBuilt } from './helpers/built.js'

// The same map, written once with each major.
const majors = {
  'typebox 1': {
    tick: Type1.Object({ n: Type1.Integer(), tags: Type1.Array(Type1.String()), note: Type1.Optional(Type1.String()) }),
    token: Type1.String(),
    state: Type1.Union([Type1.Literal('on'), Type1.Literal('off')])
  },
  '@sinclair/typebox 0.34': {
    tick: Type0.Object({ n: Type0.Integer(), tags: Type0.Array(Type0.String()), note: Type0.Optional(Type0.String()) }),
    token: Type0.String(),
    state: Type0.Union([Type0.Literal('on'), Type0.Literal('off')])
  }
}

const INVALID = 'fastify-typed-sse: an invalid event was not sent'

// The whole response: an error status is kept on a keep-alive connection, so it is closed here.
async function read (port: number, path: string) {
  const response = await rawGet(port, path)
  if (response.status !== 200) response.close()
  await response.ended
  return response
}

for (const [major, events] of Object.entries(majors)) {
  t.test(`${major}: a { sse: { events } } route streams valid events and leaves out invalid ones, naming the path`, async t => {
    const { port, logs } = await startApp(t, app => {
      app.get('/s', { sse: { events } }, async function * () {
        yield { event: 'tick', id: 1, data: { n: 1, tags: ['a'] } }
        yield { event: 'tick', id: 2, data: { n: 2, tags: ['b', 7] } as never }
        yield { event: 'token', data: 'two\nlines' }
        yield { event: 'state', data: 'dim' as never }
        // Like Fastify's responses, only the schema's properties are sent.
        yield { event: 'tick', id: 3, data: { n: 3, tags: [], note: 'x', secret: 'not in the schema' } as never }
      })
    })
    const response = await read(port, '/s')
    t.equal(response.status, 200)
    t.equal(response.body(),
      'event: tick\ndata: {"n":1,"tags":["a"]}\nid: 1\n\n' +
      'event: token\ndata: two\ndata: lines\n\n' +
      'event: tick\ndata: {"n":3,"tags":[],"note":"x"}\nid: 3\n\n')
    const errors = logs.filter(line => line.msg === INVALID).map(line => line.err as Record<string, unknown>)
    t.match(errors, [
      { code: 'FST_SSE_INVALID_EVENT', event: 'tick', path: '/tags/1', reason: 'must be string', message: 'fastify-typed-sse: event "tick" has invalid data at "/tags/1": must be string' },
      { code: 'FST_SSE_INVALID_EVENT', event: 'state', path: '', reason: 'must be "on" or "off"' }
    ])
  })

  t.test(`${major}: reply.sse(source, { events }) checks and serializes the same way`, async t => {
    const { port, logs } = await startApp(t, app => {
      app.get('/s', (_request, reply) => reply.sse([
        { event: 'tick', data: { n: 1.5, tags: [] } as never },
        { event: 'state', data: 'on' },
        { event: 'tick', data: { n: 1, tags: ['ok'] } }
      ], { events }))
    })
    const response = await read(port, '/s')
    // A union of string literals is not a string schema: its data goes as JSON.
    t.equal(response.body(), 'event: state\ndata: "on"\n\nevent: tick\ndata: {"n":1,"tags":["ok"]}\n\n')
    t.match(logs.find(line => line.msg === INVALID)?.err, { event: 'tick', path: '/n', reason: 'must be integer' })
  })
}

t.test('both majors explain the same failure the same way', async t => {
  const seen: Record<string, unknown[]> = {}
  for (const [major, events] of Object.entries(majors)) {
    const topic = await hubTopic(t, events)
    const failures = []
    for (const bad of [{ n: 'one', tags: [] }, { tags: [] }, { n: 1, tags: [1] }, 'nope']) {
      const error = await topic.publish({ event: 'tick', data: bad as never }).catch((err: unknown) => err)
      t.type(error, InvalidEventError, `${major}: ${JSON.stringify(bad)}`)
      const { code, event, path, reason, message } = error as InvalidEventError
      failures.push({ code, event, path, reason, message })
    }
    seen[major] = failures
  }
  t.same(seen['@sinclair/typebox 0.34'], seen['typebox 1'])
  t.match(seen['typebox 1'], [{ path: '/n', reason: 'must be integer' }, { path: '', reason: /required properties n/ }, { path: '/tags/0' }, { path: '' }])
})

async function hubTopic (t: Test, events: Record<string, object>) {
  const { app } = await startApp(t, () => {})
  return app.sse.topic('tb', { events })
}

t.test('a map may mix the majors: a 0.34 app adding the plugin\'s own HubResetSchema', async t => {
  const events = { ...majors['@sinclair/typebox 0.34'], reset: HubResetSchema }
  const { port } = await startApp(t, app => {
    app.get('/s', { sse: { events } }, async function * () {
      yield { event: 'reset', data: { reason: 'expired', lastEventId: '4' } }
      yield { event: 'reset', data: { reason: 'bored', lastEventId: '5' } as never }
      yield { event: 'tick', data: { n: 1, tags: [] } }
    })
  })
  const response = await read(port, '/s')
  t.equal(response.body(), 'event: reset\ndata: {"reason":"expired","lastEventId":"4"}\n\nevent: tick\ndata: {"n":1,"tags":[]}\n\n')
})

t.test('a hub topic typed by a TypeBox 1 map checks each publish and delivers to subscribers', async t => {
  const events = majors['typebox 1']
  const { port, app } = await startApp(t, app => {
    const topic = app.sse.topic('news', { events })
    app.get('/news', (_request, reply) => reply.sse(topic.subscribe()))
    app.post('/publish', async (request) => ({ id: await topic.publish(request.body as never) }))
  })
  const response = await rawGet(port, '/news')
  t.equal(response.status, 200)
  // A first connection to an empty topic is told id 0, "before the first event".
  await response.waitFor(body => body === 'id: 0\n\n', 'the opening id')
  const topic = app.sse.topic('news', { events })
  await t.rejects(topic.publish({ event: 'tick', data: { n: 'x', tags: [] } as never }), { code: 'FST_SSE_INVALID_EVENT', path: '/n' })
  const id = await topic.publish({ event: 'tick', data: { n: 7, tags: ['z'] } })
  await response.waitFor(body => body.includes('event: tick'), 'the event')
  t.equal(response.body(), `id: 0\n\nevent: tick\ndata: {"n":7,"tags":["z"]}\nid: ${id}\n\n`)
  response.close()
})

t.test('the client decodes and checks events by a TypeBox 1 map', async t => {
  const events = majors['typebox 1']
  const { url } = await startApp(t, app => {
    // Untyped, so the server lets the bad tick through; a string goes raw, so `"off"` is JSON.
    app.get('/s', { sse: true }, async function * () {
      yield { event: 'tick', data: { n: 1, tags: ['a'] } }
      yield { event: 'tick', data: { n: 'one', tags: [] } }
      yield { event: 'state', data: '"off"' }
    })
  }, { fastify: { forceCloseConnections: true } })
  const received: unknown[] = []
  const refused: unknown[] = []
  const client = sseClient(`${url}/s`, { events, reconnect: false, onInvalidEvent: error => refused.push({ event: error.event, path: error.path, reason: error.reason }) })
  for await (const ev of client) received.push({ event: ev.event, data: ev.data })
  t.same(received, [{ event: 'tick', data: { n: 1, tags: ['a'] } }, { event: 'state', data: 'off' }])
  t.same(refused, [{ event: 'tick', path: '/n', reason: 'must be integer' }])
})

// The type providers validate params and body with their own compilers; the events are ours.
async function providerRoutes (app: FastifyInstance) {
  const one = app.withTypeProvider<TypeBoxTypeProvider>()
  one.get('/one/:n', {
    schema: { params: Type1.Object({ n: Type1.Integer({ minimum: 1 }) }) },
    validatorCompiler: TypeBoxValidatorCompiler,
    sse: { events: majors['typebox 1'] }
  }, async function * (request) {
    for (let n = 1; n <= request.params.n; n++) yield { event: 'tick', data: { n, tags: [] } }
  })
  const zero = app.withTypeProvider<TypeBoxTypeProvider5>()
  zero.get('/zero/:n', {
    schema: { params: Type0.Object({ n: Type0.Integer({ minimum: 1 }) }) },
    sse: { events: majors['@sinclair/typebox 0.34'] }
  }, async function * (request) {
    for (let n = 1; n <= request.params.n; n++) yield { event: 'tick', data: { n, tags: [] } }
  })
}

t.test('with @fastify/type-provider-typebox 6 (TypeBox 1) and 5 (0.34), params are validated and events streamed', async t => {
  const { port } = await startApp(t, providerRoutes)
  for (const prefix of ['/one', '/zero']) {
    const ok = await read(port, `${prefix}/2`)
    t.equal(ok.body(), 'event: tick\ndata: {"n":1,"tags":[]}\n\nevent: tick\ndata: {"n":2,"tags":[]}\n\n', `${prefix}: streamed`)
    const bad = await read(port, `${prefix}/0`)
    t.equal(bad.status, 400, `${prefix}: params are validated before the stream starts`)
  }
})

t.test('OpenAPI documents a TypeBox 1 map as plain JSON Schema', async t => {
  const events = majors['typebox 1']
  const { app } = await startApp(t, app => {
    app.get('/s', { sse: { events } }, async function * () { yield { event: 'state', data: 'on' } })
  }, { before: app => app.register(swagger, { openapi: { info: { title: 't', version: '1' } } }) })
  const document = app.swagger() as unknown as { paths: Record<string, any> }
  const items: Array<Record<string, any>> = document.paths['/s'].get.responses['200'].content['text/event-stream'].schema.oneOf
  t.same(items.map(item => item.title), ['tick', 'token', 'state'])
  t.same(items[0]?.properties.data, {
    type: 'object',
    required: ['n', 'tags'],
    properties: { n: { type: 'integer' }, tags: { type: 'array', items: { type: 'string' } }, note: { type: 'string' } }
  })
  t.match(items[1]?.description, /`data` is the raw text/, 'a TypeBox 1 string schema is raw text too')
})

t.test('a CommonJS app require()s the plugin and TypeBox 1 (an ES module) from its own folder, and streams', async t => {
  // A folder outside the repository with its own node_modules, as an installed app has: the plugin
  // resolves through its package.json "exports" to dist/cjs, which loads `typebox` with Node's
  // require(esm) (unflagged from Node 20.19 and 22.12: the engines range).
  await ensureBuilt()
  const dir = await mkdtemp(join(tmpdir(), 'fastify-typed-sse-cjs-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const root = fileURLToPath(new URL('..', import.meta.url))
  await mkdir(join(dir, 'node_modules', '@sinclair'), { recursive: true })
  await symlink(root, join(dir, 'node_modules', 'fastify-typed-sse'), 'dir')
  for (const name of ['fastify', 'typebox', '@sinclair/typebox']) await symlink(join(root, 'node_modules', name), join(dir, 'node_modules', name), 'dir')
  await writeFile(join(dir, 'package.json'), '{ "name": "cjs-app", "private": true }\n')
  await writeFile(join(dir, 'app.js'), `
    const Fastify = require('fastify')
    const { Type } = require('typebox')
    const { Type: Type0 } = require('@sinclair/typebox')
    const { ssePlugin, HubResetSchema } = require('fastify-typed-sse')
    const events = { tick: Type.Object({ n: Type.Integer() }), zero: Type0.Object({ n: Type0.Integer() }), reset: HubResetSchema }
    ;(async () => {
      const app = Fastify()
      await app.register(ssePlugin)
      app.get('/s', { sse: { events } }, async function * () {
        yield { event: 'tick', data: { n: 1 } }
        yield { event: 'tick', data: { n: 'bad' } }
        yield { event: 'zero', data: { n: 0 } }
      })
      await app.listen({ port: 0, host: '127.0.0.1' })
      const body = await (await fetch('http://127.0.0.1:' + app.server.address().port + '/s')).text()
      await app.close()
      console.log(JSON.stringify({ body, plugin: require.resolve('fastify-typed-sse'), typebox: require.resolve('typebox') }))
    })()
  `)
  const { stdout } = await promisify(execFile)(process.execPath, ['app.js'], { cwd: dir, env: { ...process.env, NODE_OPTIONS: '' } })
  const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}')
  t.equal(result.body, 'event: tick\ndata: {"n":1}\n\nevent: zero\ndata: {"n":0}\n\n')
  t.match(result.plugin, /dist\/cjs\/index\.js$/, 'the CommonJS build')
  t.match(result.typebox, /typebox\/build\/index\.mjs$/, 'TypeBox 1 is an ES module')
})
