// One suite of hub behaviour, run unchanged on each backend (test/hub-memory.test.ts,
// test/hub-redis.test.ts): the memory hub and the Redis hub must behave the same.
import type { Test } from 'tap'
import { Type } from '@sinclair/typebox'
import { EventSource } from 'eventsource'
import type { Socket } from 'node:net'
import { HubResetSchema, InvalidEventError, type HubOptions, type SseTopic } from '../src/index.js'
import { mergeConformance } from './hub-conformance-merge.js'
import { rawGet, type RawResponse } from './helpers/raw.js'
import { startApp, until, type TestApp } from './helpers/server.js'

export interface HubUnderTest {
  /** Hub options for a fresh hub that shares nothing with the other tests. */
  hub (options?: HubOptions): HubOptions
}

export const events = {
  message: Type.Object({ from: Type.String(), text: Type.String() }),
  joined: Type.Object({ who: Type.String() })
}

type Room = SseTopic<typeof events>

interface RoomApp extends TestApp {
  room: Room
  /** Every server-side socket, so a test can cut connections like a flaky network. */
  sockets: Set<Socket>
}

async function startRoom (t: Test, hub: HubOptions, plugin: { retry?: number, highWaterMark?: number } = {}): Promise<RoomApp> {
  let room: Room | undefined
  const sockets = new Set<Socket>()
  const app = await startApp(t, app => {
    room = app.sse.topic('room:42', { events })
    app.get('/rooms/42/events', (_request, reply) => reply.sse(room!.subscribe()))
    app.server.on('connection', (socket: Socket) => {
      sockets.add(socket)
      socket.once('close', () => sockets.delete(socket))
    })
  }, { plugin: { hub, ...plugin } })
  return { ...app, room: room!, sockets }
}

