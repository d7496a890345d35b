// This plugin, fastify-typed-sse, compiled from ../src into node_modules by run.sh. Every event is
// checked against its TypeBox schema and serialized by fast-json-stringify; VALIDATE=0 turns
// the check off (the serializers stay).
import Fastify from 'fastify'
import ssePlugin from 'fastify-typed-sse'
import { aborted, counters, HEARTBEAT_MS, Inbox, LargeEvent, makeEvent, serve, SmallEvent, streamParams } from './shared.mjs'

const validate = process.env.VALIDATE !== '0'
const small = { message: SmallEvent }
const large = { message: LargeEvent }

const app = Fastify()
await app.register(ssePlugin, { validate, heartbeatInterval: HEARTBEAT_MS })

app.get('/stream', (request, reply) => {
  const { n, size } = streamParams(request.url)
  const source = async function * () {
    for (let seq = 0; seq < n; seq++) yield { data: makeEvent(size, seq) }
  }
  return reply.sse(source(), { events: size === 'large' ? large : small })
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

function broadcast (data) {
  if (topic !== undefined) topic.publish({ data }).catch(err => app.log.error(err))
  else for (const inbox of inboxes) inbox.push(data)
}

await app.listen({ port: 0, host: '127.0.0.1' })
serve({ name: `fastify-typed-sse${validate ? '' : ', validate: false'}${topic === undefined ? '' : ', hub'}`, port: app.server.address().port, broadcast })
