// A client that takes nothing while data waits for it is dropped after writeTimeout, so a stalled
// client does not hold memory and a file descriptor for ever; a slow client that reads stays.
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { startApp, until } from './helpers/server.js'
import { rawGet } from './helpers/raw.js'

// Streams 1 KB events for as long as it is pulled, and says when its finally has run.
function endless (state: { finished: boolean, yielded: number }) {
  return function * () {
    try {
      for (;;) {
        state.yielded++
        yield { data: 'x'.repeat(1000) }
      }
    } finally {
      state.finished = true
    }
  }
}

t.test('a client that never reads is disconnected after writeTimeout and the source\'s finally runs', async t => {
  const stalled = { finished: false, yielded: 0 }
  const unlimited = { finished: false, yielded: 0 }
  const { port, logs } = await startApp(t, app => {
    app.get('/s', (_request, reply) => reply.sse(endless(stalled), { writeTimeout: 500 }))
    app.get('/off', (_request, reply) => reply.sse(endless(unlimited), { writeTimeout: 0 }))
  })
  const [client, other] = await Promise.all([rawGet(port, '/s'), rawGet(port, '/off')])
  client.socket.pause()
  other.socket.pause()
  await until(() => stalled.finished, 'the stalled stream to be dropped')
  const dropped = logs.find(line => line.msg === 'fastify-typed-sse: the client took nothing for writeTimeout ms while data waited; its connection was closed')
  t.match(dropped, { level: 40, writeTimeout: 500, pending: Number })
  // The paused socket sees the connection go once it reads again: not a clean end.
  client.socket.resume()
  await client.ended
  t.notOk(client.terminated(), 'dropped, not ended cleanly')

  // writeTimeout: 0 turns it off: the other stalled client, paused as long, is still connected.
  await sleep(1000)
  t.notOk(unlimited.finished, 'with writeTimeout: 0 the stalled stream stays')
  t.notOk(other.socket.destroyed)
  other.close()
  await until(() => unlimited.finished, 'the other stream to end once its client leaves')
})

t.test('a client that keeps reading, with pauses shorter than writeTimeout, is not disconnected', async t => {
  const state = { finished: false, yielded: 0 }
  const { port, logs } = await startApp(t, app => {
    app.get('/s', (_request, reply) => reply.sse(endless(state), { writeTimeout: 500, highWaterMark: 16 * 1024 }))
  })
  const client = await rawGet(port, '/s')
  // Reads in short bursts with pauses of 100 ms: slower than the source, never still for 500 ms.
  const deadline = Date.now() + 2500
  let read = 0
  while (Date.now() < deadline) {
    client.socket.pause()
    await sleep(100)
    const before = client.body().length
    client.socket.resume()
    await until(() => client.body().length > before, 'the client to read something')
    read = client.body().length
  }
  t.notOk(state.finished, 'the stream is still open')
  t.ok(read > 0, `the client read ${read} characters`)
  t.notOk(logs.some(line => line.msg.includes('writeTimeout')), 'nothing about writeTimeout was logged')
  client.close()
  await until(() => state.finished, 'the source\'s finally once the client leaves')
})
