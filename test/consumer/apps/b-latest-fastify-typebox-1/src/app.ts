// A user's app: the route option with a type provider, reply.sse(), and a hub topic, each
// streamed to a real client over a real socket. Prints what the client read.
import Fastify from 'fastify'
import { Type } from 'typebox'
import { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import ssePlugin from 'fastify-typed-sse'
import type { AddressInfo } from 'node:net'

const events = {
  tick: Type.Object({ n: Type.Integer() }),
  note: Type.String()
}

const app = Fastify().withTypeProvider<TypeBoxTypeProvider>()
await app.register(ssePlugin)

app.get('/ticks', {
  schema: { querystring: Type.Object({ count: Type.Integer({ minimum: 1 }) }) },
  sse: { events }
}, async function * (request) {
  // request.query is typed by the provider: count is a number.
  for (let n = 0; n < request.query.count; n++) yield { event: 'tick', id: n, data: { n } }
  yield { event: 'note', data: 'two\nlines' }
})

app.get('/once', (_request, reply) => reply.sse(async function * () {
  yield { event: 'note', data: 'hello' }
}, { events }))

const room = app.sse.topic('room', { events })
app.get('/room', (_request, reply) => reply.sse(room.subscribe()))

await app.listen({ port: 0, host: '127.0.0.1' })
const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`

for (const path of ['/ticks?count=2', '/once']) {
  const response = await fetch(base + path)
  console.log(`${path} ${response.status} ${response.headers.get('content-type')} ${JSON.stringify(await response.text())}`)
}
console.log(`/ticks?count=0 ${(await fetch(base + '/ticks?count=0')).status}`)

// The hub: subscribe, publish once the stream is open, read until the event arrives.
const response = await fetch(base + '/room')
const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
let text = ''
await room.publish({ event: 'tick', data: { n: 7 } })
// The event's frame ends with its id (assigned by the hub) and a blank line.
while (!/data: \{"n":7\}\nid: [^\n]+\n\n/.test(text)) {
  const { value, done } = await reader.read()
  if (done) break
  text += value
}
await reader.cancel()
// The stream opens with an id-only frame (where the client resumes from), then the event.
console.log(`/room ${response.status} ${JSON.stringify(text.replace(/^id: [^\n]*\n\n/, '').split('\n').filter(line => !line.startsWith('id:')).join('\n'))}`)
await app.close()
