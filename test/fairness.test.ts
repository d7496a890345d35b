// One stream never keeps the event loop to itself: whatever its source does (never await, yield
// only events that are skipped or encode to nothing, or stream as fast as a local reader takes
// it), other requests on the same server are answered while it runs, and a client that leaves
// is noticed.
import t from 'tap'
import { Type } from '@sinclair/typebox'
import { startApp, until } from './helpers/server.js'
import { rawGet } from './helpers/raw.js'
import { startReader } from './helpers/reader.js'

// Every bound below is one that only a wedged or starved server breaks: a fair one answers a
// ping in a few milliseconds, so 20 pings take a fraction of a second even on a busy machine.
const SOURCE_DEADLINE_MS = 20_000

/**
 * Asks for /ping one request after another while `running()` holds, and returns how many were
 * answered while it still held (stopping at `want`).
 */
async function pingWhile (url: string, running: () => boolean, want: number): Promise<number> {
  let answered = 0
  while (answered < want && running()) {
    const response = await fetch(`${url}/ping`)
    const text = await response.text()
    if (!running()) break
    if (text === 'pong') answered++
  }
  return answered
}

for (const [what, source, options] of [
  ['whose events are all skipped (invalid under onInvalidEvent: skip)',
    function * () { for (;;) yield { event: 'tick', data: 'not a number' } },
    { events: { tick: Type.Number() } }],
  ['whose events all encode to nothing ({})',
    function * () { for (;;) yield {} },
    {}]
] as const) {
  t.test(`a source that never awaits and ${what} does not wedge the server`, async t => {
    let running = true
    let stoppedBy = ''
    const { port, url } = await startApp(t, app => {
      app.get('/ping', async () => 'pong')
      app.get('/s', (_request, reply) => reply.sse(function * () {
        // Ends on its own after a while, so that today's wedge fails this test instead of hanging it.
        const deadline = Date.now() + SOURCE_DEADLINE_MS
        try {
          for (const event of source()) {
            if (Date.now() > deadline) { stoppedBy = 'its deadline'; return }
            yield event as never
          }
        } finally {
          stoppedBy ||= 'the stream'
          running = false
        }
      }, options))
    }, { fastify: { logger: false } })
    const client = await rawGet(port, '/s')
    t.equal(client.status, 200)
    t.equal(await pingWhile(url, () => running, 5), 5, 'other requests are answered while the source runs')
    client.close()
    await until(() => !running, 'the source\'s finally once the client left')
    t.equal(stoppedBy, 'the stream', 'the client leaving was noticed and the source was returned')
    t.equal(client.body(), '', 'nothing was sent')
  })
}

for (const [kind, makeSource] of [
  ['sync', (state: { yielded: number, stop: boolean }) => function * () {
    const deadline = Date.now() + SOURCE_DEADLINE_MS
    while (!state.stop && Date.now() < deadline) yield { data: `{"n":${state.yielded++},"pad":"${'x'.repeat(40)}"}` }
  }],
  ['async', (state: { yielded: number, stop: boolean }) => async function * () {
    const deadline = Date.now() + SOURCE_DEADLINE_MS
    while (!state.stop && Date.now() < deadline) yield { data: `{"n":${state.yielded++},"pad":"${'x'.repeat(40)}"}` }
  }]
] as const) {
  t.test(`a tight ${kind} generator streaming to a fast reader leaves room for other requests`, async t => {
    const state = { yielded: 0, stop: false }
    let running = true
    const { port, url } = await startApp(t, app => {
      app.get('/ping', async () => 'pong')
      app.get('/fast', (_request, reply) => {
        reply.raw.once('close', () => { running = false })
        return reply.sse(makeSource(state))
      })
    }, { fastify: { logger: false } })
    const reader = startReader(t, port, '/fast')
    await until(() => state.yielded > 0, 'the stream to start')
    // Progress of the stream between the pings: both really ran at the same time.
    const seen: number[] = []
    const pings = await pingWhile(url, () => { seen.push(state.yielded); return running }, 20)
    state.stop = true
    const bytes = await reader.done
    t.equal(pings, 20, '20 pings answered while the stream ran')
    t.ok(seen.at(-1)! > seen[0]!, `the stream went on between the pings (${seen[0]} to ${seen.at(-1)} events)`)
    t.ok(bytes > 0, `the reader got ${bytes} bytes`)
  })
}
