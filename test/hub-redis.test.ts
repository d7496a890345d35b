// The hub on Redis: the shared conformance suite against a real redis-server started for this
// file, then what only Redis has: several instances, Redis going away and coming back.
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { Type } from '@sinclair/typebox'
import { Redis } from 'ioredis'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import ssePlugin from '../src/index.js'
import { hubConformance } from './hub-conformance.js'
import { rawGet, type RawResponse } from './helpers/raw.js'
import { startRedis, startRedisProxy, type RedisServer } from './helpers/redis.js'
import { startApp, until } from './helpers/server.js'

let redis: RedisServer
let tests = 0
/** Each test gets its own key prefix: its topics share nothing with the others'. */
const hub = (options = {}): { redis: string, keyPrefix: string } => ({ redis: redis.url, keyPrefix: `t${++tests}:`, ...options })

// One redis-server for the whole file, stopped when this test ends.
t.test('the hub on Redis', async t => {
  redis = await startRedis(t)
  t.test('conformance', async t => hubConformance(t, { hub }))
  redisOnly(t)
})

const events = { message: Type.Object({ from: Type.String(), text: Type.String() }) }

function texts (response: RawResponse): string[] {
  return response.events.map(event => JSON.parse(event.data).text)
}

/** The texts of the events Redis holds in a stream, oldest first (a deleted topic's tombstone is no event). */
async function stored (key: string): Promise<string[]> {
  const admin = new Redis(redis.url)
  try {
    const rows = await admin.xrange(key, '-', '+')
    return rows.filter(([, fields]) => fields[0] === 'frame').map(([, fields]) => /"text":"([^"]*)"/.exec(fields[1] ?? '')?.[1] ?? '?')
  } finally {
    admin.disconnect()
  }
}

const message = (text: string): { data: { from: string, text: string } } => ({ data: { from: 'x', text } })
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** Connections this library holds open on the test's Redis, by name. */
async function hubConnections (): Promise<string[]> {
  const admin = new Redis(redis.url)
  try {
    const list = await admin.call('CLIENT', 'LIST') as string
    return list.split('\n').map(line => /name=(\S*)/.exec(line)?.[1] ?? '').filter(name => name.startsWith('fastify-typed-sse'))
  } finally {
    admin.disconnect()
  }
}

