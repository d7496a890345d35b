// fastify-sse-v2, used as its README shows: reply.sse(asyncIterable) for a stream, reply.sse(event)
// for single events, data stringified by the caller, request.socket 'close' to stop the source.
// It has no heartbeat option, so the idle route sends its own comment on a timer.
import Fastify from 'fastify'
import { FastifySSEPlugin } from 'fastify-sse-v2'
import { counters, HEARTBEAT_MS, listenPort, makeEvent, serve, streamParams } from './shared.mjs'

const app = Fastify()
await app.register(FastifySSEPlugin, { retryDelay: false })

app.get('/stream', (request, reply) => {
  const { n, size } = streamParams(request.url)
  reply.sse(async function * () {
    for (let seq = 0; seq < n; seq++) yield { data: JSON.stringify(makeEvent(size, seq)) }
  }())
})

const replies = new Set()
app.get('/sub', (request, reply) => {
  reply.sse({ comment: 'open' })
  const heartbeat = setInterval(() => reply.sse({ comment: 'hb' }), HEARTBEAT_MS)
  replies.add(reply)
  counters.subscribers++
  request.socket.once('close', () => {
    clearInterval(heartbeat)
    replies.delete(reply)
    counters.subscribers--
  })
})

app.get('/one', (request, reply) => {
  const controller = new AbortController()
  request.socket.once('close', () => controller.abort())
  reply.sse(async function * () {
    counters.alive++
    try {
      yield { data: JSON.stringify(makeEvent('small', 0)) }
      await new Promise(resolve => controller.signal.addEventListener('abort', resolve, { once: true }))
    } finally {
      counters.alive--
    }
  }())
})

function broadcast (data) {
  const text = JSON.stringify(data)
  for (const reply of replies) reply.sse({ data: text })
}

await app.listen({ port: listenPort, host: '127.0.0.1' })
serve({ name: 'fastify-sse-v2', port: app.server.address().port, broadcast })
