// Planted mistakes: each must be a compile error between its marker and the next one, whose
// message contains the marker's text. test/consumer/run.mjs checks the compiler's output.
import sse = require('fastify-typed-sse')
import { fastify } from 'fastify'
import { Type } from '@sinclair/typebox'

const events = { tick: Type.Object({ n: Type.Integer() }) }
const app = fastify()
app.register(sse.ssePlugin)

// expect-error: Type 'string' is not assignable to type 'number'
app.get('/a', (_request, reply) => reply.sse([{ event: 'tick', data: { n: 'one' } }], { events }))
