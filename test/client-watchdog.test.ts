// The watchdog: a connection that falls silent (no FIN) is closed after `heartbeatTimeout` and
// resumed with Last-Event-ID; heartbeats keep a quiet one alive; a caller that is slow to read is
// not mistaken for a dead connection. The same scenarios run in Chromium.
import t from 'tap'
import { Type } from '@sinclair/typebox'
import { sseClient } from '../src/client/index.js'
import { runClient } from './helpers/client-run.js'
import { runScenarios, watchdog } from './helpers/client-scenarios.js'
import { startApp } from './helpers/server.js'

t.test('in Node', t => runScenarios(t, watchdog, s => runClient(s.url, s.options, s.stop), async () => process.memoryUsage().heapUsed))

t.test('a caller that holds an event longer than heartbeatTimeout does not trip the watchdog', async t => {
  let connections = 0
  const { url } = await startApp(t, app => {
    app.get('/s', { sse: { events: { tick: Type.Object({ n: Type.Integer() }) }, heartbeatInterval: 0 } }, async function * (_request, _reply, { signal }) {
      connections++
      for (let n = 1; n <= 3 && !signal.aborted; n++) yield { event: 'tick', id: n, data: { n } }
      await new Promise(resolve => signal.addEventListener('abort', resolve))
    })
  }, { fastify: { forceCloseConnections: true } })
  const seen: number[] = []
  const reconnects: unknown[] = []
  for await (const ev of sseClient(`${url}/s`, { events: { tick: Type.Object({ n: Type.Integer() }) }, heartbeatTimeout: 300, onReconnect: info => reconnects.push(info) })) {
    seen.push(ev.data.n)
    // Busy elsewhere for over twice the timeout, while the next events wait in the buffer.
    if (ev.data.n === 1) await new Promise(resolve => setTimeout(resolve, 800))
    if (seen.length === 3) break
  }
  t.same(seen, [1, 2, 3])
  t.same(reconnects, [])
  t.equal(connections, 1)
})

t.test('heartbeatTimeout: 0 turns the watchdog off', async t => {
  const { url } = await startApp(t, app => {
    app.get('/s', { sse: { heartbeatInterval: 0 } }, async function * (_request, _reply, { signal }) {
      yield { data: 'first' }
      await new Promise(resolve => setTimeout(resolve, 700))
      if (!signal.aborted) yield { data: 'after a silence' }
    })
  }, { fastify: { forceCloseConnections: true } })
  const seen: unknown[] = []
  for await (const ev of sseClient(`${url}/s`, { heartbeatTimeout: 0, reconnect: false })) seen.push(ev.data)
  t.same(seen, ['first', 'after a silence'])
})
