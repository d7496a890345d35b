// Every route form is typed by its event map, against the built .d.ts: the shorthand methods,
// route type arguments, app.route(), and both TypeBox type providers. A wrong payload or event
// name is an error that ends on the field, under TypeScript 6 and 7 alike.
import Fastify from 'fastify'
import { Type } from 'typebox'
import { Type as Type0 } from '@sinclair/typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { TypeBoxTypeProvider as TypeBoxTypeProvider5 } from 'type-provider-typebox-5'
import { expect, test } from 'tstyche'
import ssePlugin, { type SseGenerator } from 'fastify-typed-sse'

const events = {
  tick: Type.Object({ n: Type.Integer() }),
  end: Type.Object({ reason: Type.String() }),
  message: Type.String()
}

const app = Fastify()
await app.register(ssePlugin)

test('{ sse: { events } } types what the generator yields', () => {
  expect(app.get('/ok', { sse: { events } }, async function * () {
    yield { event: 'tick', data: { n: 1 } }
    yield { event: 'end', data: { reason: 'done' } }
    yield { data: 'unnamed is message' }
    yield { comment: 'control frames fit any map', retry: 1000 }
  })).type.not.toRaiseError()

  expect(app.get('/ctx', { sse: { events, heartbeatInterval: 5000 } }, async function * (request, _reply, { signal, lastEventId }) {
    signal.throwIfAborted()
    request.log.info(lastEventId)
    yield { event: 'tick', id: lastEventId ?? 0, data: { n: 2 } }
  })).type.not.toRaiseError()

  expect(app.get('/wrong', { sse: { events } }, async function * () {
    yield { event: 'tick', data: { n: 'one' } }
  })).type.toRaiseError(/The types of 'data\.n' are incompatible between these types\.\nType 'string' is not assignable to type 'number'\.$/)

  expect(app.get('/unknown', { sse: { events } }, async function * () {
    yield { event: 'tock', data: { n: 1 } }
  })).type.toRaiseError(/Types of property 'event' are incompatible\.\nType '"tock"' is not assignable to type '"\w+"'\.$/)

  expect(app.get('/missing', { sse: { events } }, async function * () {
    yield { event: 'end', data: {} }
  })).type.toRaiseError(/Property 'reason' is missing in type '\{\}' but required in type '\{ readonly reason: string; \}'\.$/)
})

test('{ sse: true } streams untyped events, and still refuses what is not an event', () => {
  expect(app.post('/untyped', { sse: true }, async function * () {
    yield { event: 'anything', data: [1, 2, 3] }
  })).type.not.toRaiseError()

  expect(app.post('/not-an-event', { sse: true }, async function * () {
    yield 42
  })).type.toRaiseError(/Type '42' has no properties in common with type 'UntypedEvent'\.$/)
})

test('route type arguments carry the map as Events; without it the error says so', () => {
  expect(app.get<{ Params: { id: string }, Events: typeof events }>('/jobs/:id', { sse: { events } }, async function * (request) {
    const id: string = request.params.id
    yield { event: 'end', data: { reason: id } }
  })).type.not.toRaiseError()

  expect(app.get<{ Params: { id: string }, Events: typeof events }>('/jobs/:id', { sse: { events } }, async function * (request) {
    yield { event: 'tick', data: { n: request.params.id } }
  })).type.toRaiseError(/The types of 'data\.n' are incompatible between these types\.\nType 'string' is not assignable to type 'number'\.$/)

  expect(app.get<{ Params: { id: string } }>('/jobs/:id', { sse: { events } }, async function * () {
    yield { event: 'nope', data: 42 }
  })).type.toRaiseError(/is not assignable to type '"the route has type arguments: add Events: typeof events to them"'\.$/)
})

