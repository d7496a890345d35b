// Compiled by `npm run typecheck`, never run. Every `@ts-expect-error` line must fail to
// compile: if the typing breaks and lets it through, tsc reports the unused directive.
// A wrong yield is reported at the source argument, so each directive stands on that line.
import Fastify from 'fastify'
import { Type } from '@sinclair/typebox'
import ssePlugin, { type MapEvent, type SseEvent } from '../../src/index.js'
import type { Equal, Expect } from './helpers.js'

const events = {
  message: Type.String(),
  tick: Type.Object({ n: Type.Integer(), tags: Type.Array(Type.String()) }),
  end: Type.Object({ reason: Type.String() })
}

// What a consumer receives: the schema's static types.
export type TickData = Expect<Equal<Extract<MapEvent<typeof events>, { event: 'tick' }>['data'], { n: number, tags: string[] }>>
export type UnnamedIsMessage = Expect<Equal<Extract<MapEvent<typeof events>, { data: string }>['event'], 'message' | undefined>>
// What a source may give: the same, read-only, so `as const` and readonly values fit too.
export type TickPayload = Expect<Equal<Extract<SseEvent<typeof events>, { event: 'tick' }>['data'], { readonly n: number, readonly tags: readonly string[] }>>

const app = Fastify()
await app.register(ssePlugin, { heartbeatInterval: 15_000 })

const tags = ['a', 'b']
app.get('/ok', (_request, reply) => reply.sse(async function * ({ signal, lastEventId }) {
  const from: string | undefined = lastEventId
  signal.throwIfAborted()
  yield { event: 'tick', id: from ?? 0, data: { n: 1, tags: [] } }
  yield { event: 'tick', data: { n: 2, tags } }
  yield { data: 'unnamed is message' }
  yield { comment: 'control frames fit any map', retry: 1000 }
  yield { event: 'end', data: { reason: 'done' } }
}, { events }))

// A generator without parameters is typed before the map is inferred: still checked.
app.get('/no-params', (_request, reply) => reply.sse(async function * () {
  for (let n = 0; n < 3; n++) yield { event: 'tick', id: n, data: { n, tags: ['x'] } }
  yield { data: 'done' }
}, { events }))

// @ts-expect-error n must be a number
app.get('/wrong-payload', (_request, reply) => reply.sse(async function * () { yield { event: 'tick', data: { n: 'one', tags: [] } } }, { events }))

// @ts-expect-error 'tock' is not in the map
app.get('/unknown-name', (_request, reply) => reply.sse(async function * () { yield { event: 'tock', data: { n: 1, tags: [] } } }, { events }))

// @ts-expect-error a named event needs its data
app.get('/missing-data', (_request, reply) => reply.sse(async function * () { yield { event: 'end' } }, { events }))

// @ts-expect-error this map has no `message`, so unnamed events are not allowed
app.get('/no-message', (_request, reply) => reply.sse(async function * () { yield { data: 'x' } }, { events: { tick: events.tick } }))

// @ts-expect-error a context-sensitive generator is checked too
app.get('/ctx-wrong', (_request, reply) => reply.sse(async function * ({ lastEventId }) { yield { event: 'end', id: lastEventId, data: { reason: 1 } } }, { events }))

app.get('/array', (_request, reply) => reply.sse([{ event: 'tick', data: { n: 1, tags: [] } }], { events }))
// @ts-expect-error the array's events are checked too
app.get('/bad-array', (_request, reply) => reply.sse([{ event: 'tick', data: { n: '1', tags: [] } }], { events }))

// Without a map, anything goes.
app.get('/untyped', (_request, reply) => reply.sse([{ event: 'anything', data: { any: 'thing' } }, { data: 1 }]))
app.get('/untyped-gen', (_request, reply) => reply.sse(async function * () { yield { event: 'x', data: [1, 2] } }))

// @ts-expect-error options are typed
app.get('/bad-option', (_request, reply) => reply.sse([], { onInvalidEvent: 'ignore' }))

// The route option types the handler's yields from the same map.
app.get('/route', { sse: { events } }, async function * (request, _reply, { lastEventId }) {
  request.log.info({ lastEventId })
  yield { event: 'tick', data: { n: 2, tags: [] } }
})

// @ts-expect-error a wrong payload in the route form
app.get('/route-wrong', { sse: { events } }, async function * () { yield { event: 'end', data: { reason: 3 } } })

app.get('/route-untyped', { sse: true }, async function * () {
  yield { event: 'whatever', data: [1, 2, 3] }
})

// A plain route is unaffected by the overloads.
app.get('/plain', async () => ({ ok: true }))
