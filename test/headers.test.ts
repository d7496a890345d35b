// Response headers on HTTP/1.1 and HTTP/2, headers from hooks, and compression left out.
import t from 'tap'
import { connect, constants } from 'node:http2'
import { request as httpRequest } from 'node:http'
import cors from '@fastify/cors'
import compress from '@fastify/compress'
import { setTimeout as sleep } from 'node:timers/promises'
import { startApp } from './helpers/server.js'
import { rawGet } from './helpers/raw.js'

t.test('HTTP/1.1: event-stream headers go out before the first event', async t => {
  let release!: () => void
  const gate = new Promise<void>(resolve => { release = resolve })
  const { port } = await startApp(t, app => {
    app.get('/s', (_request, reply) => reply.sse(async function * () {
      await gate
      yield { data: 'first' }
    }))
  })
  // rawGet resolves on the response head: it arrives while the source is still waiting.
  const response = await rawGet(port, '/s')
  t.equal(response.status, 200)
  t.equal(response.headers['content-type'], 'text/event-stream; charset=utf-8')
  t.equal(response.headers['cache-control'], 'no-cache, no-transform')
  t.equal(response.headers['x-accel-buffering'], 'no')
  t.equal(response.headers.connection, 'keep-alive')
  t.equal(response.body(), '', 'no event yet')
  release()
  await response.ended
  t.equal(response.body(), 'data: first\n\n')
})

t.test('HTTP/1.1: a client that asks for Connection: close is not told keep-alive', async t => {
  const { port } = await startApp(t, app => {
    app.get('/s', (_request, reply) => reply.sse([{ data: 'x' }]))
  })
  const response = await rawGet(port, '/s', { connection: 'close' })
  t.equal(response.headers.connection, 'close')
  await response.ended
  t.equal(response.body(), 'data: x\n\n')
})

t.test('headers set by hooks reach the client: @fastify/cors with credentials', async t => {
  const { port } = await startApp(t, app => {
    app.get('/s', (_request, reply) => {
      reply.header('x-request-tag', 'abc')
      return reply.sse([{ data: 'x' }])
    })
  }, { before: app => app.register(cors, { origin: 'http://page.test', credentials: true }) })
  const response = await rawGet(port, '/s', { origin: 'http://page.test' })
  t.equal(response.headers['access-control-allow-origin'], 'http://page.test')
  t.equal(response.headers['access-control-allow-credentials'], 'true')
  t.equal(response.headers['x-request-tag'], 'abc')
  t.equal(response.headers['content-type'], 'text/event-stream; charset=utf-8')
  await response.ended
  t.equal(response.body(), 'data: x\n\n')
})

t.test('HTTP/2: no connection-specific header, and events stream one by one', async t => {
  const { port } = await startApp(t, app => {
    app.get('/s', (_request, reply) => reply.sse(async function * ({ signal }) {
      for (let n = 0; n < 3; n++) {
        yield { event: 'n', data: { n }, id: n }
        await sleep(20, undefined, { signal })
      }
    }))
  }, { fastify: { http2: true } })
  const session = connect(`http://127.0.0.1:${port}`)
  t.teardown(() => session.close())
  const stream = session.request({ [constants.HTTP2_HEADER_PATH]: '/s' })
  const headers = await new Promise<Record<string, unknown>>(resolve => stream.once('response', resolve))
  t.equal(headers[':status'], 200)
  t.equal(headers['content-type'], 'text/event-stream; charset=utf-8')
  t.equal(headers['cache-control'], 'no-cache, no-transform')
  t.notOk('connection' in headers, 'no connection header on HTTP/2')
  const chunks: string[] = []
  stream.setEncoding('utf8')
  stream.on('data', (chunk: string) => chunks.push(chunk))
  await new Promise(resolve => stream.once('end', resolve))
  t.equal(chunks.join(''), 'event: n\ndata: {"n":0}\nid: 0\n\nevent: n\ndata: {"n":1}\nid: 1\n\nevent: n\ndata: {"n":2}\nid: 2\n\n')
  t.ok(chunks.length >= 3, 'each event arrived in its own chunk, not buffered to the end')
})

t.test('with @fastify/compress registered, events arrive uncompressed and one by one', async t => {
  let release!: () => void
  const { port } = await startApp(t, app => {
    app.get('/s', (_request, reply) => reply.sse(async function * () {
      yield { data: 'one' }
      await new Promise<void>(resolve => { release = resolve })
      yield { data: 'two' }
    }))
  }, { before: app => app.register(compress, { global: true, threshold: 0 }) })
  const response = await rawGet(port, '/s', { 'accept-encoding': 'gzip, br' })
  t.equal(response.headers['content-encoding'], undefined, 'not compressed')
  // The first event is readable while the source still waits for the second: nothing holds
  // it in a compression buffer.
  await response.waitFor(body => body === 'data: one\n\n', 'the first event')
  release()
  await response.ended
  t.equal(response.body(), 'data: one\n\ndata: two\n\n')
})

t.test('a plain node:http client sees the same stream', async t => {
  const { port } = await startApp(t, app => {
    app.get('/s', (_request, reply) => reply.sse([{ event: 'a', data: 1 }, { data: 'b' }]))
  })
  const body = await new Promise<string>((resolve, reject) => {
    httpRequest({ port, host: '127.0.0.1', path: '/s' }, response => {
      let text = ''
      response.setEncoding('utf8').on('data', (chunk: string) => { text += chunk }).on('end', () => resolve(text))
    }).on('error', reject).end()
  })
  t.equal(body, 'event: a\ndata: 1\n\ndata: b\n\n')
})
