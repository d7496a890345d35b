// One log line per stream: when a stream that started ends, `stream ended` on request.log (so
// with the request id), at the level of `endLogLevel`, with the reason, duration, events and bytes.
import t from 'tap'
import { startApp, until } from './helpers/server.js'
import { rawGet } from './helpers/raw.js'

t.test('a stream that ends logs one "stream ended" line at info, with the request id, reason, duration, events and bytes', async t => {
  const { port, logs } = await startApp(t, app => {
    app.get('/two', (_request, reply) => reply.sse([{ data: 'a' }, { data: 'b' }]))
  })
  const client = await rawGet(port, '/two')
  await client.ended
  await until(() => logs.some(line => line.msg === 'stream ended'), 'the line')
  const ended = logs.filter(line => line.msg === 'stream ended')
  const incoming = logs.find(line => line.msg === 'incoming request')
  t.equal(ended.length, 1)
  t.same(Object.keys(ended[0]!).filter(key => !['time', 'pid', 'hostname'].includes(key)).sort(),
    ['bytes', 'durationMs', 'events', 'level', 'msg', 'reason', 'reqId'])
  t.match(ended[0], { level: 30, reqId: incoming?.reqId, reason: 'source-done', events: 2, bytes: Buffer.byteLength(client.body()), durationMs: Number })
})

t.test('the line says why: the client left', async t => {
  const { port, logs } = await startApp(t, app => {
    app.get('/wait', { sse: true }, async function * (_request, _reply, { signal }) {
      yield { data: 'hello' }
      await new Promise(resolve => signal.addEventListener('abort', resolve, { once: true }))
    })
  })
  const client = await rawGet(port, '/wait')
  await client.waitFor(() => client.events.length === 1, 'the first event')
  client.close()
  await until(() => logs.some(line => line.msg === 'stream ended'), 'the line')
  t.match(logs.find(line => line.msg === 'stream ended'), { level: 30, reason: 'client-gone', events: 1 })
})

t.test('endLogLevel sets the level per plugin, route or call; false and "silent" log nothing', async t => {
  const { port, logs } = await startApp(t, app => {
    app.get('/plugin', (_request, reply) => reply.sse([{ data: 'a' }]))
    app.get('/route', { sse: { endLogLevel: 'warn' } }, function * () { yield { data: 'a' } })
    app.get('/call', (_request, reply) => reply.sse([{ data: 'a' }], { endLogLevel: false }))
    app.get('/silent', (_request, reply) => reply.sse([{ data: 'a' }], { endLogLevel: 'silent' }))
  }, { plugin: { endLogLevel: 'debug' } })
  for (const path of ['/plugin', '/route', '/call', '/silent']) await (await rawGet(port, path)).ended
  // The line is written as the response ends, before the client can see the end: all are in.
  const ended = logs.filter(line => line.msg === 'stream ended')
  const urlOf = (reqId: unknown): unknown => logs.find(line => line.msg === 'incoming request' && line.reqId === reqId)?.req
  t.same(ended.map(line => [line.level, (urlOf(line.reqId) as { url: string }).url]), [[20, '/plugin'], [40, '/route']])
})

t.test('an invalid endLogLevel fails register, naming the option and the levels', async t => {
  await t.rejects(startApp(t, () => {}, { plugin: { endLogLevel: 'loud' as never } }), {
    code: 'FST_SSE_INVALID_OPTION',
    message: /endLogLevel.*"fatal", "error", "warn", "info", "debug", "trace", "silent", or false/
  })
  await t.rejects(startApp(t, () => {}, { plugin: { endLogLevel: true as never } }), { code: 'FST_SSE_INVALID_OPTION' })
})

t.test('the line says why: an invalid event under onInvalidEvent close, a deleted topic, a stalled client, the server closing', async t => {
  const { app, port, logs } = await startApp(t, app => {
    app.get('/invalid', (_request, reply) => reply.sse([{ data: 'a' }, 42 as never], { onInvalidEvent: 'close' }))
    const room = app.sse.topic('room')
    app.get('/room', (_request, reply) => reply.sse(room.subscribe()))
    app.get('/endless', (_request, reply) => reply.sse(function * () { for (;;) yield { data: 'x'.repeat(1000) } }, { writeTimeout: 300 }))
    app.get('/wait', { sse: true }, async function * (_request, _reply, { signal }) {
      yield { data: 'hello' }
      await new Promise(resolve => signal.addEventListener('abort', resolve, { once: true }))
    })
  })
  const reasonOf = (url: string): unknown => {
    const reqId = logs.find(line => line.msg === 'incoming request' && (line.req as { url: string }).url === url)?.reqId
    return logs.find(line => line.msg === 'stream ended' && line.reqId === reqId)?.reason
  }
  await (await rawGet(port, '/invalid')).ended
  t.equal(reasonOf('/invalid'), 'invalid-event')

  const room = await rawGet(port, '/room')
  await room.waitFor(body => body.startsWith('id: '), 'the opening id')
  await app.sse.topic('room').delete()
  await room.ended
  t.equal(reasonOf('/room'), 'topic-deleted')

  const stalled = await rawGet(port, '/endless')
  stalled.socket.pause()
  await until(() => reasonOf('/endless') !== undefined, 'the stalled stream to be dropped')
  t.equal(reasonOf('/endless'), 'write-timeout')
  stalled.close()

  const waiting = await rawGet(port, '/wait')
  await waiting.waitFor(() => waiting.events.length === 1, 'the first event')
  await app.close()
  t.equal(reasonOf('/wait'), 'server-closing')
})