test('app.route({ method, url, sse, handler }) is typed the same way', () => {
  expect(app.route({
    method: 'GET',
    url: '/route',
    sse: { events },
    handler: async function * (request) {
      request.log.info('streaming')
      yield { event: 'tick', data: { n: 1 } }
    }
  })).type.not.toRaiseError()

  expect(app.route({
    method: 'GET',
    url: '/route-wrong',
    sse: { events },
    handler: async function * () { yield { event: 'tick', data: { n: 'x' } } }
  })).type.toRaiseError(/'sse' does not exist in type 'RouteOptions</)
  // That is Fastify's own overload failing: TypeScript 7 reports only the last overload tried, and
  // a method's overloads from a module augmentation always come before the original's. TypeScript 6
  // also shows the sse overload's error, ending on data.n. For errors at the field under both,
  // annotate the generator (below).
})

test('with @fastify/type-provider-typebox 6 (TypeBox 1), params and events are both typed', () => {
  const typed = app.withTypeProvider<TypeBoxTypeProvider>()
  const params = Type.Object({ id: Type.Integer() })

  expect(typed.get('/p/:id', { schema: { params }, sse: { events } }, async function * (request) {
    const id: number = request.params.id
    yield { event: 'tick', data: { n: id } }
  })).type.not.toRaiseError()

  expect(typed.get('/p/:id', { schema: { params }, sse: { events } }, async function * (request) {
    const id: string = request.params.id
    yield { event: 'message', data: id }
  })).type.toRaiseError("Type 'number' is not assignable to type 'string'.")

  expect(typed.get('/p/:id', { schema: { params }, sse: { events } }, async function * (request) {
    yield { event: 'end', data: { reason: request.params.id } }
  })).type.toRaiseError(/The types of 'data\.reason' are incompatible between these types\.\nType 'number' is not assignable to type 'string'\.$/)

  expect(typed.route({
    method: 'POST',
    url: '/r',
    schema: { body: Type.Object({ text: Type.String() }) },
    sse: { events },
    handler: async function * (request) { yield { data: request.body.text } }
  })).type.not.toRaiseError()
})

test('with @fastify/type-provider-typebox 5 (TypeBox 0.34), params and events are both typed', () => {
  const typed = app.withTypeProvider<TypeBoxTypeProvider5>()
  const events0 = { tick: Type0.Object({ n: Type0.Integer() }) }

  expect(typed.post('/p/:id', { schema: { body: Type0.Object({ n: Type0.Integer() }) }, sse: { events: events0 } }, async function * (request) {
    yield { event: 'tick', data: { n: request.body.n } }
  })).type.not.toRaiseError()

  expect(typed.post('/p/:id', { schema: { body: Type0.Object({ n: Type0.String() }) }, sse: { events: events0 } }, async function * (request) {
    yield { event: 'tick', data: { n: request.body.n } }
  })).type.toRaiseError(/The types of 'data\.n' are incompatible between these types\.\nType 'string' is not assignable to type 'number'\.$/)
})

test('plain routes are left to Fastify\'s own overloads', () => {
  expect(app.get('/plain', async () => ({ ok: true }))).type.not.toRaiseError()
  expect(app.route({ method: 'GET', url: '/plain-route', handler: async () => 'text' })).type.not.toRaiseError()
})

test('a generator annotated SseGenerator<typeof events> has each wrong yield reported at the field', () => {
  expect(app.route({
    method: 'GET',
    url: '/annotated',
    sse: { events },
    handler: async function * (): SseGenerator<typeof events> {
      yield { event: 'tick', data: { n: 'x' } }
    }
  })).type.toRaiseError("Type 'string' is not assignable to type 'number'.")

  expect(app.get<{ Events: typeof events }>('/annotated', { sse: { events } }, async function * (): SseGenerator<typeof events> {
    yield { event: 'tock', data: { n: 1 } }
  })).type.toRaiseError(/^Type '"tock"' is not assignable to type '"\w+" \| "\w+" \| "\w+" \| undefined'\.$/)
})