/** Publishes `count` messages numbered from `from`; resolves with their ids in order. */
async function publishMany (room: Room, count: number, from = 0, size = 0): Promise<string[]> {
  const ids: string[] = []
  const padding = 'x'.repeat(size)
  for (let n = from; n < from + count; n++) ids.push(await room.publish({ data: { from: 'ann', text: `${n}${padding}` } }))
  return ids
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

const message = (text: string): { data: { from: string, text: string } } => ({ data: { from: 'ann', text } })

/** The ids of the events received so far (id-only frames dispatch nothing and are not listed). */
function ids (response: RawResponse): string[] {
  return response.events.map(event => event.id ?? '')
}

export function hubConformance (t: Test, backend: HubUnderTest): void {
  t.test('publish reaches a live subscriber once, with an id that increases', async t => {
    const { room, url } = await startRoom(t, backend.hub())
    const source = new EventSource(`${url}/rooms/42/events`)
    t.teardown(() => source.close())
    const got: Array<{ type: string, data: unknown, id: string }> = []
    source.onmessage = event => got.push({ type: event.type, data: JSON.parse(event.data), id: event.lastEventId })
    source.addEventListener('joined', event => got.push({ type: event.type, data: JSON.parse(event.data), id: event.lastEventId }))
    await new Promise(resolve => { source.onopen = resolve })
    const first = await room.publish({ event: 'joined', data: { who: 'ann' } })
    const second = await room.publish({ data: { from: 'ann', text: 'hi' } })
    await until(() => got.length === 2, 'two events')
    t.same(got, [
      { type: 'joined', data: { who: 'ann' }, id: first },
      { type: 'message', data: { from: 'ann', text: 'hi' }, id: second }
    ])
    t.match(first, /^\d+-\d+$/)
    t.ok(compare(first, second) < 0, `${first} < ${second}`)
  })

  t.test('an invalid event is rejected at publish with its schema path; nothing is stored or sent', async t => {
    const { room, port } = await startRoom(t, backend.hub())
    const before = await room.publish({ data: { from: 'ann', text: 'before' } })
    const live = await rawGet(port, '/rooms/42/events')
    t.teardown(() => live.close())
    // @ts-expect-error text must be a string
    const invalid = room.publish({ data: { from: 'ann', text: 42 } })
    await t.rejects(invalid, { name: 'InvalidEventError', code: 'FST_SSE_INVALID_EVENT', event: 'message', path: '/text' })
    t.ok(await invalid.catch((err: unknown) => err instanceof InvalidEventError))
    // @ts-expect-error not an event of the map
    await t.rejects(room.publish({ event: 'left', data: { who: 'ann' } }), { code: 'FST_SSE_UNKNOWN_EVENT' })
    // @ts-expect-error the hub assigns ids
    await t.rejects(room.publish({ id: '1-1', data: { from: 'ann', text: 'x' } }), { code: 'FST_SSE_INVALID_PUBLISH', message: /takes no id/ })
    const after = await room.publish({ data: { from: 'ann', text: 'after' } })
    await live.waitFor(body => body.includes('"after"'))
    t.same(live.events.map(event => JSON.parse(event.data).text), ['after'], 'the live subscriber saw only the valid event')
    const replay = await rawGet(port, '/rooms/42/events', { 'last-event-id': before })
    t.teardown(() => replay.close())
    await replay.waitFor(body => body.includes('"after"'))
    t.same(ids(replay), [after], 'nothing invalid was stored between the two')
  })

  t.test('a publish repeated with its idempotencyKey is stored once and resolves with the first id', async t => {
    const { app, room, port } = await startRoom(t, backend.hub())
    const live = await rawGet(port, '/rooms/42/events')
    t.teardown(() => live.close())
    const first = await room.publish(message('a'), { idempotencyKey: 'k1' })
    t.equal(await room.publish(message('a'), { idempotencyKey: 'k1' }), first, 'a retry resolves with the first id')
    // Retries racing each other: one is stored, and every one resolves with its id.
    const raced = await Promise.all(Array.from({ length: 5 }, async () => await room.publish(message('b'), { idempotencyKey: 'k2' })))
    t.equal(new Set(raced).size, 1, `one id for five racing publishes: ${raced.join(' ')}`)
    // Without a key every publish is stored; a key belongs to its topic.
    const plain = await room.publish(message('a'))
    const elsewhere = await app.sse.topic('room:43', { events }).publish(message('a'), { idempotencyKey: 'k1' })
    t.not(elsewhere, first, 'the same key on another topic is another event')
    const last = await room.publish(message('c'))
    await live.waitFor(() => live.events.at(-1)?.id === last, 'the last event')
    t.same(ids(live), [first, raced[0], plain, last], 'subscribers saw each event once')
    t.same(live.events.map(event => JSON.parse(event.data).text), ['a', 'b', 'a', 'c'])
  })

  t.test('an idempotencyKey is forgotten once idempotencyWindow has passed', async t => {
    const { room } = await startRoom(t, backend.hub({ idempotencyWindow: 100 }))
    const first = await room.publish(message('a'), { idempotencyKey: 'k' })
    await new Promise(resolve => setTimeout(resolve, 250))
    const again = await room.publish(message('a'), { idempotencyKey: 'k' })
    t.ok(compare(first, again) < 0, `stored anew: ${first} then ${again}`)
  })

  t.test('publish options are checked at the call; nothing is stored', async t => {
    const { room, port } = await startRoom(t, backend.hub())
    const live = await rawGet(port, '/rooms/42/events')
    t.teardown(() => live.close())
    const where = /\(publish to topic "room:42"\)/.source
    const cases: Array<[unknown, RegExp]> = [
      [{ idempotencyKey: '' }, new RegExp(`option "idempotencyKey ${where}" must be a non-empty string of at most 256 characters, got ""`)],
      [{ idempotencyKey: 'x'.repeat(257) }, /must be a non-empty string of at most 256 characters/],
      [{ idempotencyKey: 17 }, /got 17/],
      [{ idempotencykey: 'a' }, new RegExp(`option "idempotencykey ${where}" must be a known publish option \\(idempotencyKey\\)`)],
      ['key', new RegExp(`option "options ${where}" must be an object`)]
    ]
    for (const [options, message] of cases) {
      // @ts-expect-error deliberately wrong options
      await t.rejects(room.publish({ data: { from: 'ann', text: 'x' } }, options), { code: 'FST_SSE_INVALID_OPTION', message })
    }
    const valid = await room.publish({ data: { from: 'ann', text: 'valid' } }, { idempotencyKey: 'x'.repeat(256) })
    await live.waitFor(() => live.events.length === 1, 'the valid event')
    t.same(ids(live), [valid], 'only the valid publish was stored')
  })

  t.test('a subscriber with Last-Event-ID gets exactly the missed events, in order, then live ones', async t => {
    const { room, port } = await startRoom(t, backend.hub())
    const published = await publishMany(room, 10)
    const response = await rawGet(port, '/rooms/42/events', { 'last-event-id': published[3]! })
    t.teardown(() => response.close())
    await response.waitFor(() => response.events.length === 6, 'the replay')
    const live = await publishMany(room, 2, 10)
    await response.waitFor(() => response.events.length === 8, 'the live events')
    t.same(ids(response), [...published.slice(4), ...live])
    t.same(response.events.map(event => JSON.parse(event.data).text), ['4', '5', '6', '7', '8', '9', '10', '11'])
    // Whole frames, as written: data, then the id line.
    t.ok(response.body().startsWith(`data: {"from":"ann","text":"4"}\nid: ${published[4]}\n\n`), response.body().slice(0, 80))
  })

  t.test('Last-Event-ID of the newest event replays nothing; the lastEventId query works too', async t => {
    const { room, port } = await startRoom(t, backend.hub())
    const [, newest] = await publishMany(room, 2)
    const response = await rawGet(port, `/rooms/42/events?lastEventId=${newest}`)
    t.teardown(() => response.close())
    const [next] = await publishMany(room, 1, 2)
    await response.waitFor(() => response.events.length === 1, 'the live event')
    t.same(ids(response), [next])
  })

  t.test('a first connection is told the newest id, so its first reconnect resumes from there', async t => {
    const { room, port } = await startRoom(t, backend.hub())
    const [newest] = await publishMany(room, 1)
    const response = await rawGet(port, '/rooms/42/events')
    t.teardown(() => response.close())
    await response.waitFor(body => body.length > 0, 'the opening id')
    t.equal(response.body(), `id: ${newest}\n\n`, 'an id-only frame: it dispatches nothing, it sets the last event id')
  })

  t.test('a first connection to an empty topic is told "before the first event", so what is published while it is away replays when it comes back', async t => {
    const { room, port } = await startRoom(t, backend.hub())
    const first = await rawGet(port, '/rooms/42/events')
    t.teardown(() => first.close())
    await first.waitFor(body => body.length > 0, 'the opening id')
    t.equal(first.body(), 'id: 0\n\n', 'an id-only frame: 0 is "before the first event"')
    first.close()
    // Away: the topic gets its first events. Back with the id it was given, it misses none.
    const published = await publishMany(room, 3)
    const back = await rawGet(port, '/rooms/42/events', { 'last-event-id': '0' })
    t.teardown(() => back.close())
    await back.waitFor(() => back.events.length === 3, 'the events published while it was away')
    t.same(ids(back), published)
  })

  t.test('back from "before the first event" after the topic dropped events, a client is told so with a reset', async t => {
    const { room, port } = await startRoom(t, backend.hub({ retain: 2 }))
    const published = await publishMany(room, 4)
    const back = await rawGet(port, '/rooms/42/events', { 'last-event-id': '0' })
    t.teardown(() => back.close())
    await back.waitFor(() => back.events.length === 1, 'the reset')
    t.equal(back.body(), `event: reset\ndata: {"reason":"expired","lastEventId":"0"}\nid: ${published.at(-1)}\n\n`)
  })

  t.test('an id older than what is retained yields a reset event, then live events', async t => {
    const { room, port } = await startRoom(t, backend.hub({ retain: 5 }))
    const published = await publishMany(room, 12)
    const response = await rawGet(port, '/rooms/42/events', { 'last-event-id': published[2]! })
    t.teardown(() => response.close())
    await response.waitFor(() => response.events.length === 1, 'the reset')
    const newest = published.at(-1)!
    t.equal(response.body(), `event: reset\ndata: {"reason":"expired","lastEventId":"${published[2]}"}\nid: ${newest}\n\n`)
    const [next] = await publishMany(room, 1, 12)
    await response.waitFor(() => response.events.length === 2, 'the live event')
    t.same(ids(response), [newest, next])
    // Still retained (the newest five: published 9 to 11 and the live one): replays as usual.
    const ok = await rawGet(port, '/rooms/42/events', { 'last-event-id': published[9]! })
    t.teardown(() => ok.close())
    await ok.waitFor(() => ok.events.length === 3, 'the retained events')
    t.same(ids(ok), [...published.slice(10), next])
  })

  t.test('an unknown id yields a reset event with reason "unknown"', async t => {
    const { room, port } = await startRoom(t, backend.hub())
    const published = await publishMany(room, 3)
    for (const lastEventId of ['not-an-id', '99999999999999-0']) {
      const response = await rawGet(port, '/rooms/42/events', { 'last-event-id': lastEventId })
      t.teardown(() => response.close())
      await response.waitFor(() => response.events.length === 1, 'the reset')
      t.same(response.events[0], { event: 'reset', id: published.at(-1), data: JSON.stringify({ reason: 'unknown', lastEventId }) })
    }
  })

  t.test('retention by age: events older than maxAge are not replayed', async t => {
    const { room, port } = await startRoom(t, backend.hub({ maxAge: 300 }))
    const old = await publishMany(room, 3)
    await new Promise(resolve => setTimeout(resolve, 400))
    const fresh = await publishMany(room, 2, 3)
    const response = await rawGet(port, '/rooms/42/events', { 'last-event-id': old[0]! })
    t.teardown(() => response.close())
    await response.waitFor(() => response.events.length === 1, 'the reset')
    t.equal(response.events[0]?.event, 'reset')
    t.same(JSON.parse(response.events[0]!.data), { reason: 'expired', lastEventId: old[0] })
    const recent = await rawGet(port, '/rooms/42/events', { 'last-event-id': fresh[0]! })
    t.teardown(() => recent.close())
    await recent.waitFor(() => recent.events.length === 1, 'the replay')
    t.same(ids(recent), [fresh[1]])
  })

  t.test('a topic idle for topicTtl is dropped: resuming from one of its ids gets a reset', async t => {
    const { room, port } = await startRoom(t, backend.hub({ topicTtl: 200 }))
    const [first] = await publishMany(room, 2)
    await sleep(600)
    const response = await rawGet(port, '/rooms/42/events', { 'last-event-id': first! })
    t.teardown(() => response.close())
    await response.waitFor(() => response.events.length === 1, 'the reset')
    t.same(response.events[0], { event: 'reset', id: '0', data: JSON.stringify({ reason: 'unknown', lastEventId: first }) },
      'nothing is left of it, not even its newest id: the client starts before its first event')
    const next = await room.publish(message('again'))
    await response.waitFor(() => response.events.length === 2, 'the next event')
    t.same(ids(response), ['0', next], 'the topic is used again as if new')
  })

  t.test('a subscriber keeps its topic alive; it is dropped topicTtl after the last one leaves', async t => {
    // Long enough that a slow machine still refreshes it in time (Redis: every third of it).
    const topicTtl = 600
    const { room, port } = await startRoom(t, backend.hub({ topicTtl }))
    const published = await publishMany(room, 2)
    const keeper = await rawGet(port, '/rooms/42/events')
    t.teardown(() => keeper.close())
    await keeper.waitFor(body => body === `id: ${published[1]}\n\n`, 'the opening id')
    await sleep(topicTtl * 2.5)
    const replay = await rawGet(port, '/rooms/42/events', { 'last-event-id': published[0]! })
    t.teardown(() => replay.close())
    await replay.waitFor(() => replay.events.length === 1, 'the replay')
    t.same(replay.events.map(event => [event.event, event.id]), [[undefined, published[1]]], 'kept past its TTL while subscribed: the missed event is replayed, no reset')
    replay.close()
    keeper.close()
    await sleep(topicTtl * 2.5)
    const late = await rawGet(port, '/rooms/42/events', { 'last-event-id': published[0]! })
    t.teardown(() => late.close())
    await late.waitFor(() => late.events.length === 1, 'the reset')
    t.same(late.events[0], { event: 'reset', id: '0', data: JSON.stringify({ reason: 'unknown', lastEventId: published[0] }) },
      'dropped once nobody was subscribed for its TTL')
  })

  t.test('topic.delete() drops its events and ends its subscribers\' streams; the name can be used again', async t => {
    const { app, room, port } = await startRoom(t, backend.hub())
    const published = await publishMany(room, 3)
    const live = await rawGet(port, '/rooms/42/events')
    const replaying = await rawGet(port, '/rooms/42/events', { 'last-event-id': published[0]! })
    t.teardown(() => { live.close(); replaying.close() })
    await live.waitFor(body => body.length > 0, 'the opening id')
    await replaying.waitFor(() => replaying.events.length === 2, 'the replay')
    await room.delete()
    await Promise.all([live.ended, replaying.ended])
    t.ok(live.terminated() && replaying.terminated(), 'both responses were ended cleanly by the server')
    // A client reconnecting with its last id finds nothing to resume: a reset, then live events.
    const again = await rawGet(port, '/rooms/42/events', { 'last-event-id': published[2]! })
    t.teardown(() => again.close())
    await again.waitFor(() => again.events.length === 1, 'the reset')
    t.same([again.events[0]?.event, JSON.parse(again.events[0]!.data)], ['reset', { reason: 'unknown', lastEventId: published[2] }])
    const next = await room.publish(message('after'))
    await again.waitFor(() => again.events.length === 2, 'the event after')
    t.equal(again.events[1]?.id, next)
    t.ok(compare(published[2]!, next) < 0, 'ids go on increasing')
    // Deleting is idempotent, from any handle of the name, and an unknown topic is no error.
    await app.sse.topic('room:42').delete()
    await app.sse.topic('room:42').delete()
    await app.sse.topic('never-used').delete()
    await again.ended
    t.pass('the second delete ended the new subscription too')
  })

  t.test('EventSource reconnecting after a cut gets every event exactly once', async t => {
    const { room, url, sockets } = await startRoom(t, backend.hub(), { retry: 20 })
    const source = new EventSource(`${url}/rooms/42/events`)
    t.teardown(() => source.close())
    const got: string[] = []
    let opened = 0
    source.onopen = () => { opened++ }
    source.onmessage = event => got.push(event.lastEventId)
    await until(() => opened === 1, 'open')
    const published = await publishMany(room, 3)
    await until(() => got.length === 3, 'the first three')
    for (const socket of sockets) socket.destroy()
    published.push(...await publishMany(room, 4, 3))
    await until(() => opened === 2, 'the reconnection')
    published.push(...await publishMany(room, 2, 7))
    await until(() => got.length >= 9, 'all nine')
    await new Promise(resolve => setTimeout(resolve, 50))
    t.same(got, published, 'no gap, no duplicate across the reconnection')
  })

  t.test('many subscribers reconnecting with assorted Last-Event-IDs while a publisher runs see no gap and no duplicate', async t => {
    const { room, port } = await startRoom(t, backend.hub({ retain: 10_000 }))
    const published: string[] = []
    const total = 300
    let publishing = true
    const publisher = (async () => {
      for (let n = 0; n < total; n++) {
        published.push(await room.publish({ data: { from: 'pub', text: String(n) } }))
        if (n % 10 === 0) await new Promise(resolve => setTimeout(resolve, 2))
      }
      publishing = false
    })()
    const problems: string[] = []
    let sessions = 0
    const subscriber = async (seed: number): Promise<void> => {
      let random = seed
      const next = (): number => { random = (random * 1103515245 + 12345) % 2 ** 31; return random / 2 ** 31 }
      let last: string | undefined
      for (;;) {
        // Half the time resume from where we were; otherwise from an assorted earlier id, or none.
        const roll = next()
        const from = roll < 0.5 ? last : roll < 0.8 && published.length > 0 ? published[Math.floor(next() * published.length)] : undefined
        const done = !publishing
        const response = await rawGet(port, '/rooms/42/events', from === undefined ? {} : { 'last-event-id': from })
        sessions++
        if (done) {
          // The publisher has finished: read to the end of the log.
          const newest = published.at(-1)
          // The newest as an event, or as the opening id of a connection with nothing to replay.
          await response.waitFor(body => response.events.at(-1)?.id === newest || from === newest || body === `id: ${newest}\n\n`, 'the newest event')
        } else {
          await new Promise(resolve => setTimeout(resolve, 5 + next() * 40))
        }
        response.close()
        const got = ids(response)
        // An event can reach a subscriber before its publish() resolves (on Redis the reader may
        // hand it over first): wait until the publisher has recorded what this session got. An
        // id that was never published times out here.
        await until(() => got.every(id => published.includes(id)), 'the publisher to record every id received')
        let expected = from === undefined ? published.indexOf(got[0] ?? '') : published.indexOf(from) + 1
        for (const id of got) {
          if (id !== published[expected]) {
            problems.push(`from ${from}: got ${id}, expected ${published[expected]} (${got.join(' ')})`)
            break
          }
          expected++
        }
        last = got.at(-1) ?? from
        if (done) return
      }
    }
    await Promise.all([publisher, ...Array.from({ length: 16 }, (_, i) => subscriber(i + 1))])
    t.same(problems, [], 'every session received consecutive ids from its Last-Event-ID on')
    t.ok(sessions > 32, `${sessions} sessions`)
  })

  t.test('a slow subscriber overflows its queue and its stream ends; the others are not held up', async t => {
    const app = await startRoom(t, backend.hub({ queueSize: 4, retain: 10_000 }), { highWaterMark: 1024 })
    const { overflowed, fast, published, slow } = await stallOne(t, app)
    t.ok(overflowed, 'the hub logged the overflow')
    await fast.waitFor(() => fast.events.length === published.length, 'every event at the fast client')
    t.same(ids(fast), published, 'the fast client got every event while the slow one was stuck')
    slow.socket.resume()
    await slow.ended
    const got = ids(slow)
    t.same(got, published.slice(0, got.length), 'the slow client got a prefix, in order, then its stream ended')
    t.ok(got.length < published.length)
    // It reconnects with its last id and replays the rest.
    const again = await rawGet(app.port, '/rooms/42/events', { 'last-event-id': got.at(-1)! })
    t.teardown(() => again.close())
    await again.waitFor(() => again.events.length === published.length - got.length, 'the replay')
    t.same(ids(again), published.slice(got.length))
  })

  t.test('with onOverflow "drop-oldest" a slow subscriber loses its oldest queued events and stays connected', async t => {
    const app = await startRoom(t, backend.hub({ queueSize: 4, onOverflow: 'drop-oldest', retain: 10_000 }), { highWaterMark: 1024 })
    const { fast, published, slow } = await stallOne(t, app, false)
    await fast.waitFor(() => fast.events.length === published.length, 'every event at the fast client')
    slow.socket.resume()
    await slow.waitFor(() => slow.events.at(-1)?.id === published.at(-1), 'the newest event')
    const got = ids(slow)
    t.ok(got.length < published.length, `${got.length} of ${published.length}: some were dropped`)
    t.same(got.map(id => published.indexOf(id)).every((index, i, all) => index >= 0 && (i === 0 || index > all[i - 1]!)), true, 'in order, none twice')
    t.notOk(app.logs.some(line => /fell behind/.test(line.msg)), 'no stream was ended')
  })

  t.test('fastify.close() ends subscriptions and leaves no timer or socket behind; the hub refuses use afterwards', async t => {
    const before = resources()
    const { app, room, port } = await startRoom(t, backend.hub())
    const live = await rawGet(port, '/rooms/42/events')
    const [first] = await publishMany(room, 2)
    const replaying = await rawGet(port, '/rooms/42/events', { 'last-event-id': first! })
    await live.waitFor(() => live.events.length === 2, 'the live events')
    await replaying.waitFor(() => replaying.events.length === 1, 'the replay')
    await app.close()
    await Promise.all([live.ended, replaying.ended])
    await t.rejects(room.publish({ data: { from: 'ann', text: 'late' } }), { code: 'FST_SSE_HUB_CLOSED' })
    await t.rejects(room.delete(), { code: 'FST_SSE_HUB_CLOSED' })
    await new Promise(resolve => setImmediate(resolve))
    // Other tests' sockets may still be closing, so compare as "no more than before".
    const after = resources()
    const added = Object.keys(after).filter(kind => after[kind]! > (before[kind] ?? 0)).map(kind => `${kind}: ${before[kind] ?? 0} -> ${after[kind]}`)
    t.same(added, [], 'no more timers or sockets than before the app started')
  })

  t.test('topics are checked when created', async t => {
    const { app } = await startRoom(t, backend.hub())
    t.throws(() => app.sse.topic(''), { code: 'FST_SSE_INVALID_OPTION' })
    t.throws(() => app.sse.topic('a\0b'), { code: 'FST_SSE_INVALID_OPTION', message: /topic name" must be a non-empty string without NUL/ })
    t.throws(() => app.sse.topic('t', { events: { reset: Type.String() } }), { code: 'FST_SSE_INVALID_OPTION', message: /events\.reset/ })
    t.doesNotThrow(() => app.sse.topic('t', { events: { ...events, reset: HubResetSchema } }), 'the reset schema itself may be listed for clients')
    const untyped = app.sse.topic('free')
    t.match(await untyped.publish({ data: 'anything' }), /^\d+-\d+$/)
  })

  // Replay of everything retained, filters, several topics in one stream.
  mergeConformance(t, backend)
}

/**
 * One client that stops reading (its socket paused) and one that reads everything, while events
 * big enough to fill the socket buffers are published until the slow one's queue overflows
 * (or, when `untilOverflow` is false, a fixed amount).
 */
async function stallOne (t: Test, app: RoomApp, untilOverflow = true): Promise<{ overflowed: boolean, fast: RawResponse, slow: RawResponse, published: string[] }> {
  const slow = await rawGet(app.port, '/rooms/42/events')
  const fast = await rawGet(app.port, '/rooms/42/events')
  t.teardown(() => { slow.close(); fast.close() })
  slow.socket.pause()
  const published: string[] = []
  const overflow = (): boolean => app.logs.some(line => /fell behind/.test(line.msg))
  const enough = (): boolean => untilOverflow && overflow()
  // 64 KiB events: the kernel's socket buffers take a few MiB before the server sees backpressure.
  for (let round = 0; round < 300 && !enough(); round++) {
    published.push(...await publishMany(app.room, 1, published.length, 64 * 1024))
    // One at a time, each taken by the fast client before the next: only the slow one falls behind.
    await fast.waitFor(() => fast.events.length === published.length, 'the fast client to catch up')
  }
  return { overflowed: overflow(), fast, slow, published }
}

/** Counts of the process's live timers and sockets, by kind. */
function resources (): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const kind of process.getActiveResourcesInfo()) {
    if (/Timeout|TCP|Pipe/.test(kind)) counts[kind] = (counts[kind] ?? 0) + 1
  }
  return counts
}

function compare (a: string, b: string): number {
  const [am, as] = a.split('-').map(Number) as [number, number]
  const [bm, bs] = b.split('-').map(Number) as [number, number]
  return am !== bm ? am - bm : as - bs
}
