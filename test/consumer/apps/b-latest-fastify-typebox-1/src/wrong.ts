// Planted mistakes: each must be a compile error between its marker and the next one, whose
// message contains the marker's text. test/consumer/run.mjs checks the compiler's output.
import Fastify from 'fastify'
import { Type } from 'typebox'
import { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import ssePlugin from 'fastify-typed-sse'

const events = { tick: Type.Object({ n: Type.Integer() }) }
const app = Fastify().withTypeProvider<TypeBoxTypeProvider>()
await app.register(ssePlugin)

// expect-error: Type 'string' is not assignable to type 'number'
app.get('/a', (_request, reply) => reply.sse(async function * () {
  yield { event: 'tick', data: { n: 'one' } }
}, { events }))

// expect-error: Type 'string' is not assignable to type 'number'
app.get('/b', { sse: { events } }, async function * () {
  yield { event: 'tick', data: { n: 'one' } }
})
