// maxStreams: a flood of idle streams cannot take every file descriptor. Beyond the limit a
// request is answered 503 with Retry-After before its source is called; a slot frees when the
// stream ends or its client leaves, whatever stage the stream was at.
import t from 'tap'
import { connect, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { startApp, until } from './helpers/server.js'
import { rawGet, type RawResponse } from './helpers/raw.js'

/** A source that sends one event and then waits, honouring its signal, until the client leaves. */
function idle (started: { count: number }) {
  return async function * ({ signal }: { signal: AbortSignal }) {
    started.count++
    yield { data: 'hello' }
    await sleep(60_000, undefined, { signal })
  }
}

async function open (port: number, path: string): Promise<RawResponse> {
  const response = await rawGet(port, path)
  await response.waitFor(body => body === 'data: hello\n\n', `the first event of ${path}`)
  return response
}

async function refused (port: number, path: string): Promise<{ status: number, retryAfter: string | undefined, body: unknown }> {
  const response = await rawGet(port, path)
  const body = await response.waitFor(body => body.endsWith('}'), 'the error body')
  response.close()
  return { status: response.status, retryAfter: response.headers['retry-after'], body: JSON.parse(body) }
}

/** Asks for `path` until a stream opens (a slot has freed), 10 s at most. */
async function openWhenFree (port: number, path: string): Promise<RawResponse> {
  const deadline = Date.now() + 10_000
  for (;;) {
    const response = await rawGet(port, path)
    if (response.status === 200) return response
    response.close()
    if (Date.now() > deadline) throw new Error(`no slot freed for ${path}`)
    await sleep(20)
  }
}

/** Sends a request and returns its socket without waiting for a response head. */
async function sendRequest (port: number, path: string): Promise<Socket> {
  const socket = connect({ port, host: '127.0.0.1' })
  await new Promise(resolve => socket.once('connect', resolve))
  socket.write(`GET ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: text/event-stream\r\n\r\n`)
  socket.on('error', () => {})
  return socket
}

t.test('beyond the plugin\'s maxStreams a request gets 503 with Retry-After, and its source is not called', async t => {
  const started = { count: 0 }
  const { port } = await startApp(t, app => {
    app.get('/a', (_request, reply) => reply.sse(idle(started)))
    app.get('/b', { sse: true }, (_request, _reply, context) => idle(started)(context))
    app.get('/plain', async () => 'still answered')
  }, { plugin: { maxStreams: 2 } })
  const first = await open(port, '/a')
  const second = await open(port, '/b')
  t.same(await refused(port, '/a'), {
    status: 503,
    retryAfter: '5',
    body: {
      statusCode: 503,
      code: 'FST_SSE_TOO_MANY_STREAMS',
      error: 'Service Unavailable',
      message: 'fastify-typed-sse: the app already has 2 open streams (maxStreams); retry later, or raise maxStreams if the server has room'
    }
  })
  t.equal((await refused(port, '/b')).status, 503, 'the limit counts every route of the instance')
  t.equal(started.count, 2, 'the refused requests never called their source')
  t.equal(await (await fetch(`http://127.0.0.1:${port}/plain`)).text(), 'still answered', 'other routes are not limited')

  // A slot frees when its client leaves.
  first.close()
  const third = await openWhenFree(port, '/a')
  await third.waitFor(body => body === 'data: hello\n\n')
  t.equal(started.count, 3, 'the new stream took the slot the client left')
  t.equal((await refused(port, '/a')).status, 503, 'and the instance is full again')
  second.close()
  third.close()
})

t.test('a slot frees when the stream ends, and when its source fails before the stream starts', async t => {
  const { port } = await startApp(t, app => {
    app.get('/short', (_request, reply) => reply.sse([{ data: 'one' }]))
    app.get('/fails', (_request, reply) => reply.sse(async function * () { throw new Error('no such room') }))
  }, { plugin: { maxStreams: 1 } })
  for (let n = 0; n < 3; n++) {
    const response = await rawGet(port, '/short')
    await response.ended
    t.equal(response.status, 200, `stream ${n + 1} of a finite source`)
    const failed = await rawGet(port, '/fails')
    t.equal(failed.status, 500, `failed start ${n + 1}`)
    failed.close()
  }
})

t.test('a stream still starting counts, and frees its slot when its client leaves before it starts', async t => {
  let calls = 0
  const { port } = await startApp(t, app => {
    app.get('/slow', (_request, reply) => reply.sse(async ({ signal }) => {
      calls++
      await sleep(60_000, undefined, { signal })
      return []
    }))
  }, { plugin: { maxStreams: 1 } })
  // Its response head never comes while the source starts, so the request is sent by hand.
  const starting = await sendRequest(port, '/slow')
  await until(() => calls === 1, 'the first source to be called')
  t.equal((await refused(port, '/slow')).status, 503, 'the starting stream holds the only slot')
  // The client leaves while its source is still starting: the slot frees.
  starting.destroy()
  const next = await sendRequest(port, '/slow')
  await until(() => calls === 2, 'the next source to be called')
  next.destroy()
  t.pass('a new stream started once the starting one\'s client left')
})

t.test('maxStreams on a route (route option or reply.sse option) limits that route on top of the instance', async t => {
  const started = { count: 0 }
  const { port } = await startApp(t, app => {
    app.get('/route-option', { sse: { maxStreams: 1 } }, (_request, _reply, context) => idle(started)(context))
    app.get('/call-option', (_request, reply) => reply.sse(idle(started), { maxStreams: 1 }))
    app.get('/unlimited', (_request, reply) => reply.sse(idle(started)))
  }, { plugin: { maxStreams: 4 } })
  const a = await open(port, '/route-option')
  const b = await open(port, '/call-option')
  const refusedA = await refused(port, '/route-option')
  t.equal(refusedA.status, 503)
  t.equal(refusedA.retryAfter, '5')
  t.match(refusedA.body, { code: 'FST_SSE_TOO_MANY_STREAMS', message: /this route already has 1 open streams/ })
  t.equal((await refused(port, '/call-option')).status, 503)
  const c = await open(port, '/unlimited')
  const d = await open(port, '/unlimited')
  t.match((await refused(port, '/unlimited')).body, { message: /the app already has 4 open streams/ }, 'the instance limit still applies')
  for (const response of [a, b, c, d]) response.close()
})
