// The typed client against a real server: typed and checked events, reconnection with
// Last-Event-ID after the server drops the stream, the server's `retry`, abort, and the errors.
import t from 'tap'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { Type } from '@sinclair/typebox'
import { sseClient, SseClientError, type ReconnectInfo } from '../src/client/index.js'
import { startApp as startTestApp, until } from './helpers/server.js'
import { ensureBuilt } from './helpers/built.js'

// Node's fetch opens a spare connection after one is aborted, which would hold app.close() for
// the pool's 4 s keep-alive; closing every connection keeps each test short.
const startApp: typeof startTestApp = (t, routes, options = {}) =>
  startTestApp(t, routes, { ...options, fastify: { forceCloseConnections: true, ...options.fastify } })

const events = {
  tick: Type.Object({ n: Type.Integer(), at: Type.String() }),
  token: Type.String(),
  message: Type.String(),
  end: Type.Object({ total: Type.Integer() })
}

t.test('events arrive typed by the map, decoded as the server encoded them, with their ids', async t => {
  const { url } = await startApp(t, app => {
    app.get('/s', { sse: { events } }, async function * () {
      yield { event: 'tick', id: 1, data: { n: 1, at: 'a' } }
      yield { event: 'token', data: 'two\nlines' }
      // A JSON-looking string under a `type: 'string'` schema stays a string.
      yield { event: 'token', data: '42' }
      yield { data: 'unnamed' }
      yield { event: 'end', id: 'last', data: { total: 4 } }
    })
  })
  const received: unknown[] = []
  let total = 0
  const client = sseClient(`${url}/s`, { events, reconnect: false })
  for await (const ev of client) {
    received.push(ev)
    // The union is discriminated by `event`: each branch sees its own data type.
    if (ev.event === 'end') total = ev.data.total
    else if (ev.event === 'tick') received.push(ev.data.n + 1)
  }
  t.same(received, [
    { event: 'tick', data: { n: 1, at: 'a' }, id: '1' },
    2,
    { event: 'token', data: 'two\nlines', id: undefined },
    { event: 'token', data: '42', id: undefined },
    { event: 'message', data: 'unnamed', id: undefined },
    { event: 'end', data: { total: 4 }, id: 'last' }
  ])
  t.equal(total, 4)
  t.equal(client.lastEventId, 'last', 'the client keeps the id to resume from')
})

t.test('without a map: JSON data is parsed, anything else is the raw text', async t => {
  const { url } = await startApp(t, app => {
    app.get('/s', { sse: true }, async function * () {
      yield { event: 'a', data: { x: [1, 2] } }
      yield { data: 'not json' }
      yield { data: '"quoted"' }
    })
  })
  const received = []
  for await (const ev of sseClient(`${url}/s`, { reconnect: false })) received.push(ev)
  t.same(received, [
    { event: 'a', data: { x: [1, 2] }, id: undefined },
    { event: 'message', data: 'not json', id: undefined },
    { event: 'message', data: 'quoted', id: undefined }
  ])
})

t.test('reconnects after the server ends or drops the stream, resuming with Last-Event-ID', async t => {
  const seen: Array<string | undefined> = []
  const { url } = await startApp(t, app => {
    app.get('/s', { sse: { events, retry: 10 } }, async function * (request, _reply, { lastEventId }) {
      seen.push(request.headers['last-event-id'] as string | undefined)
      const from = lastEventId === undefined ? 0 : Number(lastEventId) + 1
      yield { event: 'tick', id: from, data: { n: from, at: 'x' } }
      yield { event: 'tick', id: from + 1, data: { n: from + 1, at: 'x' } }
      // The first connection ends cleanly; the second is cut like a crashed proxy would.
      if (from === 2) {
        await new Promise(resolve => setTimeout(resolve, 20))
        request.raw.socket.destroy()
      }
    })
  })
  const reconnects: ReconnectInfo[] = []
  const ticks: number[] = []
  const client = sseClient(`${url}/s`, { events, minRetryDelay: 0, onReconnect: info => reconnects.push(info) })
  for await (const ev of client) {
    if (ev.event === 'tick') ticks.push(ev.data.n)
    if (ticks.length === 6) break
  }
  t.same(ticks, [0, 1, 2, 3, 4, 5], 'no event lost or repeated')
  t.same(seen, [undefined, '1', '3'], 'each reconnect sent the last id received')
  // Each connection delivered events (healthy), so each reconnect is a first attempt again.
  t.same(reconnects.map(r => [r.attempt, r.lastEventId]), [[1, '1'], [1, '3']])
  t.ok(reconnects.every(r => r.delay >= 0 && r.delay <= 10), 'waits at most the server\'s retry: 10')
  t.equal(reconnects[0]?.error, undefined, 'a clean end is not an error')
  t.not(reconnects[1]?.error, undefined, 'a dropped connection reports the network error')
})

