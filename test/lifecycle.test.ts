// How streams end: the source finishing, the source throwing before or after the response has
// started, and fastify.close() with streams open.
import t from 'tap'
import Fastify from 'fastify'
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
