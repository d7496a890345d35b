// A CommonJS app (`import … = require(…)`) gets the same types from dist/cjs: the event map
// typed by TypeBox 1 (an ES module, reached through Node's require(esm)) and by 0.34.
import sse = require('fastify-typed-sse')
import client = require('fastify-typed-sse/client')
import typebox = require('typebox')
import typebox0 = require('@sinclair/typebox')
import { expect, test } from 'tstyche'
import type { Equal, Expect } from './helpers.js'

const events = { tick: typebox.Type.Object({ n: typebox.Type.Integer() }), zero: typebox0.Type.Object({ s: typebox0.Type.String() }) }

export type Tick = Expect<Equal<Extract<sse.MapEvent<typeof events>, { event: 'tick' }>['data'], { n: number }>>
export type Zero = Expect<Equal<Extract<sse.MapEvent<typeof events>, { event: 'zero' }>['data'], { s: string }>>
export type Received = Expect<Equal<Extract<client.ClientEvent<typeof events>, { event: 'tick' }>['data'], { n: number }>>

test('the CommonJS types check a map of either major', () => {
  expect(sse.sseResponseSchema(events)).type.not.toRaiseError()
  expect(sse.sseResponseSchema({ tick: 'integer' })).type.toRaiseError("Type 'string' is not assignable to type 'object'.")
})
