// Idle streams get a `:` comment every heartbeatInterval, so proxies keep them; real events
// postpone it.
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { startApp } from './helpers/server.js'
import { rawGet } from './helpers/raw.js'

t.test('an idle stream gets comment heartbeats', async t => {
  const { port } = await startApp(t, app => {
    app.get('/s', (_request, reply) => reply.sse(async function * ({ signal }) {
      yield { data: 'start' }
      await sleep(60_000, undefined, { signal })
    }, { heartbeatInterval: 50 }))
  })
  const response = await rawGet(port, '/s')
  await response.waitFor(body => body === 'data: start\n\n:\n\n:\n\n', 'two heartbeats')
  t.same(response.events.map(e => e.data), ['start'], 'heartbeats dispatch no event')
  response.close()
})

t.test('events postpone the heartbeat; it comes once the stream goes quiet', async t => {
  const { port } = await startApp(t, app => {
    app.get('/s', (_request, reply) => reply.sse(async function * ({ signal }) {
      // Events every 20 ms for about 1 s: far more often than the 400 ms interval.
      for (let n = 0; n < 50; n++) {
        yield { data: String(n) }
        await sleep(20, undefined, { signal })
      }
      yield { data: 'quiet now' }
      await sleep(60_000, undefined, { signal })
    }, { heartbeatInterval: 400 }))
  })
  const response = await rawGet(port, '/s')
  const body = await response.waitFor(body => body.endsWith(':\n\n'), 'a heartbeat')
  t.ok(body.endsWith('data: quiet now\n\n:\n\n'), 'the first heartbeat follows the last event')
  response.close()
})

t.test('heartbeatInterval: 0 turns heartbeats off', async t => {
  const { port } = await startApp(t, app => {
    app.get('/s', (_request, reply) => reply.sse(async function * ({ signal }) {
      yield { data: 'start' }
      await sleep(300, undefined, { signal })
      yield { data: 'end' }
    }, { heartbeatInterval: 0 }))
  })
  const response = await rawGet(port, '/s')
  await response.ended
  t.equal(response.body(), 'data: start\n\ndata: end\n\n')
})
