// The plugin's diagnostics channels: a subscriber to every documented channel sees each kind of
// message, with its documented fields, in a run that goes through every one of them: streams
// that end in several ways, an invalid event, a source error, hub publish, replay, reset,
// overflow, and Redis going away and coming back.
import t from 'tap'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { Type } from 'typebox'
import { SSE_CHANNELS } from '../src/index.js'
import { rawGet } from './helpers/raw.js'
import { startRedis } from './helpers/redis.js'
import { startApp, until } from './helpers/server.js'

const events = { tick: Type.Object({ n: Type.Number() }) }
const tick = (n: number): { event: 'tick', data: { n: number } } => ({ event: 'tick', data: { n } })

t.test('a subscriber to every documented channel sees each message kind, with its fields', async t => {
  const seen: Record<string, Array<Record<string, unknown>>> = {}
  for (const name of Object.values(SSE_CHANNELS)) {
    seen[name] = []
    const listener = (message: unknown): void => { seen[name]!.push(message as Record<string, unknown>) }
    subscribe(name, listener)
    t.teardown(() => unsubscribe(name, listener))
  }
  const of = (name: string): Array<Record<string, unknown>> => seen[name]!

  // In memory: the streams' channels, and the hub's publish, replay, reset and overflow.
  const { app, port } = await startApp(t, app => {
    app.get('/ticks', { sse: { events } }, async function * () {
      yield tick(1)
      yield { event: 'tick', data: { n: 'two' } } as never
      yield tick(3)
    })
    app.get('/fails', (_request, reply) => reply.sse(async function * () {
      yield { data: 'one' }
      throw new Error('the database went away')
    }))
    const room = app.sse.topic('room', { events })
    app.get('/room', (_request, reply) => reply.sse(room.subscribe()))
    // highWaterMark: 1: a stream takes one event into its batch per turn, the rest queue.
  }, { plugin: { hub: { queueSize: 2, retain: 2 }, highWaterMark: 1 } })

  const ticks = await rawGet(port, '/ticks', { 'last-event-id': 'seven' })
  await ticks.ended
  await until(() => of(SSE_CHANNELS.streamEnd).length === 1, 'the end of /ticks')
  t.match(of(SSE_CHANNELS.streamStart)[0], { route: 'GET /ticks', lastEventId: 'seven', request: { url: '/ticks' } })
  t.match(of(SSE_CHANNELS.invalidEvent)[0], { route: 'GET /ticks', code: 'FST_SSE_INVALID_EVENT', event: 'tick', path: '/n', error: { code: 'FST_SSE_INVALID_EVENT' } })
  t.match(of(SSE_CHANNELS.streamEnd)[0], { route: 'GET /ticks', reason: 'source-done', events: 2, bytes: Buffer.byteLength(ticks.body()), durationMs: Number })

  const fails = await rawGet(port, '/fails')
  await fails.ended
  await until(() => of(SSE_CHANNELS.streamEnd).length === 2, 'the end of /fails')
  t.match(of(SSE_CHANNELS.sourceError)[0], { route: 'GET /fails', error: { code: 'FST_SSE_SOURCE_FAILED', cause: { message: 'the database went away' } } })
  t.match(of(SSE_CHANNELS.streamEnd)[1], { route: 'GET /fails', reason: 'error', events: 1 })

  const room = app.sse.topic('room', { events })
  const ids = [await room.publish(tick(1)), await room.publish(tick(2)), await room.publish(tick(3))]
  t.same(of(SSE_CHANNELS.hubPublish), ids.map(id => ({ topic: 'room', id })))
  // retain: 2 keeps the last two: from the second, one event to replay; from the first, a gap.
  const resumed = await rawGet(port, '/room', { 'last-event-id': ids[1]! })
  const expired = await rawGet(port, '/room', { 'last-event-id': ids[0]! })
  t.teardown(() => { resumed.close(); expired.close() })
  await resumed.waitFor(() => resumed.events.length === 1, 'the replayed event')
  await expired.waitFor(() => expired.events.length === 1, 'the reset')
  t.same(of(SSE_CHANNELS.hubReplay), [{ topic: 'room', count: 1, after: ids[1] }])
  t.same(of(SSE_CHANNELS.hubReset), [{ topic: 'room', reason: 'expired', lastEventId: ids[0] }])

  // Publishes in one turn: a stream takes the first into its batch and may be handed the next as
  // it waits; the rest reach its queue before it takes from it, so a later one finds each queue
  // (queueSize: 2) full, and its stream ends (once: an ended subscriber gets nothing more).
  const burst = [0, 1, 2, 3, 4, 5].map(async n => await room.publish(tick(n)))
  t.same(of(SSE_CHANNELS.hubOverflow), [
    { topic: 'room', policy: 'close', queueSize: 2 },
    { topic: 'room', policy: 'close', queueSize: 2 }
  ])
  await Promise.all([...burst, resumed.ended, expired.ended])
  await until(() => of(SSE_CHANNELS.streamEnd).length === 4, 'the ends of the overflowed streams')
  t.same(of(SSE_CHANNELS.streamEnd).slice(2).map(end => [end.route, end.reason]), [['GET /room', 'overflow'], ['GET /room', 'overflow']])

  // On Redis: the store going away and coming back.
  const redis = await startRedis(t)
  const other = await startApp(t, app => {
    const feed = app.sse.topic('feed', { events })
    app.get('/feed', (_request, reply) => reply.sse(feed.subscribe()))
  }, { plugin: { hub: { redis: redis.url, redisTimeout: 1000 } } })
  const feed = await rawGet(other.port, '/feed')
  t.teardown(() => feed.close())
  await redis.stop()
  await until(() => of(SSE_CHANNELS.backendDown).length > 0, 'the hub to see Redis go')
  t.match(of(SSE_CHANNELS.backendDown)[0], { backend: 'redis', error: Error })
  await redis.start()
  await until(() => of(SSE_CHANNELS.backendUp).length > 0, 'the hub to see Redis back')
  t.same(of(SSE_CHANNELS.backendUp), [{ backend: 'redis' }])
  t.equal(of(SSE_CHANNELS.backendDown).length, 1, 'one message per outage')

  for (const [name, messages] of Object.entries(seen)) t.ok(messages.length > 0, `${name} was published to`)
})

t.test('a subscriber that comes late gets the messages from then on', async t => {
  const { port } = await startApp(t, app => {
    app.get('/one', (_request, reply) => reply.sse([{ data: 'a' }]))
  })
  const first = await rawGet(port, '/one')
  await first.ended
  const ends: unknown[] = []
  const listener = (message: unknown): void => { ends.push(message) }
  subscribe(SSE_CHANNELS.streamEnd, listener)
  t.teardown(() => unsubscribe(SSE_CHANNELS.streamEnd, listener))
  const second = await rawGet(port, '/one')
  await second.ended
  await until(() => ends.length === 1, 'the second stream\'s end')
  t.match(ends, [{ route: 'GET /one', reason: 'source-done', events: 1 }])
})
