// Both TypeBox majors type an event map, each through its own Static, against the built .d.ts:
// typebox 1, @sinclair/typebox 0.34, a map mixing them, the plugin's HubResetSchema, topics and
// the client. A value that is not a schema is refused by the type as well as at registration.
import Fastify from 'fastify'
import { Type, type Static } from 'typebox'
import { Type as Type0, type Static as Static0 } from '@sinclair/typebox'
import { expect, test } from 'tstyche'
import ssePlugin, { HubResetSchema, type HubResetData, type MapEvent, type PublishEvent } from 'fastify-typed-sse'
import { sseClient, type ClientEvent } from 'fastify-typed-sse/client'
import type { Equal, Expect } from './helpers.js'

const tick1 = Type.Object({ n: Type.Integer(), at: Type.Optional(Type.String()), tags: Type.Array(Type.Union([Type.Literal('a'), Type.Literal('b')])) })
const tick0 = Type0.Object({ n: Type0.Integer(), at: Type0.Optional(Type0.String()), tags: Type0.Array(Type0.Union([Type0.Literal('a'), Type0.Literal('b')])) })
type Tick = { n: number, at?: string, tags: Array<'a' | 'b'> }

type DataOf<M extends Record<string, object>, K extends string> = Extract<MapEvent<M>, { data: unknown } & ({ event: K } | { event?: K })>['data']

// Each major's own Static, through the plugin's types.
export type One = Expect<Equal<DataOf<{ tick: typeof tick1 }, 'tick'>, Static<typeof tick1>>>
export type Zero = Expect<Equal<DataOf<{ tick: typeof tick0 }, 'tick'>, Static0<typeof tick0>>>
export type SameShape = Expect<Equal<DataOf<{ tick: typeof tick1 }, 'tick'>, Tick>>
export type SameShape0 = Expect<Equal<DataOf<{ tick: typeof tick0 }, 'tick'>, Tick>>

// A 0.34 map with the plugin's (TypeBox 1) reset schema: each entry by its own major.
const mixed = { tick: tick0, reset: HubResetSchema, message: Type.String() }
export type MixedTick = Expect<Equal<DataOf<typeof mixed, 'tick'>, Tick>>
export type MixedReset = Expect<Equal<DataOf<typeof mixed, 'reset'>, HubResetData>>
export type MixedMessage = Expect<Equal<DataOf<typeof mixed, 'message'>, string>>
export type ResetData = Expect<Equal<HubResetData, { reason: 'expired' | 'unknown', lastEventId: string, topic?: string }>>

// Plain JSON Schema written `as const` is read by TypeBox 1's Static too.
export const plain = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] } as const
export type Plain = Expect<Equal<DataOf<{ status: typeof plain }, 'status'>, { ok: boolean }>>

const app = Fastify()
await app.register(ssePlugin)

test('topics publish the events of their map, of either major', () => {
  const topic = app.sse.topic('news', { events: mixed })
  expect(topic.publish({ event: 'tick', data: { n: 1, tags: ['a'] } })).type.not.toRaiseError()
  expect(topic.publish({ event: 'reset', data: { reason: 'expired', lastEventId: '1' } })).type.not.toRaiseError()
  expect(topic.publish({ event: 'tick', data: { n: 1, tags: ['c'] } })).type.toRaiseError("Type '\"c\"' is not assignable to type '\"a\" | \"b\"'.")
  expect(topic.publish({ event: 'reset', data: { reason: 'bored', lastEventId: '1' } })).type.toRaiseError("Type '\"bored\"' is not assignable to type '\"expired\" | \"unknown\"'.")
  expect<Expect<Equal<Parameters<typeof topic.publish>[0], PublishEvent<typeof mixed>>>>().type.toBe<true>()
})

test('the client yields each event typed by its own major', async () => {
  const client = sseClient('/feed', { events: { one: tick1, zero: tick0 } })
  for await (const ev of client) {
    expect<Expect<Equal<typeof ev, ClientEvent<{ one: typeof tick1, zero: typeof tick0 }>>>>().type.toBe<true>()
    if (ev.event === 'one') expect<Expect<Equal<typeof ev.data, Tick>>>().type.toBe<true>()
    else expect<Expect<Equal<typeof ev.data, Tick>>>().type.toBe<true>()
  }
})

test('a map holds schemas: anything else is refused', () => {
  expect(app.get('/s', { sse: { events: { tick: 'integer' } } }, async function * () {})).type.toRaiseError(/Type 'string' is not assignable to type 'object'\.$/)
  expect(app.sse.topic('t', { events: { tick: 42 } })).type.toRaiseError("Type 'number' is not assignable to type 'object'.")
})
