// The status a page can render: `client.status` at any time, and `onStatus` for each change.
import t from 'tap'
import { sseClient, type SseClientStatus } from '../src/client/index.js'
import { runClient } from './helpers/client-run.js'
import { runScenarios, status } from './helpers/client-scenarios.js'
import { startRawServer, openStream, write } from './helpers/hostile.js'

t.test('in Node', t => runScenarios(t, status, s => runClient(s.url, s.options, s.stop), async () => process.memoryUsage().heapUsed))

t.test('client.status: initial before iterating, open while reading, closed with why after', async t => {
  const server = await startRawServer(t, async (_request, response) => {
    openStream(response)
    await write(response, 'data: one\n\ndata: two\n\n')
  })
  const seen: SseClientStatus[] = []
  const client = sseClient(`${server.url}/s`, { onStatus: status => seen.push(status) })
  t.same(client.status, { state: 'closed', reason: 'initial' })
  for await (const ev of client) {
    t.same(client.status, { state: 'open' }, `open while reading ${String(ev.data)}`)
    if (ev.data === 'two') break
  }
  t.same(client.status, { state: 'closed', reason: 'done' }, 'leaving the loop: done')
  t.same(seen.map(s => s.state), ['connecting', 'open', 'closed'])

  const controller = new AbortController()
  const aborted = sseClient(`${server.url}/s`, { signal: controller.signal })
  for await (const ev of aborted) if (ev.data === 'two') controller.abort()
  t.same(aborted.status, { state: 'closed', reason: 'aborted' })

  const failing = sseClient(`${server.url}/s`, { events: {} as Record<string, never> })
  await t.rejects(async () => { for await (const ev of failing) t.fail(String(ev)) }, { code: 'FST_SSE_CLIENT_UNKNOWN_EVENT' })
  t.match(failing.status, { state: 'closed', reason: 'error', error: { code: 'FST_SSE_CLIENT_UNKNOWN_EVENT' } })
})

t.test('an error thrown by a callback ends the iteration as it is, and the status says so', async t => {
  const server = await startRawServer(t, async (_request, response) => {
    openStream(response)
    await write(response, 'data: one\n\n')
  })
  const mine = new Error('my bug')
  const client = sseClient(`${server.url}/s`, { onOpen: () => { throw mine } })
  await t.rejects(async () => { for await (const ev of client) t.fail(String(ev)) }, mine)
  t.same(client.status, { state: 'closed', reason: 'error', error: mine })
})

t.test('aborting from onReconnect or onStatus ends the iteration before any wait', async t => {
  const server = await startRawServer(t, async (_request, response) => {
    openStream(response)
    response.end('data: once\n\n')
  })
  const controller = new AbortController()
  const client = sseClient(`${server.url}/s`, { signal: controller.signal, retry: 600_000, onReconnect: () => controller.abort() })
  const received: unknown[] = []
  for await (const ev of client) received.push(ev.data)
  t.same(received, ['once'])
  t.same(client.status, { state: 'closed', reason: 'aborted' })
  t.equal(server.requests.length, 1)
})
