// How streams end: the source finishing, the source throwing before or after the response has
// started, and fastify.close() with streams open.
import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { EventSource } from 'eventsource'
import { setTimeout as sleep } from 'node:timers/promises'
import ssePlugin from '../src/index.js'
import { startApp, until } from './helpers/server.js'
import { rawGet } from './helpers/raw.js'

t.test('when the source finishes, the response ends with the chunked terminator', async t => {
  const { port } = await startApp(t, app => {
    app.get('/s', (_request, reply) => reply.sse([{ data: 'a' }, { data: 'b' }]))
  })
  const response = await rawGet(port, '/s')
  await response.ended
  t.ok(response.terminated(), 'a clean end, not a dropped connection')
  t.equal(response.body(), 'data: a\n\ndata: b\n\n')
})

t.test('a source that throws before its first event becomes a normal HTTP error', async t => {
  const handled: string[] = []
  const { port } = await startApp(t, app => {
    app.setErrorHandler((error: Error & { statusCode?: number }, _request, reply) => {
      handled.push(error.message)
      return reply.code(error.statusCode ?? 500).send({ problem: error.message })
    })
    app.get('/room/:id', (request, reply) => reply.sse(async function * () {
      throw Object.assign(new Error(`no room ${(request.params as { id: string }).id}`), { statusCode: 404 })
    }))
    app.get('/setup', (_request, reply) => reply.sse(async () => {
      await sleep(10)
      throw Object.assign(new Error('setup failed'), { statusCode: 503 })
    }))
  })
  const missing = await rawGet(port, '/room/7')
  t.equal(missing.status, 404)
  t.match(missing.headers['content-type'], /application\/json/)
  await missing.waitFor(body => body.includes('}'))
  t.same(JSON.parse(missing.body()), { problem: 'no room 7' })

  const setup = await rawGet(port, '/setup')
  t.equal(setup.status, 503, 'an async source function is awaited before the response starts')
  t.same(handled, ['no room 7', 'setup failed'], 'both went through the app\'s error handler')
})

t.test('something that is not a source is a 500 with a clear message', async t => {
  const { port, logs } = await startApp(t, app => {
    app.get('/s', (_request, reply) => reply.sse(42 as never))
  })
  const response = await rawGet(port, '/s')
  t.equal(response.status, 500)
  t.match(logs.find(line => line.level === 50), { err: { code: 'FST_SSE_INVALID_SOURCE', message: /needs an async iterable, an iterable or a function returning one, got 42/ } })
})

t.test('a source that throws after the stream started is logged and ends the stream (onSourceError: close)', async t => {
  const { port, logs } = await startApp(t, app => {
    app.get('/fails', (_request, reply) => reply.sse(async function * ({ signal }) {
      yield { data: 'one' }
      await sleep(20, undefined, { signal })
      throw new Error('database went away')
    }))
    app.get('/fine', (_request, reply) => reply.sse(async function * ({ signal }) {
      for (let n = 0; n < 5; n++) {
        yield { data: String(n) }
        await sleep(10, undefined, { signal })
      }
    }))
  })
  const [failing, fine] = await Promise.all([rawGet(port, '/fails'), rawGet(port, '/fine')])
  await Promise.all([failing.ended, fine.ended])
  t.equal(failing.status, 200)
  t.equal(failing.body(), 'data: one\n\n')
  t.equal(fine.body(), 'data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\n', 'the other stream is unaffected')
  // One code for the condition, the source's own error kept as the cause.
  t.match(logs.find(line => line.msg === 'fastify-typed-sse: the source threw after the stream started'), {
    level: 50,
    err: { code: 'FST_SSE_SOURCE_FAILED', message: /the event source threw after the stream started.*: database went away$/, stack: /caused by: Error: database went away/ }
  })
})