t.test('the server\'s retry replaces the client\'s default delay', async t => {
  let connections = 0
  const { url } = await startApp(t, app => {
    app.get('/s', { sse: { events, retry: 50 } }, async function * () {
      connections++
      yield { event: 'tick', id: connections, data: { n: connections, at: 'x' } }
    })
  })
  const delays: number[] = []
  const ticks: number[] = []
  // A default far longer than the test may wait: the second tick can only come from `retry: 50`.
  const client = sseClient(`${url}/s`, { events, retry: 600_000, minRetryDelay: 0, onReconnect: info => delays.push(info.delay) })
  const done = (async () => {
    for await (const ev of client) {
      if (ev.event === 'tick') ticks.push(ev.data.n)
      if (ticks.length === 2) break
    }
  })()
  await until(() => ticks.length === 2, 'the tick of the second connection')
  await done
  t.same(ticks, [1, 2])
  t.equal(delays.length, 1)
  t.ok(delays[0]! <= 50, `the first reconnect waits at most the server's retry: 50 (${delays[0]})`)
})

t.test('aborting the signal ends the iteration without an error and closes the connection', async t => {
  let closed = false
  const { url } = await startApp(t, app => {
    app.get('/s', { sse: { events } }, async function * (_request, _reply, { signal }) {
      try {
        for (let n = 0; ; n++) {
          yield { event: 'tick', data: { n, at: 'x' } }
          await new Promise(resolve => setTimeout(resolve, 5))
          if (signal.aborted) return
        }
      } finally {
        closed = true
      }
    })
  })
  const controller = new AbortController()
  let count = 0
  for await (const ev of sseClient(`${url}/s`, { events, signal: controller.signal })) {
    t.equal(ev.event, 'tick')
    if (++count === 3) controller.abort()
  }
  t.equal(count, 3, 'no event after the abort')
  await until(() => closed, 'the server to see the client leave')
  t.ok(closed)
})

t.test('aborting while waiting to reconnect ends the iteration at once', async t => {
  const { url } = await startApp(t, app => {
    app.get('/s', { sse: true }, async function * () {
      yield { data: 'once' }
    })
  })
  const controller = new AbortController()
  const received: unknown[] = []
  const client = sseClient(`${url}/s`, {
    signal: controller.signal,
    retry: 600_000,
    // Aborted while the client waits out the long delay.
    onReconnect: () => setTimeout(() => controller.abort(), 10)
  })
  for await (const ev of client) received.push(ev.data)
  t.same(received, ['once'])
})

t.test('breaking out of the loop closes the connection', async t => {
  let closed = false
  const { url } = await startApp(t, app => {
    app.get('/s', { sse: { events } }, async function * () {
      try {
        for (let n = 0; ; n++) {
          yield { event: 'tick', data: { n, at: 'x' } }
          await new Promise(resolve => setTimeout(resolve, 5))
        }
      } finally {
        closed = true
      }
    })
  })
  for await (const ev of sseClient(`${url}/s`, { events })) {
    if (ev.event === 'tick' && ev.data.n === 1) break
  }
  await until(() => closed, 'the server to see the client leave')
  t.ok(closed)
})

t.test('an event that fails its schema throws FST_SSE_CLIENT_INVALID_EVENT with its name and path', async t => {
  // The server sends untyped events, so it lets through what the client's map rejects.
  const { url } = await startApp(t, app => {
    app.get('/s', { sse: true }, async function * () {
      yield { event: 'tick', data: { n: 1, at: 'ok' } }
      yield { event: 'tick', data: { n: 'two', at: 'bad' } }
      yield { event: 'tick', data: { n: 3, at: 'never read' } }
    })
  })
  const received: number[] = []
  const error = await t.rejects(async () => {
    for await (const ev of sseClient(`${url}/s`, { events, reconnect: false })) {
      if (ev.event === 'tick') received.push(ev.data.n)
    }
  }, SseClientError) as unknown as SseClientError
  t.same(received, [1])
  t.match(error, {
    code: 'FST_SSE_CLIENT_INVALID_EVENT',
    event: 'tick',
    path: '/n',
    reason: 'must be integer',
    data: '{"n":"two","at":"bad"}',
    message: 'fastify-typed-sse/client: event "tick" has invalid data at "/n": must be integer'
  })
})