function redisOnly (t: Test): void {
  t.test('two instances in separate processes share topics and ids through Redis', async t => {
    const keyPrefix = hub().keyPrefix
    const instances = await Promise.all([startInstance(t, keyPrefix), startInstance(t, keyPrefix)])
    const [a, b] = instances as [Instance, Instance]
    const onA = await rawGet(a.port, '/rooms/42/events')
    t.teardown(() => onA.close())
    const first = await b.publish('from b')
    await onA.waitFor(() => onA.events.length === 1, 'the event published on the other instance')
    t.same(onA.events.map(event => event.id), [first])
    t.same(texts(onA), ['from b'])
    onA.close()
    // Missed while disconnected, published on both instances.
    const missed = [await a.publish('m1'), await b.publish('m2'), await a.publish('m3')]
    const onB = await rawGet(b.port, '/rooms/42/events', { 'last-event-id': first })
    t.teardown(() => onB.close())
    await onB.waitFor(() => onB.events.length === 3, 'the missed events')
    const live = await a.publish('live')
    await onB.waitFor(() => onB.events.length === 4, 'the live event')
    t.same(onB.events.map(event => event.id), [...missed, live], 'exactly the missed events, then live ones')
    t.same(texts(onB), ['m1', 'm2', 'm3', 'live'])
  })

  t.test('subscribers on one instance share one Redis reader; close() leaves no connection', async t => {
    const { app, port } = await startApp(t, app => {
      for (const name of ['a', 'b']) {
        const topic = app.sse.topic(name, { events })
        app.get(`/${name}`, (_request, reply) => reply.sse(topic.subscribe()))
      }
    }, { plugin: { hub: hub() } })
    const clients = await Promise.all(Array.from({ length: 10 }, (_, i) => rawGet(port, i % 2 === 0 ? '/a' : '/b')))
    t.teardown(() => { for (const client of clients) client.close() })
    await app.sse.topic('a', { events }).publish({ data: { from: 'x', text: 'to a' } })
    await app.sse.topic('b', { events }).publish({ data: { from: 'x', text: 'to b' } })
    for (const [i, client] of clients.entries()) {
      await client.waitFor(() => client.events.length === 1, 'the event')
      t.same(texts(client), [i % 2 === 0 ? 'to a' : 'to b'])
    }
    t.same((await hubConnections()).sort(), ['fastify-typed-sse', 'fastify-typed-sse:reader'], 'one command and one reader connection for ten clients on two topics')
    await app.close()
    await Promise.all(clients.map(client => client.ended))
    t.same(await hubConnections(), [], 'both connections closed')
  })

  t.test('while Redis is down publish rejects, subscribers stay connected, and all resumes when it is back', async t => {
    const { app, port, logs } = await startApp(t, app => {
      const room = app.sse.topic('room', { events })
      app.get('/room', (_request, reply) => reply.sse(room.subscribe()))
      const other = app.sse.topic('other', { events })
      app.get('/other', (_request, reply) => reply.sse(other.subscribe()))
    }, { plugin: { hub: hub({ redisTimeout: 1000 }) } })
    const room = app.sse.topic('room', { events })
    const before = await room.publish({ data: { from: 'x', text: 'before' } })
    const early = await rawGet(port, '/room')
    t.teardown(() => early.close())
    await room.publish({ data: { from: 'x', text: 'one' } })
    await early.waitFor(() => early.events.length === 1, 'the first event')

    await redis.stop()
    // Once the hub has seen the connection close, a publish is not even sent: nothing is stored.
    await until(() => logs.some(line => /lost Redis/.test(line.msg)), 'the hub to notice')
    await t.rejects(room.publish({ data: { from: 'x', text: 'lost' } }), { code: 'FST_SSE_HUB_UNAVAILABLE', statusCode: 503, message: /nothing was stored/ })
    // A client arriving during the outage still gets its stream (an HTTP error would make a
    // browser's EventSource give up for good).
    const during = await rawGet(port, '/room')
    t.teardown(() => during.close())
    t.equal(during.status, 200)
    // One that must replay, and one on a topic nobody here followed yet: both need Redis first.
    const replaying = await rawGet(port, '/room', { 'last-event-id': before })
    const elsewhere = await rawGet(port, '/other')
    t.teardown(() => { replaying.close(); elsewhere.close() })
    t.same([replaying.status, elsewhere.status], [200, 200])
    await new Promise(resolve => setTimeout(resolve, 200))
    t.equal(early.socket.destroyed, false, 'the subscriber is still connected')

    await redis.start()
    // The clients that came during the outage attach once their retry (backing off up to 2 s)
    // reaches Redis; until then they cannot see what is published. Publish until both have
    // something, then check each got exactly what was published from its attachment on.
    const published: string[] = []
    const deadline = Date.now() + 15_000
    while ((during.events.length === 0 || replaying.events.length < 2) && Date.now() < deadline) {
      const id = await room.publish({ data: { from: 'x', text: 'after' } }).catch(() => undefined)
      if (id !== undefined) published.push(id)
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    t.ok(published.length > 0, 'publish works once Redis is back')
    const after = published.at(-1)!
    await early.waitFor(() => early.events.at(-1)?.id === after, 'the events after the outage')
    t.same(texts(early), ['one', ...published.map(() => 'after')], 'nothing lost, nothing twice on the kept stream')
    t.same(early.events.slice(1).map(event => event.id), published)
    await during.waitFor(() => during.events.at(-1)?.id === after, 'the events at the client that came during the outage')
    const duringIds = during.events.map(event => event.id)
    t.same(duringIds, published.slice(published.indexOf(duringIds[0]!)), 'every event since its subscription began')
    // Its id was lost with Redis's data: a reset, then every event from its attachment on.
    await replaying.waitFor(() => replaying.events.at(-1)?.id === after, 'the reset and the events')
    t.equal(replaying.events[0]?.event, 'reset')
    // `unknown` if it read the empty, restarted Redis before anything was stored; else `expired`.
    t.match(JSON.parse(replaying.events[0]!.data), { reason: /^(expired|unknown)$/, lastEventId: before })
    const replayedIds = replaying.events.slice(1).map(event => event.id)
    t.same(replayedIds, published.slice(published.indexOf(replayedIds[0]!)), 'after the reset, every event from there on')
    // A client that came without Last-Event-ID starts where its subscription begins: once its
    // retry reaches Redis. From then on it misses nothing.
    const other = app.sse.topic('other', { events })
    const onOther: string[] = []
    while (elsewhere.events.length === 0 && onOther.length < 100) {
      onOther.push(await other.publish({ data: { from: 'x', text: 'other' } }))
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    onOther.push(await other.publish({ data: { from: 'x', text: 'other' } }))
    await elsewhere.waitFor(() => elsewhere.events.at(-1)?.id === onOther.at(-1), 'the events on the other topic')
    const got = elsewhere.events.map(event => event.id)
    t.same(got, onOther.slice(onOther.indexOf(got[0]!)), 'every event since its subscription began')
    // The restarted Redis kept nothing (no persistence): an id from before is reset, not a gap.
    const stale = await rawGet(port, '/room', { 'last-event-id': before })
    t.teardown(() => stale.close())
    await stale.waitFor(() => stale.events.length === 1, 'the reset')
    t.same(stale.events[0], { event: 'reset', id: after, data: JSON.stringify({ reason: 'expired', lastEventId: before }) })
  })

  t.test('a publish Redis took but did not answer (frozen) rejects as "outcome unknown", and Redis still runs it', async t => {
    const { app, port } = await startApp(t, app => {
      const room = app.sse.topic('room', { events })
      app.get('/room', (_request, reply) => reply.sse(room.subscribe()))
    }, { plugin: { hub: hub({ redisTimeout: 300 }) } })
    const room = app.sse.topic('room', { events })
    const client = await rawGet(port, '/room')
    t.teardown(() => client.close())
    await room.publish({ data: { from: 'x', text: 'before' } })
    await client.waitFor(() => client.events.length === 1, 'the first event')

    redis.pause()
    t.teardown(() => redis.resume())
    const sent = room.publish({ data: { from: 'x', text: 'sent' } })
    await t.rejects(sent, {
      code: 'FST_SSE_HUB_OUTCOME_UNKNOWN',
      statusCode: 504,
      message: /publishing to topic "room": Redis did not answer .*may have taken effect.*publish with an idempotencyKey/
    })
    redis.resume()
    // Redis runs what it was sent once it is running again: the event reaches the subscriber.
    await client.waitFor(() => client.events.length === 2, 'the event whose publish rejected')
    t.same(texts(client), ['before', 'sent'])
  })

  t.test('retries of a publish Redis did not answer, with its idempotencyKey, store it once and resolve with its id', async t => {
    const options = hub({ redisTimeout: 300 })
    const { app, port } = await startApp(t, app => {
      const room = app.sse.topic('room', { events })
      app.get('/room', (_request, reply) => reply.sse(room.subscribe()))
    }, { plugin: { hub: options } })
    const room = app.sse.topic('room', { events })
    const client = await rawGet(port, '/room')
    t.teardown(() => client.close())
    await room.publish(message('before'))
    await client.waitFor(() => client.events.length === 1, 'the first event')

    redis.pause()
    t.teardown(() => redis.resume())
    const idempotencyKey = 'order-17:shipped'
    await t.rejects(room.publish(message('shipped'), { idempotencyKey }), {
      code: 'FST_SSE_HUB_OUTCOME_UNKNOWN', message: /Retry with the same idempotencyKey/
    })
    // A retry while Redis is still frozen queues behind the first attempt and is not answered
    // either: unknown again, never "not stored".
    await t.rejects(room.publish(message('shipped'), { idempotencyKey }), { code: 'FST_SSE_HUB_OUTCOME_UNKNOWN' })
    redis.resume()
    const id = await room.publish(message('shipped'), { idempotencyKey })
    t.equal(await room.publish(message('shipped'), { idempotencyKey }), id, 'every later retry resolves with the same id')
    const after = await room.publish(message('after'))
    await client.waitFor(() => client.events.at(-1)?.id === after, 'the event after')
    t.same(texts(client), ['before', 'shipped', 'after'], 'subscribers saw it once')
    t.equal(client.events[1]?.id, id, 'with the id the retries resolved with')
    t.same(await stored(options.keyPrefix + '{room}'), ['before', 'shipped', 'after'], 'Redis holds it once')
  })

  t.test('a publish whose connection drops after sending is "outcome unknown"; Redis ran it, and the retry with its key resolves with its id', async t => {
    const proxy = await startRedisProxy(t, redis)
    const options = hub({ redis: proxy.url, redisTimeout: 5000 })
    const { app, port } = await startApp(t, app => {
      const room = app.sse.topic('room', { events })
      app.get('/room', (_request, reply) => reply.sse(room.subscribe()))
    }, { plugin: { hub: options } })
    const room = app.sse.topic('room', { events })
    const client = await rawGet(port, '/room')
    t.teardown(() => client.close())
    // The first publish also leaves the script in Redis's cache, so the next one is one EVALSHA.
    await room.publish(message('before'))
    await client.waitFor(() => client.events.length === 1, 'the first event')

    const cut = proxy.cutAfter('EVALSHA')
    const idempotencyKey = 'cut-1'
    await t.rejects(room.publish(message('cut'), { idempotencyKey }), { code: 'FST_SSE_HUB_OUTCOME_UNKNOWN', statusCode: 504 })
    await cut
    // The reader's connection was not cut: the event Redis stored reaches the subscriber.
    await client.waitFor(() => client.events.length === 2, 'the event whose publish was cut')
    // The command connection reconnects by itself; until then a retry is refused unsent.
    let id: string | undefined
    for (let attempt = 0; id === undefined && attempt < 200; attempt++) {
      id = await room.publish(message('cut'), { idempotencyKey }).catch(async (err: { code?: string }) => {
        if (err.code !== 'FST_SSE_HUB_UNAVAILABLE') throw err
        await sleep(20)
        return undefined
      })
    }
    t.equal(id, client.events[1]?.id, 'the retry resolves with the id of the event Redis ran')
    const after = await room.publish(message('after'))
    await client.waitFor(() => client.events.at(-1)?.id === after, 'the event after')
    t.same(texts(client), ['before', 'cut', 'after'])
    t.same(await stored(options.keyPrefix + '{room}'), ['before', 'cut', 'after'])
  })

  t.test('a publish while Redis is down is "not stored"; the retry with its key, once Redis is back, stores it once', async t => {
    const options = hub({ redisTimeout: 1000 })
    const { app, logs } = await startApp(t, () => {}, { plugin: { hub: options } })
    const room = app.sse.topic('room', { events })
    await redis.stop()
    await until(() => logs.some(line => /lost Redis/.test(line.msg)), 'the hub to notice')
    const idempotencyKey = 'down-1'
    await t.rejects(room.publish(message('down'), { idempotencyKey }), {
      code: 'FST_SSE_HUB_UNAVAILABLE', statusCode: 503, message: /publishing to topic "room": Redis is unavailable .*nothing was stored/
    })
    await t.rejects(room.delete(), { code: 'FST_SSE_HUB_UNAVAILABLE', message: /deleting topic "room": Redis is unavailable/ })
    await redis.start()
    let id: string | undefined
    for (let attempt = 0; id === undefined && attempt < 200; attempt++) {
      id = await room.publish(message('down'), { idempotencyKey }).catch(async (err: { code?: string }) => {
        if (err.code !== 'FST_SSE_HUB_UNAVAILABLE') throw err
        await sleep(20)
        return undefined
      })
    }
    t.match(id, /^\d+-\d+$/)
    t.equal(await room.publish(message('down'), { idempotencyKey }), id)
    t.same(await stored(options.keyPrefix + '{room}'), ['down'], 'stored once, by the retry')
  })

  t.test('publish works when Redis has lost its script cache (EVALSHA answered NOSCRIPT, then EVAL)', async t => {
    const options = hub()
    const { app } = await startApp(t, () => {}, { plugin: { hub: options } })
    const room = app.sse.topic('room', { events })
    const first = await room.publish(message('one'), { idempotencyKey: 'a' })
    const admin = new Redis(redis.url)
    t.teardown(() => admin.disconnect())
    await admin.script('FLUSH')
    t.equal(await room.publish(message('one'), { idempotencyKey: 'a' }), first, 'the key is still known after the flush')
    await room.publish(message('two'))
    t.same(await stored(options.keyPrefix + '{room}'), ['one', 'two'])
  })

  t.test('a topic is a stream key with topicTtl as its TTL, renewed by each publish; idempotency keys live for idempotencyWindow', async t => {
    const admin = new Redis(redis.url)
    t.teardown(() => admin.disconnect())
    const options = hub({ topicTtl: 60_000, idempotencyWindow: 30_000 })
    const { app } = await startApp(t, () => {}, { plugin: { hub: options } })
    const room = app.sse.topic('room', { events })
    await room.publish(message('one'), { idempotencyKey: 'k' })
    const key = options.keyPrefix + '{room}'
    await admin.pexpire(key, 1000)
    await room.publish(message('two'))
    const ttl = await admin.pttl(key)
    t.ok(ttl > 1000 && ttl <= 60_000, `the publish renewed the TTL: ${ttl} ms`)
    const keyTtl = await admin.pttl(`${key}\0k`)
    t.ok(keyTtl > 0 && keyTtl <= 30_000, `the idempotency key expires by itself: ${keyTtl} ms`)

    // Without topicTtl, a publish makes the stream persistent, whatever TTL it had.
    const forever = hub({ topicTtl: undefined })
    const other = await startApp(t, () => {}, { plugin: { hub: forever } })
    await other.app.sse.topic('room', { events }).publish(message('one'))
    await admin.pexpire(forever.keyPrefix + '{room}', 1000)
    await other.app.sse.topic('room', { events }).publish(message('two'))
    t.equal(await admin.pttl(forever.keyPrefix + '{room}'), -1, 'no TTL')
  })

  t.test('topic.delete() on one instance ends the topic\'s streams on every instance', async t => {
    const options = hub()
    const instances = await Promise.all([0, 1].map(async () => await startApp(t, app => {
      const room = app.sse.topic('room', { events })
      app.get('/room', (_request, reply) => reply.sse(room.subscribe()))
    }, { plugin: { hub: options } })))
    const [a, b] = instances as [typeof instances[0], typeof instances[0]]
    const first = await a.app.sse.topic('room', { events }).publish(message('one'))
    const onA = await rawGet(a.port, '/room')
    const onB = await rawGet(b.port, '/room')
    t.teardown(() => { onA.close(); onB.close() })
    await Promise.all([onA, onB].map(async client => await client.waitFor(body => body === `id: ${first}\n\n`, 'the opening id')))
    await a.app.sse.topic('room', { events }).delete()
    await Promise.all([onA.ended, onB.ended])
    t.ok(onA.terminated() && onB.terminated(), 'both streams ended, on the instance that deleted and on the other')
    t.same(await stored(options.keyPrefix + '{room}'), [], 'no event is left in Redis')
    // Published after the delete: a new topic of the same name, followed as usual on both.
    const again = await rawGet(b.port, '/room', { 'last-event-id': first })
    t.teardown(() => again.close())
    await again.waitFor(() => again.events.length === 1, 'the reset')
    t.equal(again.events[0]?.event, 'reset')
    const next = await a.app.sse.topic('room', { events }).publish(message('two'))
    await again.waitFor(() => again.events.length === 2, 'the next event')
    t.equal(again.events[1]?.id, next)
    t.equal(JSON.parse(again.events[1]!.data).text, 'two')
  })

  t.test('given a Redis client, the hub opens its own connections with its settings, and never uses or closes it', async t => {
    const own = new Redis(redis.url, { connectionName: 'app' })
    t.teardown(() => own.disconnect())
    await own.set('mine', 'kept')
    const options = hub({ redis: own })
    const { app, port } = await startApp(t, app => {
      const room = app.sse.topic('room', { events })
      app.get('/room', (_request, reply) => reply.sse(room.subscribe()))
    }, { plugin: { hub: options } })
    const client = await rawGet(port, '/room')
    t.teardown(() => client.close())
    const id = await app.sse.topic('room', { events }).publish(message('hi'))
    await client.waitFor(() => client.events.length === 1, 'the event')
    t.equal(client.events[0]?.id, id)
    t.same((await hubConnections()).sort(), ['fastify-typed-sse', 'fastify-typed-sse:reader'], 'its own two connections, named as usual')
    await app.close()
    t.same(await hubConnections(), [], 'closed by fastify.close()')
    t.equal(await own.get('mine'), 'kept', 'the application\'s client is still connected and usable')
  })

  t.test('register fails with a clear error when Redis cannot be reached', async t => {
    const app = Fastify()
    await t.rejects(async () => { await app.register(ssePlugin, { hub: { redis: 'redis://127.0.0.1:1', redisTimeout: 1000 } }) },
      { code: 'FST_SSE_HUB_UNAVAILABLE', message: /could not connect to redis:\/\/127\.0\.0\.1:1/ })
    await app.close()
  })
}

interface Instance {
  port: number
  publish (text: string): Promise<string>
}

async function startInstance (t: Test, keyPrefix: string): Promise<Instance> {
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('./fixtures/hub-instance.ts', import.meta.url).pathname, redis.url, keyPrefix], {
    stdio: ['ignore', 'pipe', 'inherit']
  })
  t.teardown(() => new Promise(resolve => {
    if (child.exitCode !== null) return resolve(undefined)
    child.once('exit', resolve)
    child.kill('SIGTERM')
  }))
  const lines = createInterface({ input: child.stdout })
  const { port } = await new Promise<{ port: number }>((resolve, reject) => {
    lines.once('line', line => resolve(JSON.parse(line)))
    child.once('exit', code => reject(new Error(`the instance exited with code ${code}`)))
  })
  return {
    port,
    async publish (text) {
      const response = await fetch(`http://127.0.0.1:${port}/publish`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text })
      })
      const body = await response.json() as { id: string }
      return body.id
    }
  }
}
