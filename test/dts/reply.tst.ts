// reply.sse(source, { events }) is typed by the map, against the built .d.ts: a wrong yield is
// reported at the source argument and ends on the field, under TypeScript 6 and 7 alike.
import Fastify from 'fastify'
import { Type } from '@sinclair/typebox'
import { expect, test } from 'tstyche'
import ssePlugin, { type MapEvent, type SseEvent } from 'fastify-typed-sse'
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

test('a typed source yields the map\'s events', () => {
  expect(app.get('/ok', (_request, reply) => reply.sse(async function * ({ signal, lastEventId }) {
    signal.throwIfAborted()
    yield { event: 'tick', id: lastEventId ?? 0, data: { n: 1, tags: [] } }
    yield { event: 'tick', data: { n: 2, tags } }
    yield { data: 'unnamed is message' }
    yield { comment: 'control frames fit any map', retry: 1000 }
    yield { event: 'end', data: { reason: 'done' } }
  }, { events }))).type.not.toRaiseError()

  // A generator without parameters is typed before the map is inferred: still checked.
  expect(app.get('/no-params', (_request, reply) => reply.sse(async function * () {
    for (let n = 0; n < 3; n++) yield { event: 'tick', id: n, data: { n, tags: ['x'] } }
  }, { events }))).type.not.toRaiseError()

  expect(app.get('/array', (_request, reply) => reply.sse([{ event: 'tick', data: { n: 1, tags: [] } }], { events }))).type.not.toRaiseError()
})

test('a wrong yield is an error that ends on the field', () => {
  expect(app.get('/wrong', (_request, reply) => reply.sse(async function * () {
    yield { event: 'tick', data: { n: 'one', tags: [] } }
  }, { events }))).type.toRaiseError(/The types of 'data\.n' are incompatible between these types\.\nType 'string' is not assignable to type 'number'\.$/)

  expect(app.get('/unknown', (_request, reply) => reply.sse(async function * () {
    yield { event: 'tock', data: { n: 1, tags: [] } }
  }, { events }))).type.toRaiseError(/Types of property 'event' are incompatible\.\nType '"tock"' is not assignable to type '"\w+"'\.$/)

  expect(app.get('/missing-data', (_request, reply) => reply.sse(async function * () {
    yield { event: 'end' }
  }, { events }))).type.toRaiseError(/Property 'data' is missing in type '\{ readonly event: "end"; \}' but required in type '\{ data: \{ readonly reason: string; \}; \}'\.$/)

  // This map has no `message`, so unnamed events are not allowed.
  expect(app.get('/no-message', (_request, reply) => reply.sse(async function * () {
    yield { data: 'x' }
  }, { events: { tick: events.tick } }))).type.toRaiseError(/Property 'event' is missing in type '\{ readonly data: "x"; \}' but required in type '\{ event: "tick"; \}'\.$/)

  expect(app.get('/bad-array', (_request, reply) => reply.sse([{ event: 'tick', data: { n: '1', tags: [] } }], { events })))
    .type.toRaiseError(/Type 'string' is not assignable to type 'number'\.$/)
})

test('without a map anything goes, and options are typed', () => {
  expect(app.get('/untyped', (_request, reply) => reply.sse([{ event: 'anything', data: { any: 'thing' } }, { data: 1 }]))).type.not.toRaiseError()
  expect(app.get('/bad-option', (_request, reply) => reply.sse([], { onInvalidEvent: 'ignore' })))
    .type.toRaiseError(/Type '"ignore"' is not assignable to type 'InvalidEventPolicy \| undefined'\.$/)
})