t.test('with onInvalidEvent, bad events are reported and skipped and the stream goes on', async t => {
  const { url } = await startApp(t, app => {
    app.get('/s', { sse: true }, async function * () {
      yield { event: 'tick', data: { n: 1, at: 'ok' } }
      yield { event: 'tick', data: 'not json' }
      yield { event: 'nope', data: 'x' }
      yield { event: 'error', data: { code: 'FST_SSE_INVALID_EVENT', message: 'bad one', event: 'tick', path: '/at' } }
      // An `error` event from something other than this plugin: its text is the message.
      yield { event: 'error', data: 'upstream failed' }
      yield { event: 'end', data: { total: 1 } }
    })
  })
  const reported: SseClientError[] = []
  const received: string[] = []
  for await (const ev of sseClient(`${url}/s`, { events, reconnect: false, onInvalidEvent: err => reported.push(err) })) {
    received.push(ev.event)
  }
  t.same(received, ['tick', 'end'])
  t.match(reported, [
    { code: 'FST_SSE_CLIENT_INVALID_EVENT', event: 'tick', path: '', reason: 'is not JSON' },
    { code: 'FST_SSE_CLIENT_UNKNOWN_EVENT', event: 'nope', message: /event "nope" is not in the event map \(known: "tick", "token", "message", "end"\)/ },
    { code: 'FST_SSE_CLIENT_SERVER_ERROR', event: 'tick', path: '/at', reason: 'FST_SSE_INVALID_EVENT', message: /\(FST_SSE_INVALID_EVENT\): bad one/ },
    { code: 'FST_SSE_CLIENT_SERVER_ERROR', event: 'error', path: undefined, reason: undefined, message: 'fastify-typed-sse/client: the server sent an error event: upstream failed' }
  ])
})

t.test('the server\'s error-event policy reaches the client as FST_SSE_CLIENT_SERVER_ERROR', async t => {
  const { url } = await startApp(t, app => {
    app.get('/s', { sse: { events, onInvalidEvent: 'error-event' } }, async function * () {
      yield { event: 'tick', data: { n: 1.5, at: 'x' } }
    })
  })
  await t.rejects(async () => {
    for await (const ev of sseClient(`${url}/s`, { events, reconnect: false })) t.fail(`unexpected ${ev.event}`)
  }, { code: 'FST_SSE_CLIENT_SERVER_ERROR', event: 'tick', path: '/n' })
})

t.test('validate: false decodes by the schema but does not check', async t => {
  const { url } = await startApp(t, app => {
    app.get('/s', { sse: true }, async function * () {
      yield { event: 'tick', data: { n: 'two' } }
    })
  })
  const received = []
  for await (const ev of sseClient(`${url}/s`, { events, reconnect: false, validate: false })) received.push(ev)
  t.same(received, [{ event: 'tick', data: { n: 'two' }, id: undefined }])
})

t.test('a response that is not 200 text/event-stream throws FST_SSE_CLIENT_BAD_RESPONSE and is not retried', async t => {
  let requests = 0
  const { url } = await startApp(t, app => {
    app.addHook('onRequest', async () => { requests++ })
    app.get('/json', async () => ({ not: 'a stream' }))
    app.get('/gone', async (_request, reply) => reply.code(204).send())
  })
  await t.rejects(async () => {
    for await (const ev of sseClient(`${url}/missing`, { retry: 0 })) t.fail(`unexpected ${ev.event}`)
  }, { code: 'FST_SSE_CLIENT_BAD_RESPONSE', status: 404, message: 'fastify-typed-sse/client: expected a 200 text/event-stream response, got status 404' })
  await t.rejects(async () => {
    for await (const ev of sseClient(`${url}/json`, { retry: 0 })) t.fail(`unexpected ${ev.event}`)
  }, { code: 'FST_SSE_CLIENT_BAD_RESPONSE', status: 200, message: /got Content-Type "application\/json; charset=utf-8"/ })
  t.equal(requests, 2, 'neither was retried')
  const received = []
  for await (const ev of sseClient(`${url}/gone`, { retry: 0 })) received.push(ev)
  t.same(received, [], '204 ends the iteration quietly')
  t.equal(requests, 3)
})

