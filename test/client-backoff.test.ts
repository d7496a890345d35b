// Reconnection that a fleet survives: exponential backoff with full jitter and a cap, reset after
// a healthy connection; the server's `retry:` as the base; Retry-After on a 429/503; a server
// that restarts. The same scenarios run in Chromium (test/browser/client.test.ts).
import t from 'tap'
import type { Server } from 'node:http'
import { Type } from '@sinclair/typebox'
import { sseClient } from '../src/client/index.js'
import { backoffDelay, clampRetry, retryAfterDelay } from '../src/client/backoff.js'
import { runClient } from './helpers/client-run.js'
import { backoff, runScenarios } from './helpers/client-scenarios.js'
import { startApp, until } from './helpers/server.js'
import { openStream, startRawServer, write } from './helpers/hostile.js'

t.test('in Node', t => runScenarios(t, backoff, s => runClient(s.url, s.options, s.stop), async () => process.memoryUsage().heapUsed))

t.test('a fleet dropped at once comes back spread over the delay, not in the same millisecond', async t => {
  const clients = 40
  const arrivals: number[] = []
  let dropped = false
  const { url, app } = await startApp(t, app => {
    app.get('/s', { sse: { events: { tick: Type.Object({ n: Type.Integer() }) }, heartbeatInterval: 0 } }, async function * (request, _reply, { signal }) {
      if (dropped) arrivals.push(performance.now())
      yield { event: 'tick', data: { n: 1 } }
      await new Promise(resolve => signal.addEventListener('abort', resolve))
    })
  }, { fastify: { forceCloseConnections: true } })
  const controller = new AbortController()
  let open = 0
  const runs = Array.from({ length: clients }, async () => {
    const client = sseClient(`${url}/s`, { signal: controller.signal, retry: 1000, minRetryDelay: 100 })
    for await (const ev of client) {
      if (ev.event === 'tick') open++
    }
  })
  await until(() => open === clients, 'every client to connect')
  // A deploy: every connection is cut in the same instant.
  dropped = true
  const droppedAt = performance.now()
  ;(app.server as Server).closeAllConnections()
  await until(() => arrivals.length === clients, 'every client to reconnect')
  controller.abort()
  await Promise.all(runs)
  const offsets = arrivals.map(at => at - droppedAt).sort((a, b) => a - b)
  const spread = offsets.at(-1)! - offsets[0]!
  // Uniform over [100, 1000] ms: 40 draws all within 300 ms of each other has a chance near 1e-12.
  t.ok(spread >= 300, `reconnects spread over ${spread.toFixed(0)} ms (${offsets[0]!.toFixed(0)} to ${offsets.at(-1)!.toFixed(0)} ms after the drop)`)
  t.ok(offsets[0]! >= 95, 'none came back before the floor')
})

t.test('the delay: full jitter between the floor and retry × 2^(attempt − 1), capped', async t => {
  const settings = { minRetryDelay: 500, maxRetryDelay: 30_000, maxRetryAfter: 300_000 }
  t.same([1, 2, 3, 4, 5, 6, 7, 40, 1e9].map(n => backoffDelay(n, 3000, settings, () => 1)), [3000, 6000, 12000, 24000, 30000, 30000, 30000, 30000, 30000], 'the ceiling doubles up to the cap')
  t.same([1, 2, 40].map(n => backoffDelay(n, 3000, settings, () => 0)), [500, 500, 500], 'the floor')
  t.equal(backoffDelay(1, 3000, settings, () => 0.5), 1750, 'uniform in between')
  t.equal(backoffDelay(1, 100, { ...settings, minRetryDelay: 500 }, () => 0.5), 100, 'a base below the floor is its own floor')
  t.same([0, 499, 3000, 3_000_000_000].map(retry => clampRetry(retry, settings)), [500, 500, 3000, 30000], 'the server\'s retry: is clamped')
})

t.test('Retry-After: seconds or an HTTP date, clamped, with up to a fifth of jitter', async t => {
  const settings = { minRetryDelay: 500, maxRetryDelay: 30_000, maxRetryAfter: 300_000 }
  const now = Date.parse('Sun, 06 Nov 1994 08:49:37 GMT')
  t.equal(retryAfterDelay('120', settings, now, () => 0), 120_000)
  t.equal(retryAfterDelay(' 120 ', settings, now, () => 1), 144_000)
  t.equal(retryAfterDelay('Sun, 06 Nov 1994 08:49:47 GMT', settings, now, () => 0), 10_000)
  t.equal(retryAfterDelay('Sun, 06 Nov 1994 08:40:00 GMT', settings, now, () => 0), 500, 'a past date: the floor')
  t.equal(retryAfterDelay('0', settings, now, () => 0), 500)
  t.equal(retryAfterDelay('99999999999', settings, now, () => 1), 300_000, 'held to maxRetryAfter')
  t.equal(retryAfterDelay('soon', settings, now), undefined, 'unreadable: the backoff decides')
  t.equal(retryAfterDelay('-5', settings, now), undefined)
  t.equal(retryAfterDelay(null, settings, now), undefined)
})

t.test('a connection that stayed open 5 s without an event was healthy: the count starts again', async t => {
  const server = await startRawServer(t, async (_request, response) => {
    const n = server.requests.length
    // Two refusals (attempts 1 and 2), then a quiet stream cut after 5.5 s, then another cut
    // after 0.1 s: the first reconnect after the long one is attempt 1 again, the next attempt 2.
    if (n <= 2) {
      response.writeHead(503).end()
      return
    }
    openStream(response)
    await write(response, ': hello\n\n')
    setTimeout(() => response.socket?.destroy(), n === 3 ? 5500 : 100)
  })
  const attempts: number[] = []
  const controller = new AbortController()
  const client = sseClient(`${server.url}/s`, {
    signal: controller.signal,
    retry: 50,
    minRetryDelay: 10,
    heartbeatTimeout: 0,
    onReconnect: info => {
      attempts.push(info.attempt)
      if (attempts.length === 4) controller.abort()
    }
  })
  for await (const ev of client) t.fail(`unexpected ${String(ev.data)}`)
  t.same(attempts, [1, 2, 1, 2])
})