t.test('onSourceError: error-event sends an `error` event, without the internal message, then ends', async t => {
  const { port } = await startApp(t, app => {
    app.get('/fails', (_request, reply) => reply.sse(async function * ({ signal }) {
      yield { data: 'one' }
      await sleep(20, undefined, { signal })
      throw new Error('secret connection string')
    }, { onSourceError: 'error-event' }))
  })
  const response = await rawGet(port, '/fails')
  await response.ended
  t.equal(response.body(), 'data: one\n\nevent: error\ndata: {"code":"FST_SSE_SOURCE_FAILED","message":"the event source failed"}\n\n')
})

t.test('fastify.close() with open streams ends them promptly and every source\'s finally runs', async t => {
  const app = Fastify({ logger: false })
  await app.register(ssePlugin)
  let finallyRuns = 0
  app.get('/s', (_request, reply) => reply.sse(async function * ({ signal }) {
    try {
      yield { data: 'hello' }
      await sleep(60_000, undefined, { signal })
    } finally {
      await sleep(5)
      finallyRuns++
    }
  }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  const clients = await Promise.all(Array.from({ length: 5 }, () => rawGet(port, '/s')))
  await Promise.all(clients.map(client => client.waitFor(body => body === 'data: hello\n\n')))
  await app.close()
  t.equal(finallyRuns, 5, 'close() waited for the finally blocks')
  await Promise.all(clients.map(client => client.ended))
  t.same(clients.map(client => client.body()), Array(5).fill('data: hello\n\n'))
})

t.test('fastify.close() does not hang on a source that ignores its signal', async t => {
  const app = Fastify({ logger: false })
  await app.register(ssePlugin)
  app.get('/s', (_request, reply) => reply.sse(async function * () {
    yield { data: 'hello' }
    await new Promise(() => {})
  }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  const client = await rawGet((app.server.address() as { port: number }).port, '/s')
  await client.waitFor(body => body === 'data: hello\n\n')
  await app.close()
  await client.ended
  t.pass('closed')
})

t.test('an EventSource sees the stream end when the server closes', async t => {
  const { app, url } = await startApp(t, app => {
    app.get('/s', (_request, reply) => reply.sse(async function * ({ signal }) {
      yield { data: 'hello' }
      await sleep(60_000, undefined, { signal })
    }))
  })
  const source = new EventSource(`${url}/s`)
  t.teardown(() => source.close())
  let errors = 0
  const messages: string[] = []
  source.onmessage = event => messages.push(event.data)
  source.onerror = () => { errors++ }
  await until(() => messages.length === 1)
  await app.close()
  await until(() => errors > 0, 'the client to notice')
  t.same(messages, ['hello'])
})

/** app.close(), or 'hung' if it has not resolved in 10 s: only a hang breaks this bound. */
async function closeOrHang (app: FastifyInstance): Promise<'closed' | 'hung'> {
  let timer: NodeJS.Timeout | undefined
  const hung = new Promise<'hung'>(resolve => { timer = setTimeout(resolve, 10_000, 'hung') })
  const outcome = await Promise.race([app.close().then(() => 'closed' as const), hung])
  clearTimeout(timer)
  return outcome
}

async function listening (register: (app: FastifyInstance) => void): Promise<{ app: FastifyInstance, port: number }> {
  const app = Fastify({ logger: false })
  await app.register(ssePlugin)
  register(app)
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, port: (app.server.address() as { port: number }).port }
}

t.test('fastify.close() ends streams whose source is still starting; they never stream on the closing server', async t => {
  const returned: string[] = []
  let release!: () => void
  const late = new Promise<void>(resolve => { release = resolve })
  const iterable = (name: string): AsyncIterable<{ data: string }> => ({
    [Symbol.asyncIterator]: () => ({
      next: async () => ({ done: false, value: { data: name } }),
      return: async () => { returned.push(name); return { done: true, value: undefined } }
    })
  })
  let calledAfterClose = false
  const { app, port } = await listening(app => {
    // Honours its signal: rejects with an AbortError once the stream is stopped.
    app.get('/signal', (_request, reply) => reply.sse(async ({ signal }) => {
      await sleep(60_000, undefined, { signal })
      return iterable('signal')
    }))
    // Ignores its signal and never settles.
    app.get('/never', (_request, reply) => reply.sse(async () => await new Promise<never>(() => {})))
    // Ignores its signal and comes back once close() has begun: what it returns is closed.
    app.get('/late', (_request, reply) => reply.sse(async () => {
      await late
      return iterable('late')
    }))
    // The same through the `sse` route option, with an async handler.
    app.get('/route', { sse: true }, async () => {
      await late
      return iterable('route')
    })
    // Starts only once close() has begun (its preHandler waits for that): never calls its source.
    app.get('/after', {
      preHandler: async () => { await late }
    }, (_request, reply) => reply.sse(() => { calledAfterClose = true; return iterable('after') }))
    // Released once the plugin's own preClose has run (hooks run in the order they were added).
    app.addHook('preClose', async () => { release() })
  })
  // rawGet resolves once the response head arrives: not before close() here.
  const clients = ['/signal', '/never', '/late', '/route', '/after'].map(path => rawGet(port, path))
  // Every request has reached its handler (or preHandler) before close() begins.
  await sleep(200)
  t.equal(await closeOrHang(app), 'closed', 'close() did not wait for the starting streams')
  for (const client of await Promise.all(clients)) {
    await client.ended
    t.equal(client.status, 200)
    t.equal(client.body(), '', 'an empty stream: the client reconnects elsewhere')
    t.ok(client.terminated(), 'ended cleanly')
  }
  await until(() => returned.length === 2, 'the late iterables to be closed')
  t.same(returned.sort(), ['late', 'route'], 'what a late source returned was closed, never streamed')
  t.notOk(calledAfterClose, 'a stream that starts during close() never calls its source')
})

t.test('fastify.close() does not wait on a client that never reads', async t => {
  const { app, port } = await listening(app => {
    app.get('/s', (_request, reply) => reply.sse(function * () {
      for (;;) yield { data: 'x'.repeat(1000) }
    }))
  })
  const client = await rawGet(port, '/s')
  client.socket.pause()
  // Long enough for the kernel's buffers to fill and the response to hold data it cannot send.
  await sleep(500)
  t.equal(await closeOrHang(app), 'closed')
  // A paused socket does not see the connection go until it reads again.
  client.socket.resume()
  await client.ended
  t.notOk(client.terminated(), 'the connection was dropped with the data it would not take')
})

t.test('fastify.close() is not derailed by a starting stream whose headers cannot be written', async t => {
  const app = Fastify({ logger: false })
  await app.register(ssePlugin)
  app.get('/s', (_request, reply) => {
    // Node refuses this header when the head is written: at close, in place of an empty stream.
    reply.header('x-broken', 'a\nb')
    return reply.sse(async () => await new Promise<never>(() => {}))
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const client = rawGet((app.server.address() as { port: number }).port, '/s')
  await sleep(200)
  t.equal(await closeOrHang(app), 'closed')
  const response = await client
  await response.ended
  t.equal(response.status, 0, 'the connection was dropped without a response head')
})

t.test('reply.sse() settles once the stream has started, not when it ends; onResponse runs when it ends', async t => {
  const steps: string[] = []
  let finish: (() => void) | undefined
  const { port } = await startApp(t, app => {
    app.addHook('onResponse', async () => { steps.push('onResponse') })
    app.get('/s', async (_request, reply) => {
      await reply.sse(async function * () {
        yield { data: 'first' }
        await new Promise<void>(resolve => { finish = resolve })
        yield { data: 'last' }
      })
      steps.push('reply.sse() settled')
    })
  })
  const response = await rawGet(port, '/s')
  await response.waitFor(body => body === 'data: first\n\n', 'the first event')
  await until(() => steps.length > 0)
  t.same(steps, ['reply.sse() settled'], 'settled while the stream is open')
  finish!()
  await response.ended
  t.equal(response.body(), 'data: first\n\ndata: last\n\n')
  await until(() => steps.length > 1)
  t.same(steps, ['reply.sse() settled', 'onResponse'], 'onResponse once the stream is over')
})