t.test('a network failure with reconnect: false throws FST_SSE_CLIENT_NETWORK_ERROR with the fetch error as cause', async t => {
  const { url, app } = await startApp(t, () => {})
  await app.close()
  const error = await t.rejects(async () => {
    for await (const ev of sseClient(`${url}/s`, { reconnect: false })) t.fail(`unexpected ${ev.event}`)
  }, { code: 'FST_SSE_CLIENT_NETWORK_ERROR', message: /^fastify-typed-sse\/client: the connection failed: fetch failed \(.*ECONNREFUSED/ }) as unknown as SseClientError
  t.type(error.cause, TypeError, 'the cause is what fetch threw')
})

t.test('headers (also from a function, per connection), method, body and a custom fetch are used', async t => {
  const got: Array<Record<string, unknown>> = []
  const { url } = await startApp(t, app => {
    app.post('/s', { sse: { events, retry: 0 } }, async function * (request) {
      got.push({ auth: request.headers.authorization, accept: request.headers.accept, body: request.body })
      yield { event: 'end', id: String(got.length), data: { total: got.length } }
    })
  })
  let fetches = 0
  let tokens = 0
  const client = sseClient(`${url}/s`, {
    events,
    method: 'POST',
    body: JSON.stringify({ prompt: 'hi' }),
    credentials: 'same-origin',
    headers: () => ({ authorization: `Bearer ${++tokens}`, 'content-type': 'application/json' }),
    fetch: (input, init) => { fetches++; return fetch(input, init) }
  })
  const totals: number[] = []
  for await (const ev of client) {
    if (ev.event === 'end') totals.push(ev.data.total)
    if (totals.length === 2) break
  }
  t.same(totals, [1, 2])
  t.same(got, [
    { auth: 'Bearer 1', accept: 'text/event-stream', body: { prompt: 'hi' } },
    { auth: 'Bearer 2', accept: 'text/event-stream', body: { prompt: 'hi' } }
  ])
  t.equal(fetches, 2)
})

t.test('lastEventId starts the first connection from a known id; a new iteration resumes', async t => {
  const seen: Array<string | undefined> = []
  const { url } = await startApp(t, app => {
    app.get('/s', { sse: { events } }, async function * (_request, _reply, { lastEventId }) {
      seen.push(lastEventId)
      const n = Number(lastEventId ?? 0) + 1
      yield { event: 'tick', id: n, data: { n, at: 'x' } }
    })
  })
  const client = sseClient(`${url}/s`, { events, lastEventId: '41', reconnect: false })
  for await (const ev of client) t.equal(ev.id, '42')
  for await (const ev of client) t.equal(ev.id, '43')
  t.same(seen, ['41', '42'])
})

t.test('bad options fail at once with FST_SSE_CLIENT_INVALID_OPTION', async t => {
  t.throws(() => sseClient('http://127.0.0.1:1/', { retry: -1 }), { code: 'FST_SSE_CLIENT_INVALID_OPTION', message: /option "retry"/ })
  t.throws(() => sseClient('http://127.0.0.1:1/', { events: 'nope' as never }), { code: 'FST_SSE_CLIENT_INVALID_OPTION', message: /option "events"/ })
})

t.test('the built package exports the client and the helper by subpath, to ESM and CommonJS', async t => {
  // Plain `node`, without tsx (whose tsconfig paths would send the imports to src/), loads dist/
  // through package.json "exports" as an installed package would, building it when it is stale.
  await ensureBuilt()
  const root = fileURLToPath(new URL('..', import.meta.url))
  const script = (load: string) => `${load}
    ;(async () => {
      const events = { end: Type.Object({ total: Type.Integer() }) }
      const app = Fastify()
      await app.register(plugin)
      app.get('/s', { sse: { events } }, async function * () { yield { event: 'end', data: { total: 1 } } })
      const collected = await collectEvents(app, '/s', { events, until: 'end' })
      const read = []
      for await (const ev of sseClient('http://127.0.0.1:' + app.server.address().port + '/s', { events, reconnect: false })) read.push(ev)
      await app.close()
      console.log(JSON.stringify({ collected: collected.events, read, error: typeof SseClientError, files }))
    })()`
  const esm = script(`
    import Fastify from 'fastify'
    import { Type } from '@sinclair/typebox'
    import plugin from 'fastify-typed-sse'
    import { sseClient, SseClientError } from 'fastify-typed-sse/client'
    import { collectEvents } from 'fastify-typed-sse/testing'
    const files = [import.meta.resolve('fastify-typed-sse/client'), import.meta.resolve('fastify-typed-sse/testing')]`)
  const cjs = script(`
    const Fastify = require('fastify')
    const { Type } = require('@sinclair/typebox')
    const plugin = require('fastify-typed-sse')
    const { sseClient, SseClientError } = require('fastify-typed-sse/client')
    const { collectEvents } = require('fastify-typed-sse/testing')
    const files = [require.resolve('fastify-typed-sse/client'), require.resolve('fastify-typed-sse/testing')]`)
  const expected = [{ event: 'end', data: { total: 1 } }]
  for (const [name, args, dir] of [['esm', ['--input-type=module', '-e', esm], 'esm'], ['cjs', ['-e', cjs], 'cjs']] as const) {
    const { stdout } = await promisify(execFile)(process.execPath, args, { cwd: root, env: { ...process.env, NODE_OPTIONS: '' } })
    const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '')
    t.same(result.collected, expected, `${name}: collectEvents`)
    t.same(result.read, expected, `${name}: sseClient`)
    t.equal(result.error, 'function', `${name}: SseClientError`)
    t.match(result.files, [new RegExp(`dist/${dir}/client/index\\.js$`), new RegExp(`dist/${dir}/testing/index\\.js$`)], `${name}: from dist/${dir}`)
  }
})
