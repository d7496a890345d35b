// Fastify with reply.hijack() and the same hand-written SSE as node-http.mjs: what routing
// through Fastify costs before any SSE library does anything.
import Fastify from 'fastify'
import { broadcast, one, stream, subscribe } from './handwritten.mjs'
import { listenPort, serve } from './shared.mjs'

const app = Fastify()
app.get('/stream', (request, reply) => {
  reply.hijack()
  stream(request.url, reply.raw).catch(err => { request.log.error(err); reply.raw.destroy() })
})
app.get('/sub', (request, reply) => {
  reply.hijack()
  subscribe(reply.raw)
})
app.get('/one', (request, reply) => {
  reply.hijack()
  one(reply.raw)
})
await app.listen({ port: listenPort, host: '127.0.0.1' })
serve({ name: 'fastify hijack', port: app.server.address().port, broadcast })
