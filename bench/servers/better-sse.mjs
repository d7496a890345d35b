// better-sse on Fastify: the route hands the raw request and response to createSession() after
// reply.hijack(); session.iterate() for a stream, a Channel to broadcast. Its defaults stay
// (a random UUID id per event, JSON serializer); the initial retry frame is turned off so every
// server sends the same frames. better-sse writes without waiting for 'drain'.
import { createChannel, createSession } from 'better-sse'
import Fastify from 'fastify'
import { counters, HEARTBEAT_MS, listenPort, makeEvent, serve, streamParams } from './shared.mjs'

const app = Fastify()

app.get('/stream', async (request, reply) => {
  const { n, size } = streamParams(request.url)
  reply.hijack()
  const session = await createSession(request.raw, reply.raw, { retry: null, keepAlive: null })
  const source = async function * () {
    for (let seq = 0; seq < n; seq++) yield makeEvent(size, seq)
  }
  await session.iterate(source(), { eventName: 'message' })
  reply.raw.end()
})

const channel = createChannel()
app.get('/sub', async (request, reply) => {
  reply.hijack()
  const session = await createSession(request.raw, reply.raw, { retry: null, keepAlive: HEARTBEAT_MS })
  channel.register(session)
  counters.subscribers++
  session.once('disconnected', () => { counters.subscribers-- })
})

app.get('/one', async (request, reply) => {
  reply.hijack()
  counters.alive++
  const session = await createSession(request.raw, reply.raw, { retry: null, keepAlive: HEARTBEAT_MS })
  session.once('disconnected', () => { counters.alive-- })
  session.push(makeEvent('small', 0))
})

function broadcast (data) {
  channel.broadcast(data, 'message')
}

await app.listen({ port: listenPort, host: '127.0.0.1' })
serve({ name: 'better-sse', port: app.server.address().port, broadcast })
