// The client against a hostile or broken server: an endless line or event is cut at
// `maxEventSize` with memory bounded, `retry:` is clamped, and an id a header cannot carry still
// reaches the server. The same scenarios run in Chromium (test/browser/client.test.ts).
import t from 'tap'
import { sseClient, SseClientError } from '../src/client/index.js'
import { runClient } from './helpers/client-run.js'
import { limits, runScenarios } from './helpers/client-scenarios.js'
import { startRawServer } from './helpers/hostile.js'

t.test('in Node', t => runScenarios(t, limits, s => runClient(s.url, s.options, s.stop), async () => process.memoryUsage().heapUsed))

t.test('a request that cannot be made throws FST_SSE_CLIENT_INVALID_REQUEST at once, without a retry loop', async t => {
  const server = await startRawServer(t, (_request, response) => { response.end() })
  const read = async (options: Parameters<typeof sseClient>[1]) => {
    for await (const ev of sseClient(`${server.url}/s`, options)) t.fail(`unexpected ${ev.event}`)
  }
  await t.rejects(read({ headers: () => { throw new Error('token refresh failed') } }), {
    code: 'FST_SSE_CLIENT_INVALID_REQUEST', message: 'fastify-typed-sse/client: the request could not be made: token refresh failed'
  })
  await t.rejects(read({ headers: async () => ({ authorization: 'Bearer a\nb' }) }), { code: 'FST_SSE_CLIENT_INVALID_REQUEST' })
  await t.rejects(read({ headers: { 'x-price': '5 €' } }), { code: 'FST_SSE_CLIENT_INVALID_REQUEST' })
  t.equal(server.requests.length, 0, 'nothing was sent')
})

t.test('every failure the iterator throws is an SseClientError with a code', async t => {
  const server = await startRawServer(t, (_request, response) => { response.writeHead(200, { 'content-type': 'text/event-stream' }).end('data: x'.padEnd(100, 'x')) })
  const error = await t.rejects(async () => {
    for await (const ev of sseClient(`${server.url}/s`, { maxEventSize: 50 })) t.fail(`unexpected ${ev.event}`)
  }, SseClientError) as unknown as SseClientError
  t.equal(error.code, 'FST_SSE_CLIENT_EVENT_TOO_LARGE')
})

t.test('bad limits fail at sseClient() with FST_SSE_CLIENT_INVALID_OPTION', async t => {
  const url = 'http://127.0.0.1:1/'
  t.throws(() => sseClient(url, { maxEventSize: 0 }), { code: 'FST_SSE_CLIENT_INVALID_OPTION', message: 'fastify-typed-sse/client: option "maxEventSize" must be a positive integer of characters' })
  t.throws(() => sseClient(url, { heartbeatTimeout: 2 ** 31 }), { message: 'fastify-typed-sse/client: option "heartbeatTimeout" must be an integer of milliseconds from 0 to 2147483647' })
  t.throws(() => sseClient(url, { maxRetryDelay: 1.5 }), { message: /option "maxRetryDelay"/ })
  t.throws(() => sseClient(url, { minRetryDelay: 5000, maxRetryDelay: 1000 }), { message: 'fastify-typed-sse/client: option "minRetryDelay" must be at most maxRetryDelay (1000)' })
  t.throws(() => sseClient(url, { maxRetryAfter: -1 }), { message: /option "maxRetryAfter"/ })
  t.throws(() => sseClient(url, { reconnect: 'no' as never }), { message: 'fastify-typed-sse/client: option "reconnect" must be a boolean' })
  t.throws(() => sseClient(url, { onStatus: 'log' as never }), { message: 'fastify-typed-sse/client: option "onStatus" must be a function' })
  t.throws(() => sseClient(url, { method: 'POST', body: new ReadableStream() }), { message: /option "body" must be readable more than once/ })
  t.doesNotThrow(() => sseClient(url, { method: 'POST', body: new ReadableStream(), reconnect: false }), 'a stream is fine when it is sent once')
  const global = globalThis as { fetch?: typeof fetch }
  const saved = global.fetch
  delete global.fetch
  try {
    t.throws(() => sseClient(url), { message: 'fastify-typed-sse/client: option "fetch" must be given where there is no global fetch' })
    t.doesNotThrow(() => sseClient(url, { fetch: saved! }))
  } finally {
    global.fetch = saved
  }
})
