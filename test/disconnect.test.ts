// When the client goes, the source is told at once: its signal aborts, a pending next() is
// abandoned, return() is called, and nothing (generator, timer, socket, listener) is left.
import t from 'tap'
import { createHook } from 'node:async_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { startApp, until } from './helpers/server.js'
import type { SseContext } from '../src/index.js'
import { rawGet } from './helpers/raw.js'

t.test('a generator awaiting a signal-aware sleep runs its finally as soon as the client leaves', async t => {
  const seen: string[] = []
  const { port } = await startApp(t, app => {
    app.get('/s', (_request, reply) => reply.sse(async function * ({ signal }) {
      signal.addEventListener('abort', () => seen.push('aborted'))
      try {
        yield { data: 'hello' }
        await sleep(60_000, undefined, { signal })
        yield { data: 'never' }
      } finally {
        seen.push('finally')
      }
    }))
  })
  const response = await rawGet(port, '/s')
  await response.waitFor(body => body === 'data: hello\n\n')
  response.close()
  await until(() => seen.includes('finally'), 'the finally block')
  t.same(seen, ['aborted', 'finally'])
})

t.test('a signal first read after the client left is already aborted', async t => {
  let context: SseContext | undefined
  let finallyRan = false
  const { port } = await startApp(t, app => {
    app.get('/s', (_request, reply) => reply.sse(function (ctx) {
      context = ctx
      return (async function * () {
        try {
          yield { data: 'hello' }
          await new Promise(() => {})
        } finally {
          finallyRan = true
        }
      })()
    }))
  })
  const response = await rawGet(port, '/s')
  await response.waitFor(body => body === 'data: hello\n\n')
  response.close()
  await response.ended
  // The generator is stuck in an await that ignores the signal, so its finally has not run;
  // the stream is over all the same, and a signal asked for now says so.
  await until(() => context!.signal.aborted, 'the signal to read as aborted')
  t.equal(finallyRan, false)
  t.match(context!.signal.reason, { message: 'the client closed the connection' })
})

t.test('a pending next() is abandoned: return() is called, and nothing more is written', async t => {
  let resume!: () => void
  const seen: string[] = []
  const { port, logs } = await startApp(t, app => {
    app.get('/s', (_request, reply) => reply.sse(async function * () {
      try {
        yield { data: 'one' }
        // An await that ignores the signal: the generator can only stop once it comes back.
        await new Promise<void>(resolve => { resume = resolve })
        seen.push('resumed')
        yield { data: 'two' }
        seen.push('after the yield')
      } finally {
        seen.push('finally')
      }
    }))
  })
  const response = await rawGet(port, '/s')
  await response.waitFor(body => body === 'data: one\n\n')
  response.close()
  await until(() => logs.some(line => line.msg === 'incoming request'))
  await sleep(50)
  t.same(seen, [], 'still inside the await')
  resume()
  await until(() => seen.includes('finally'), 'the finally block')
  t.same(seen, ['resumed', 'finally'], 'the queued return() ends the generator at its next yield')
})

t.test('a write waiting for drain ends when the client leaves', async t => {
  let finallyRan = false
  let yielded = 0
  const { port } = await startApp(t, app => {
    app.get('/s', (_request, reply) => reply.sse(async function * () {
      try {
        for (;;) {
          yielded++
          yield { data: 'x'.repeat(1000) }
        }
      } finally {
        finallyRan = true
      }
    }, { highWaterMark: 16 * 1024 }))
  })
  const response = await rawGet(port, '/s')
  response.socket.pause()
  // The source stops being pulled once the socket is full; wait until it has stalled there.
  let last = -1
  await until(() => { const stalled = yielded === last && yielded > 0; last = yielded; return stalled }, 'the source to stall')
  t.notOk(finallyRan, 'stalled, not finished')
  response.close()
  await until(() => finallyRan, 'the finally block')
  t.pass('finally ran after the client left during backpressure')
})

t.test('thousands of connect/disconnect cycles leave no generator, timer or socket behind', async t => {
  let started = 0
  let finished = 0
  const { app, port } = await startApp(t, app => {
    app.get('/s', (_request, reply) => reply.sse(async function * ({ signal }) {
      started++
      try {
        yield { data: 'hi' }
        for (;;) {
          await sleep(10_000, undefined, { signal })
          yield { data: 'tick' }
        }
      } finally {
        finished++
      }
    }, { heartbeatInterval: 30_000 }))
  }, { fastify: { logger: false } })

  const live = new Map<string, number>()
  const types = new Map<number, string>()
  const hook = createHook({
    init (id, type) {
      if (type === 'Timeout' || type === 'TCPWRAP') { types.set(id, type); live.set(type, (live.get(type) ?? 0) + 1) }
    },
    destroy (id) {
      const type = types.get(id)
      if (type !== undefined) { types.delete(id); live.set(type, (live.get(type) ?? 0) - 1) }
    }
  }).enable()
  t.teardown(() => hook.disable())

  const cycles = 2000
  for (let round = 0; round < cycles / 50; round++) {
    await Promise.all(Array.from({ length: 50 }, async () => {
      const response = await rawGet(port, '/s')
      await response.waitFor(body => body.startsWith('data: hi\n\n'))
      response.close()
      await response.ended
    }))
  }
  // Polls on setImmediate: a polling timer of its own would count as a live Timeout.
  const settle = async (predicate: () => boolean, what: string): Promise<void> => {
    const deadline = Date.now() + 10_000
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify([...live])}`)
      await new Promise(resolve => setImmediate(resolve))
    }
  }
  await settle(() => finished === cycles, `${cycles} finally blocks (got ${finished})`)
  const open = await new Promise<number>((resolve, reject) => app.server.getConnections((err, n) => err ? reject(err) : resolve(n)))
  await settle(() => (live.get('TCPWRAP') ?? 0) <= 0 && (live.get('Timeout') ?? 0) <= 0, 'sockets and timers to be released')
  t.equal(started, cycles)
  t.equal(finished, cycles, 'every generator ran its finally')
  t.equal(open, 0, 'no socket left open')
  t.ok((live.get('TCPWRAP') ?? 0) <= 0, 'no socket handle left')
  t.ok((live.get('Timeout') ?? 0) <= 0, 'no heartbeat or sleep timer left')
})
