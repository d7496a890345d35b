// The soak's server, in a process of its own (run by test/soak/soak.ts with --expose-gc): the
// plugin with every kind of route the load uses, a publisher on a hub topic, and IPC commands to
// read its heap after GC, its counters, and to close it while streams are open.
import Fastify from 'fastify'
import { Type } from '@sinclair/typebox'
import { setTimeout as sleep } from 'node:timers/promises'
import ssePlugin from '../../src/index.js'

const PUBLISH_INTERVAL_MS = Number(process.env.SOAK_PUBLISH_INTERVAL_MS ?? 10)
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with --expose-gc')

const counters = { started: 0, finished: 0, published: 0, publishFailures: 0 }
// Errors only: every client the write timeout drops is logged at warn, by design.
const app = Fastify({ logger: { level: 'error' } })
await app.register(ssePlugin, { heartbeatInterval: 5000, writeTimeout: 10_000 })

const Tick = Type.Object({ seq: Type.Integer(), at: Type.Number() })
const topic = app.sse.topic('soak', { events: { tick: Tick } })
const small = { message: Type.Object({ n: Type.Integer(), text: Type.String() }) }

/** Counts a source in and out, so the end can check that every one ran its cleanup. */
function counted<T> (source: AsyncIterable<T> | Iterable<T>): AsyncIterable<T> {
  return (async function * () {
    counters.started++
    try {
      yield * source
    } finally {
      counters.finished++
    }
  })()
}

app.get('/ping', async () => 'pong')

// A tight sync generator: never awaits.
app.get('/fast', (request, reply) => {
  const n = Number((request.query as { n?: string }).n ?? 100_000)
  return reply.sse(counted((function * () {
    for (let i = 0; i < n; i++) yield { data: { n: i, text: 'soak' } }
  })()), { events: small })
})

// A tight async generator: awaits nothing but its own yields.
app.get('/fast-async', (request, reply) => {
  const n = Number((request.query as { n?: string }).n ?? 100_000)
  return reply.sse(counted((async function * () {
    for (let i = 0; i < n; i++) yield { data: { n: i, text: 'soak' } }
  })()), { events: small })
})

// Endless 1 KB events, for the slow readers (and the ones that never read).
app.get('/bulk', (_request, reply) => reply.sse(counted((function * () {
  const text = 'x'.repeat(1000)
  for (;;) yield { data: text }
})())))

// An idle stream (heartbeats only), and the churn route (one event, then idle).
app.get('/idle', { sse: true }, (_request, _reply, { signal }) => counted((async function * () {
  yield { comment: 'open' }
  // Ends when the client leaves or the server closes: the abort is the expected way out.
  await sleep(3_600_000, undefined, { signal }).catch(() => {})
})()))

app.get('/topic', (_request, reply) => reply.sse(topic.subscribe()))

let seq = 0
const publisher = setInterval(() => {
  const event = { event: 'tick' as const, data: { seq: seq++, at: Date.now() } }
  topic.publish(event).then(() => { counters.published++ }, () => { counters.publishFailures++ })
}, PUBLISH_INTERVAL_MS)

await app.listen({ port: 0, host: '127.0.0.1' })

process.on('message', (message: { id: number, command: string }) => {
  const reply = (value: unknown): void => { process.send!({ id: message.id, value }) }
  if (message.command === 'gc') {
    gc(); gc()
    const { heapUsed, rss } = process.memoryUsage()
    reply({ heapUsed, rss })
  } else if (message.command === 'counters') {
    reply({ ...counters, lastSeq: seq - 1 })
  } else if (message.command === 'close') {
    clearInterval(publisher)
    const started = performance.now()
    app.close().then(() => {
      const ms = performance.now() - started
      // Sources' cleanup is given the same turn to finish that close() gave it.
      setImmediate(() => reply({ ms, ...counters }))
    }, (err: Error) => reply({ error: err.message }))
  }
})
process.send!({ ready: true, port: (app.server.address() as { port: number }).port })
