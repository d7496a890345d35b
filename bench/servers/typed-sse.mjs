// This plugin, fastify-typed-sse, compiled from ../src into node_modules by run.sh. Every event is
// checked against its TypeBox schema and serialized by fast-json-stringify; VALIDATE=0 turns
// the check off (the serializers stay). HUB_REDIS=redis://… puts the hub on Redis (KEY_PREFIX
// names the run's streams, so instances of one run share topics and runs do not); RETAIN sets how
// many events a topic keeps for replay, QUEUE_SIZE how many a subscriber may have queued.
// TRACED=1 subscribes a no-op to every diagnostics channel of the plugin: the cost of being listened to.
import Fastify from 'fastify'
import { subscribe } from 'node:diagnostics_channel'
import * as plugin from 'fastify-typed-sse'
import { aborted, counters, HEARTBEAT_MS, Inbox, LargeEvent, listenPort, makeEvent, serve, SmallEvent, streamParams } from './shared.mjs'

const validate = process.env.VALIDATE !== '0'
const small = { message: SmallEvent }
const large = { message: LargeEvent }
const redis = process.env.HUB_REDIS || undefined
const hub = {
  ...(redis === undefined ? {} : { redis, keyPrefix: process.env.KEY_PREFIX ?? 'bench:' }),
  ...(process.env.RETAIN === undefined ? {} : { retain: Number(process.env.RETAIN) }),
  ...(process.env.QUEUE_SIZE === undefined ? {} : { queueSize: Number(process.env.QUEUE_SIZE) })
}

const ssePlugin = plugin.default
const traced = process.env.TRACED === '1'
if (traced) {
  if (plugin.SSE_CHANNELS === undefined) throw new Error('TRACED=1: this build of the plugin has no diagnostics channels')
  const noop = () => {}
  for (const name of Object.values(plugin.SSE_CHANNELS)) subscribe(name, noop)
}

const app = Fastify()
await app.register(ssePlugin, { validate, heartbeatInterval: HEARTBEAT_MS, hub })

app.get('/stream', (request, reply) => {
  const { n, size } = streamParams(request.url)
  const source = async function * () {
    for (let seq = 0; seq < n; seq++) yield { data: makeEvent(size, seq) }
  }
  // `?validate=0` turns the check off for this stream only: the validation scenario alternates
  // streams with and without it on one server, so both see the same process and the same moment.
  const check = request.query.validate === undefined ? {} : { validate: request.query.validate !== '0' }
  return reply.sse(source(), { events: size === 'large' ? large : small, ...check })
})

// The broadcast: the plugin's hub (`app.sse.topic()`: each event checked and encoded once for
// every subscriber). HUB=0, or a build without the hub, falls back to the natural broadcast
// without it: one inbox per subscriber, drained by its own generator.
const topic = process.env.HUB !== '0' && typeof app.sse?.topic === 'function' ? app.sse.topic('bench', { events: small }) : undefined
const inboxes = new Set()
if (topic !== undefined) {
  const subscribe = topic.subscribe()
  app.get('/sub', (request, reply) => {
    // Counted on the response's close, as the peers' servers do: reading `context.signal`
    // would make the AbortController that a hub subscription does not otherwise need.
    counters.subscribers++
    reply.raw.once('close', () => { counters.subscribers-- })
    return reply.sse(subscribe)
  })
} else {
  app.get('/sub', { sse: { events: small } }, async function * (request, reply, { signal }) {
    const inbox = new Inbox()
    inboxes.add(inbox)
    counters.subscribers++
    signal.addEventListener('abort', () => inbox.close(), { once: true })
    try {
      while (!inbox.closed) {
        await inbox.wait()
        while (inbox.queue.length > 0) yield { data: inbox.queue.shift() }
      }
    } finally {
      inboxes.delete(inbox)
      counters.subscribers--
    }
  })
}

app.get('/one', { sse: { events: small } }, async function * (request, reply, { signal }) {
  counters.alive++
  try {
    yield { data: makeEvent('small', 0) }
    await aborted(signal)
  } finally {
    counters.alive--
  }
})

// A failed publish is counted (the runner reports it) rather than only logged.
let publishFailures = 0
function broadcast (data) {
  if (topic !== undefined) topic.publish({ data }).catch(() => { publishFailures++ })
  else for (const inbox of inboxes) inbox.push(data)
}

/**
 * Publishes `count` events as fast as the topic stores them, at most `inFlight` at a time (as
 * many request handlers publishing at once would). Resolves with the time taken, the CPU spent,
 * and the first and last ids.
 */
async function publishBurst ({ count, inFlight }) {
  const cpu = process.cpuUsage()
  const started = performance.now()
  let seq = 0
  let firstId
  let lastId
  const worker = async () => {
    while (seq < count) {
      const mine = seq++
      const id = await topic.publish({ data: makeEvent('small', mine) })
      if (mine === 0) firstId = id
      if (mine === count - 1) lastId = id
    }
  }
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, worker))
  const used = process.cpuUsage(cpu)
  return { ms: performance.now() - started, cpuSeconds: (used.user + used.system) / 1e6, firstId, lastId }
}

await app.listen({ port: listenPort, host: '127.0.0.1' })
const name = `fastify-typed-sse${validate ? '' : ', validate: false'}${traced ? ', traced' : ''}${topic === undefined ? '' : redis === undefined ? ', memory hub' : ', Redis hub'}`
await serve({
  name,
  port: app.server.address().port,
  broadcast,
  commands: {
    publishBurst,
    publishFailures: () => ({ publishFailures })
  }
})
