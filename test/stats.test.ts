// fastify.sse.stats(): open streams per route, totals of events, bytes and ends by reason, and
// the hub's topics, subscribers, queues and counters, checked against real streams and clients.
import t from 'tap'
import { Type } from 'typebox'
import type { SseContext } from '../src/index.js'
import { rawGet } from './helpers/raw.js'
import { startRedis } from './helpers/redis.js'
import { startApp, until } from './helpers/server.js'

const events = { tick: Type.Object({ n: Type.Number() }) }
const tick = (n: number): { event: 'tick', data: { n: number } } => ({ event: 'tick', data: { n } })

/** Yields `count` ticks, then waits until the client leaves. */
function ticksThenWait (count: number) {
  return async function * (_request: unknown, _reply: unknown, { signal }: SseContext) {
    for (let n = 0; n < count; n++) yield tick(n)
    await new Promise(resolve => signal.addEventListener('abort', resolve, { once: true }))
  }
}

t.test('stats() counts open streams per route, events, bytes, invalid events and ends by reason', async t => {
  const { app, port } = await startApp(t, app => {
    app.get('/a/:id', { sse: { events } }, ticksThenWait(2))
    app.get('/b', (_request, reply) => reply.sse((async function * () {
      yield tick(1)
      yield { event: 'tick', data: { n: 'x' } } as never
    })(), { events }))
    app.get('/fails', (_request, reply) => reply.sse((async function * () {
      yield { data: 'one' }
      throw new Error('gone')
    })()))
  })
  t.same(app.sse.stats().streams, {
    open: 0,
    openByRoute: {},
    events: 0,
    bytes: 0,
    invalidEvents: 0,
    sourceErrors: 0,
    ended: { 'source-done': 0, 'client-gone': 0, 'server-closing': 0, overflow: 0, 'topic-deleted': 0, 'write-timeout': 0, 'invalid-event': 0, error: 0 }
  })

  const clients = await Promise.all([rawGet(port, '/a/1'), rawGet(port, '/a/2')])
  t.teardown(() => { for (const client of clients) client.close() })
  await Promise.all(clients.map(async client => await client.waitFor(() => client.events.length === 2, 'two events')))
  const b = await rawGet(port, '/b')
  await b.ended
  const fails = await rawGet(port, '/fails')
  await fails.ended
  const received = (): number => [...clients, b, fails].reduce((sum, client) => sum + Buffer.byteLength(client.body()), 0)

  await until(() => app.sse.stats().streams.open === 2, 'the ended streams to be counted out')
  let { streams } = app.sse.stats()
  t.same(streams.openByRoute, { 'GET /a/:id': 2 }, 'open streams by route pattern')
  t.equal(streams.events, 2 + 2 + 1 + 1, 'events of open and ended streams')
  t.equal(streams.bytes, received(), 'bytes as the clients received them')
  t.equal(streams.invalidEvents, 1)
  t.equal(streams.sourceErrors, 1)
  t.match(streams.ended, { 'source-done': 1, error: 1, 'client-gone': 0 })

  clients[0]!.close()
  await until(() => app.sse.stats().streams.open === 1, 'the client that left to be counted out')
  streams = app.sse.stats().streams
  t.same(streams.openByRoute, { 'GET /a/:id': 1 })
  t.equal(streams.ended['client-gone'], 1)
  t.equal(streams.events, 6, 'the events of a stream that ended stay counted')
  t.equal(streams.bytes, received())
})

t.test('stats() shows the hub: topics, subscribers per topic, the longest queue, publishes, overflows, resets', async t => {
  const { app, port } = await startApp(t, app => {
    const room = app.sse.topic('room', { events })
    const lobby = app.sse.topic('lobby', { events })
    app.get('/room', (_request, reply) => reply.sse(room.subscribe()))
    app.get('/both', (_request, reply) => reply.sse(app.sse.subscribe([room, lobby])))
    // highWaterMark: 1: a stream takes one event into its batch per turn, the rest queue.
  }, { plugin: { hub: { queueSize: 3, retain: 1 }, highWaterMark: 1 } })
  const room = app.sse.topic('room', { events })
  t.match(app.sse.stats().hub, { backend: 'memory', state: 'up', topics: 0, subscribers: 0, subscribersByTopic: {}, longestQueue: 0, published: 0, overflows: 0, resets: 0, lag: undefined })

  const first = await room.publish(tick(0))
  await room.publish(tick(1))
  const clients = await Promise.all([rawGet(port, '/room'), rawGet(port, '/room'), rawGet(port, '/both'), rawGet(port, '/room', { 'last-event-id': first })])
  t.teardown(() => { for (const client of clients) client.close() })
  // The last one resumes from an id that retain: 1 has dropped: a reset.
  await clients[3]!.waitFor(() => clients[3]!.events.length === 1, 'the reset')
  let { hub } = app.sse.stats()
  t.same(hub.subscribersByTopic, { room: 4, lobby: 1 })
  t.match(hub, { topics: 2, subscribers: 4, published: 2, resets: 1, longestQueue: 0 })

  // Published in one turn. A caught-up stream with room takes an event straight into its batch
  // (highWaterMark: 1 leaves room for one) and may be handed the next as it waits; the rest queue,
  // up to queueSize, and the last publish finds every queue full.
  const burst = [0, 1, 2, 3, 4].map(async n => await room.publish(tick(n)))
  t.equal(app.sse.stats().hub.longestQueue, 3, 'the longest queue, seen before the streams take it')
  burst.push(room.publish(tick(5)))
  hub = app.sse.stats().hub
  t.match(hub, { overflows: 4, published: 2 }, 'the last found every queue full (publishes count once stored)')
  await Promise.all(burst)
  await until(() => app.sse.stats().streams.open === 0, 'the overflowed streams to end')
  t.match(app.sse.stats(), { hub: { topics: 0, subscribersByTopic: {}, published: 8 }, streams: { open: 0, ended: { overflow: 4 } } })
})

t.test('on Redis, stats() shows the backend\'s state and the lag from publish to fan-out', async t => {
  const redis = await startRedis(t)
  const { app, port } = await startApp(t, app => {
    const feed = app.sse.topic('feed', { events })
    app.get('/feed', (_request, reply) => reply.sse(feed.subscribe()))
  }, { plugin: { hub: { redis: redis.url, redisTimeout: 1000 } } })
  t.match(app.sse.stats().hub, { backend: 'redis', state: 'up', lag: { lastMs: undefined, maxMs: 0, count: 0, totalMs: 0 } })
  const client = await rawGet(port, '/feed')
  t.teardown(() => client.close())
  const feed = app.sse.topic('feed', { events })
  for (let n = 0; n < 3; n++) await feed.publish(tick(n))
  await client.waitFor(() => client.events.length === 3, 'three events')
  const { lag } = app.sse.stats().hub
  t.equal(lag?.count, 3, 'each event fanned out is measured')
  t.ok(lag !== undefined && lag.lastMs !== undefined && lag.lastMs >= 0 && lag.maxMs >= lag.lastMs && lag.totalMs >= lag.maxMs, 'last, max and total are consistent')
  await redis.stop()
  await until(() => app.sse.stats().hub.state === 'down', 'the hub to see Redis go')
  await redis.start()
  await until(() => app.sse.stats().hub.state === 'up', 'the hub to see Redis back')
  await app.close()
  t.equal(app.sse.stats().hub.state, 'closed')
})
