// Compiled by `npm run typecheck`, never run: `fastify.sse.stats()` is typed, the channel names
// are literal, and `endLogLevel` takes a pino level or false.
import Fastify from 'fastify'
import ssePlugin, { SSE_CHANNELS, type SseStats, type SseStreamEndMessage, type SseStreamEndReason } from '../../src/index.js'
import type { Equal, Expect } from './helpers.js'

const app = Fastify()
await app.register(ssePlugin, { endLogLevel: 'debug' })

export type Stats = Expect<Equal<ReturnType<typeof app.sse.stats>, SseStats>>
export type Ended = Expect<Equal<keyof SseStats['streams']['ended'], SseStreamEndReason>>
export type Lag = Expect<Equal<SseStats['hub']['lag'], { lastMs: number | undefined, maxMs: number, count: number, totalMs: number } | undefined>>
export type EndName = Expect<Equal<typeof SSE_CHANNELS.streamEnd, 'fastify-typed-sse:stream:end'>>
export type EndReason = Expect<Equal<SseStreamEndMessage['reason'], SseStreamEndReason>>

app.get('/a', { sse: { endLogLevel: false } }, function * () { yield { data: 'a' } })
app.get('/b', (_request, reply) => reply.sse([{ data: 'b' }], { endLogLevel: 'silent' }))
// @ts-expect-error not a pino level
await app.register(ssePlugin, { endLogLevel: 'loud' })
// @ts-expect-error true is not a level
app.get('/c', (_request, reply) => reply.sse([{ data: 'c' }], { endLogLevel: true }))
