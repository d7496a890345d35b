// @fastify/sse, used as its README shows: `{ sse: true }` routes, reply.sse.send() of an async
// iterable (it waits for 'drain'), and reply.sse.send() of single messages to broadcast.
import fastifySse from '@fastify/sse'
import Fastify from 'fastify'
import { counters, HEARTBEAT_MS, listenPort, makeEvent, serve, streamParams } from './shared.mjs'

const app = Fastify()
await app.register(fastifySse, { heartbeatInterval: HEARTBEAT_MS })

app.get('/stream', { sse: true }, async (request, reply) => {
  const { n, size } = streamParams(request.url)
  await reply.sse.send(async function * () {
    for (let seq = 0; seq < n; seq++) yield { data: makeEvent(size, seq) }
  }())
})

const replies = new Set()
app.get('/sub', { sse: true }, async (request, reply) => {
  reply.sse.keepAlive()
  reply.sse.sendHeaders()
  // writeHead() alone sends nothing; without a first event the client's `open` would wait.
  reply.raw.flushHeaders()
  replies.add(reply)
  counters.subscribers++
  reply.sse.onClose(() => {
    replies.delete(reply)
    counters.subscribers--
  })
})

app.get('/one', { sse: true }, async (request, reply) => {
  // The README's way to learn that the client left: onClose.
  const controller = new AbortController()
  reply.sse.onClose(() => controller.abort())
  await reply.sse.send(async function * () {
    counters.alive++
    try {
      yield { data: makeEvent('small', 0) }
      await new Promise(resolve => controller.signal.addEventListener('abort', resolve, { once: true }))
    } finally {
      counters.alive--
    }
  }())
})

function broadcast (data) {
  for (const reply of replies) reply.sse.send({ data }).catch(() => {})
}

await app.listen({ port: listenPort, host: '127.0.0.1' })
serve({ name: '@fastify/sse', port: app.server.address().port, broadcast })
