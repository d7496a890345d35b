// Hub behaviour of round 2, part of the conformance suite (test/hub-conformance.ts calls it, so it
// runs unchanged on every backend): replay of everything retained, per-subscriber filters, and
// several topics merged in one stream with exact resume per topic.
import type { Test } from 'tap'
import { Type } from '@sinclair/typebox'
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import type { HubOptions, SsePluginOptions, SseTopic } from '../src/index.js'
import type { HubUnderTest } from './hub-conformance.js'
import { rawGet, type RawResponse } from './helpers/raw.js'
import { startApp, until, type TestApp } from './helpers/server.js'

const events = {
  message: Type.Object({ from: Type.String(), text: Type.String() })
}

// A dashboard's topics: an order's updates, a global feed (one event's data is raw text), and
// notes addressed to one user each, in a shared topic.
const orderEvents = { order: Type.Object({ status: Type.String(), text: Type.String() }) }
const feedEvents = { news: Type.Object({ text: Type.String() }), shout: Type.String() }
const noteEvents = { note: Type.Object({ to: Type.String(), text: Type.String() }) }

interface Dashboard extends TestApp {
  orders: SseTopic<typeof orderEvents>
  feed: SseTopic<typeof feedEvents>
  notes: SseTopic<typeof noteEvents>
}

/**
 * /dash?user=: the three topics in one stream, notes filtered to the user (taken from the query
 * here: a real app takes it from the session). /dash2: orders and feed only. /dash-oldest: the
 * three, topics without a position starting at their oldest event.
 */
async function startDashboard (t: Test, hub: HubOptions, plugin: SsePluginOptions = {}): Promise<Dashboard> {
  const setup = (app: FastifyInstance): Omit<Dashboard, keyof TestApp> => ({
    orders: app.sse.topic('order:17', { events: orderEvents }),
    feed: app.sse.topic('feed', { events: feedEvents }),
    notes: app.sse.topic('notes', { events: noteEvents })
  })
  const started = await startApp(t, app => {
    const { orders, feed, notes } = setup(app)
    app.get<{ Querystring: { user?: string } }>('/dash', (request, reply) => {
      const user = request.query.user ?? 'ann'
      return reply.sse(app.sse.subscribe([orders, feed, { topic: notes, filter: ({ data }) => data.to === user }]))
    })
    app.get('/dash2', (_request, reply) => reply.sse(app.sse.subscribe([orders, feed])))
    app.get('/dash-oldest', (_request, reply) => reply.sse(app.sse.subscribe([orders, feed, notes], { from: 'oldest' })))
  }, { plugin: { hub, ...plugin } })
  return { ...started, ...setup(started.app) }
}

/** The id the client now holds: the last `id:` line received. */
function lastId (response: RawResponse): string | undefined {
  return [...response.body().matchAll(/^id: ?(.*)$/gm)].at(-1)?.[1]
}

/** What each event was, as `<event>:<text>`, and resets as `reset:<topic>:<reason>`. */
function seen (response: RawResponse): string[] {
  return response.events.map(({ event, data }) => {
    if (event === 'reset') {
      const reset = JSON.parse(data)
      return `reset:${reset.topic}:${reset.reason}`
    }
    return event === 'shout' ? `shout:${data}` : `${event ?? 'message'}:${JSON.parse(data).text}`
  })
}

/** `seen` split by topic: orders, feed, notes. */
function byTopic (events: string[]): string[][] {
  return [/^order:/, /^(news|shout):/, /^note:/].map(topic => events.filter(event => topic.test(event)))
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** The texts of the events received so far. */
function texts (response: RawResponse): string[] {
  return response.events.map(event => event.event === 'reset' ? `reset:${JSON.parse(event.data).reason}` : JSON.parse(event.data).text)
}

export function mergeConformance (t: Test, backend: HubUnderTest): void {
  t.test('Last-Event-ID 0-0 (header or query) replays every retained event', async t => {
    const { app, port } = await startApp(t, app => {
      const room = app.sse.topic('room', { events })
      app.get('/room', (_request, reply) => reply.sse(room.subscribe()))
    }, { plugin: { hub: backend.hub({ retain: 3 }) } })
    const room = app.sse.topic('room', { events })
    const only = await room.publish({ data: { from: 'ann', text: 'only' } })
    const first = await rawGet(port, '/room', { 'last-event-id': '0-0' })
    t.teardown(() => first.close())
    await first.waitFor(() => first.events.length === 1, 'the only event')
    t.same(first.events, [{ event: undefined, id: only, data: '{"from":"ann","text":"only"}' }], 'the one retained event, not a reset')
    // More than `retain` published: 0-0 asks for what is kept, so the oldest being gone is no reset.
    const ids = [only]
    for (const text of ['b', 'c', 'd', 'e']) ids.push(await room.publish({ data: { from: 'ann', text } }))
    const all = await rawGet(port, '/room?lastEventId=0-0')
    t.teardown(() => all.close())
    await all.waitFor(() => all.events.length === 3, 'the retained events')
    const next = await room.publish({ data: { from: 'ann', text: 'f' } })
    await all.waitFor(() => all.events.length === 4, 'the live event')
    t.same(all.events.map(event => event.id), [...ids.slice(2), next])
    t.same(texts(all), ['c', 'd', 'e', 'f'])
  })

  t.test('subscribe({ from: "oldest" }) gives a client without Last-Event-ID every retained event first', async t => {
    const { app, port } = await startApp(t, app => {
      const room = app.sse.topic('room', { events })
      app.get('/room', (_request, reply) => reply.sse(room.subscribe({ from: 'oldest' })))
    }, { plugin: { hub: backend.hub({ retain: 3 }) } })
    const room = app.sse.topic('room', { events })
    const empty = await rawGet(port, '/room')
    t.teardown(() => empty.close())
    const ids: string[] = []
    for (const text of ['a', 'b', 'c', 'd']) ids.push(await room.publish({ data: { from: 'ann', text } }))
    await empty.waitFor(() => empty.events.length === 4, 'the live events')
    t.same(texts(empty), ['a', 'b', 'c', 'd'], 'an empty topic: then live events')
    const fresh = await rawGet(port, '/room')
    t.teardown(() => fresh.close())
    await fresh.waitFor(() => fresh.events.length === 3, 'the retained events')
    t.same(texts(fresh), ['b', 'c', 'd'])
    t.ok(fresh.body().startsWith('data: '), 'no id-only frame first: the replay gives the id')
    const resumed = await rawGet(port, '/room', { 'last-event-id': ids[2]! })
    t.teardown(() => resumed.close())
    await resumed.waitFor(() => resumed.events.length === 1, 'the missed event')
    t.same(texts(resumed), ['d'], 'a client with an id resumes from it')
  })

  t.test('topic.subscribe({ filter }): a subscriber gets only the events its filter passes, live and on replay', async t => {
    const { app, port, logs } = await startApp(t, app => {
      const notes = app.sse.topic('notes', { events: noteEvents })
      app.get<{ Querystring: { user: string } }>('/notes', (request, reply) => reply.sse(notes.subscribe({ filter: ({ data }) => data.to === request.query.user })))
    }, { plugin: { hub: backend.hub() } })
    const notes = app.sse.topic('notes', { events: noteEvents })
    const note = async (to: string, text: string): Promise<string> => await notes.publish({ event: 'note', data: { to, text } })
    const ann = await rawGet(port, '/notes?user=ann')
    const bob = await rawGet(port, '/notes?user=bob')
    t.teardown(() => { ann.close(); bob.close() })
    const ids = [await note('ann', 'a1'), await note('bob', 'b1'), await note('ann', 'a2'), await note('cy', 'c1')]
    await ann.waitFor(() => ann.events.length === 2, 'ann\'s notes')
    await bob.waitFor(() => bob.events.length === 1, 'bob\'s note')
    const last = await note('bob', 'b2')
    await bob.waitFor(() => bob.events.length === 2, 'bob\'s second note')
    t.same(seen(ann), ['note:a1', 'note:a2'])
    t.same(ann.events.map(event => event.id), [ids[0], ids[2]], 'with the topic\'s own ids')
    t.same(seen(bob), ['note:b1', 'note:b2'])
    // Replay applies the same filter.
    const again = await rawGet(port, '/notes?user=ann', { 'last-event-id': ids[0]! })
    t.teardown(() => again.close())
    await again.waitFor(body => body.length > 0, 'the replay')
    await note('ann', 'a3')
    await again.waitFor(() => again.events.length === 2, 'the replay and the live note')
    t.same(seen(again), ['note:a2', 'note:a3'])
    t.notOk(logs.some(line => /filter failed/.test(line.msg)))
    t.ok(last)
  })

  t.test('a filtered-out event costs the subscriber no queue slot and no write', async t => {
    const { app, port, logs } = await startApp(t, app => {
      const notes = app.sse.topic('notes', { events: noteEvents })
      app.get('/notes', (_request, reply) => reply.sse(notes.subscribe({ filter: ({ data }) => data.to === 'ann' })))
    }, { plugin: { hub: backend.hub({ queueSize: 2, retain: 10 }), highWaterMark: 1024 } })
    const notes = app.sse.topic('notes', { events: noteEvents })
    const ann = await rawGet(port, '/notes')
    t.teardown(() => ann.close())
    ann.socket.pause()
    // Far more than the queue holds, each big enough to fill the socket buffers if it were sent.
    const big = 'x'.repeat(64 * 1024)
    for (let n = 0; n < 100; n++) await notes.publish({ event: 'note', data: { to: 'bob', text: big } })
    const mine = await notes.publish({ event: 'note', data: { to: 'ann', text: 'yours' } })
    ann.socket.resume()
    await ann.waitFor(() => ann.events.length === 1, 'ann\'s note')
    t.same(ann.events.map(event => [event.id, JSON.parse(event.data).text]), [[mine, 'yours']])
    t.ok(ann.body().length < 1000, `nothing else was written (${ann.body().length} bytes)`)
    t.notOk(logs.some(line => /fell behind/.test(line.msg)), 'the queue never overflowed')
  })

  t.test('a filter sees the data of every kind of event as published: JSON, raw text over several lines, untyped', async t => {
    const seenByFilter: unknown[] = []
    const { app, port } = await startApp(t, app => {
      const feed = app.sse.topic('feed', { events: feedEvents })
      const free = app.sse.topic('free')
      app.get('/feed', (_request, reply) => reply.sse(feed.subscribe({
        filter: event => {
          seenByFilter.push({ event: event.event, data: event.data, id: event.id, topic: event.topic })
          return event.event === 'shout' ? event.data.includes('keep') : event.data.text.includes('keep')
        }
      })))
      app.get('/free', (_request, reply) => reply.sse(free.subscribe({ filter: ({ data }) => typeof data === 'object' || data === 'keep' })))
    }, { plugin: { hub: backend.hub() } })
    const feed = app.sse.topic('feed', { events: feedEvents })
    const free = app.sse.topic('free')
    const live = await rawGet(port, '/feed')
    const untyped = await rawGet(port, '/free')
    t.teardown(() => { live.close(); untyped.close() })
    const ids = [
      await feed.publish({ event: 'news', data: { text: 'keep 1' } }),
      await feed.publish({ event: 'shout', data: 'drop\nthis' }),
      await feed.publish({ event: 'shout', data: 'keep\nthis' }),
      await feed.publish({ event: 'news', data: { text: 'drop' } })
    ]
    await free.publish({ data: 'drop' })
    await free.publish({ data: 'keep' })
    await free.publish({ data: { any: 1 } })
    await until(() => seenByFilter.length === 4, 'the filter to see four events')
    t.same(seenByFilter, [
      { event: 'news', data: { text: 'keep 1' }, id: ids[0], topic: 'feed' },
      { event: 'shout', data: 'drop\nthis', id: ids[1], topic: 'feed' },
      { event: 'shout', data: 'keep\nthis', id: ids[2], topic: 'feed' },
      { event: 'news', data: { text: 'drop' }, id: ids[3], topic: 'feed' }
    ])
    await live.waitFor(() => live.events.length === 2, 'the kept events')
    t.same(live.events.map(event => event.data), ['{"text":"keep 1"}', 'keep\nthis'])
    await untyped.waitFor(() => untyped.events.length === 2, 'the kept untyped events')
    t.same(untyped.events.map(event => event.data), ['keep', '{"any":1}'])
  })

  t.test('an event is decoded once for all the subscribers that filter it, not once each', async t => {
    const seenData: unknown[] = []
    const { app, port } = await startApp(t, app => {
      const notes = app.sse.topic('notes', { events: noteEvents })
      app.get('/notes', (_request, reply) => reply.sse(notes.subscribe({ filter: ({ data }) => { seenData.push(data); return true } })))
    }, { plugin: { hub: backend.hub() } })
    const notes = app.sse.topic('notes', { events: noteEvents })
    const clients = await Promise.all([rawGet(port, '/notes'), rawGet(port, '/notes'), rawGet(port, '/notes')])
    t.teardown(() => { for (const client of clients) client.close() })
    await notes.publish({ event: 'note', data: { to: 'ann', text: 'once' } })
    await until(() => seenData.length === 3, 'three filter calls')
    t.equal(new Set(seenData).size, 1, 'the three filters saw the very same value')
    t.same(seenData[0], { to: 'ann', text: 'once' })
  })

  t.test('a filter that throws or returns a promise fails closed: the event is not sent, the first failure is logged, the stream goes on', async t => {
    const { app, port, logs } = await startApp(t, app => {
      const notes = app.sse.topic('notes', { events: noteEvents })
      app.get('/throws', (_request, reply) => reply.sse(notes.subscribe({
        filter: ({ data }) => { if (data.text === 'bad') throw new Error('boom'); return true }
      })))
      // @ts-expect-error a filter must decide synchronously
      app.get('/async', (_request, reply) => reply.sse(notes.subscribe({ filter: async () => true })))
    }, { plugin: { hub: backend.hub() } })
    const notes = app.sse.topic('notes', { events: noteEvents })
    const throwing = await rawGet(port, '/throws')
    const asynchronous = await rawGet(port, '/async')
    t.teardown(() => { throwing.close(); asynchronous.close() })
    for (const text of ['ok1', 'bad', 'bad', 'ok2']) await notes.publish({ event: 'note', data: { to: 'ann', text } })
    await throwing.waitFor(() => throwing.events.length === 2, 'the two good notes')
    t.same(seen(throwing), ['note:ok1', 'note:ok2'])
    await until(() => logs.filter(line => /filter failed/.test(line.msg)).length === 2, 'a log line per subscriber')
    const failures = logs.filter(line => /filter failed/.test(line.msg))
    t.same(failures.map(line => [(line.err as { message: string }).message, line.topic]).sort(), [
      ['boom', 'notes'],
      ['the filter returned a promise: filters must decide synchronously', 'notes']
    ])
    await sleep(50)
    t.same(asynchronous.events, [], 'a promise is not a yes')
    t.equal(throwing.terminated(), false, 'the stream is still open')
  })

  t.test('several topics in one stream: every event once, each topic in its order, ids that hold a position per topic', async t => {
    const { orders, feed, notes, port } = await startDashboard(t, backend.hub())
    const before = await orders.publish({ event: 'order', data: { status: 'new', text: 'o0' } })
    const dash = await rawGet(port, '/dash?user=ann')
    t.teardown(() => dash.close())
    await dash.waitFor(body => body.length > 0, 'the opening id')
    const opening = lastId(dash)!
    t.match(opening, /^~[0-9A-Za-z]+(\.[0-9A-Za-z]{5}[0-9A-Za-z_]*){3}$/, `one position per topic: ${opening}`)
    t.equal(dash.events.length, 0, 'an id-only frame dispatches nothing')
    await feed.publish({ event: 'news', data: { text: 'f1' } })
    await orders.publish({ event: 'order', data: { status: 'paid', text: 'o1' } })
    await notes.publish({ event: 'note', data: { to: 'bob', text: 'n-bob' } })
    await notes.publish({ event: 'note', data: { to: 'ann', text: 'n1' } })
    await feed.publish({ event: 'shout', data: 'f2' })
    await dash.waitFor(() => dash.events.length === 4, 'four events')
    // Each topic in its order; across topics, as events come (Redis hands over what one read
    // got, topic by topic).
    t.same(byTopic(seen(dash)), [['order:o1'], ['news:f1', 'shout:f2'], ['note:n1']], 'bob\'s note left out')
    const frameIds = dash.events.map(event => event.id ?? '')
    t.equal(new Set(frameIds).size, 4, 'every frame has an id of its own')
    t.ok(frameIds.every(id => id.length <= 256 && id.startsWith('~')))
    t.ok(before)
  })

  t.test('several topics: a reconnection resumes each topic exactly where it was, while all of them keep publishing', async t => {
    const { orders, feed, notes, port } = await startDashboard(t, backend.hub())
    const dash = await rawGet(port, '/dash?user=ann')
    t.teardown(() => dash.close())
    await dash.waitFor(body => body.length > 0, 'the opening id')
    await orders.publish({ event: 'order', data: { status: 'a', text: 'o1' } })
    await notes.publish({ event: 'note', data: { to: 'ann', text: 'n1' } })
    await dash.waitFor(() => dash.events.length === 2, 'the first two')
    const held = lastId(dash)!
    dash.close()
    // While away: all three publish, interleaved; one of them only things filtered out.
    await feed.publish({ event: 'news', data: { text: 'f1' } })
    await orders.publish({ event: 'order', data: { status: 'b', text: 'o2' } })
    await notes.publish({ event: 'note', data: { to: 'bob', text: 'n-bob' } })
    await feed.publish({ event: 'shout', data: 'f2' })
    await notes.publish({ event: 'note', data: { to: 'ann', text: 'n2' } })
    await orders.publish({ event: 'order', data: { status: 'c', text: 'o3' } })
    const back = await rawGet(port, '/dash?user=ann', { 'last-event-id': held })
    t.teardown(() => back.close())
    await back.waitFor(() => back.events.length === 5, 'the missed events')
    await feed.publish({ event: 'news', data: { text: 'f3' } })
    await back.waitFor(() => back.events.length === 6, 'the live event')
    const got = seen(back)
    t.same(got.filter(e => e.startsWith('order')), ['order:o2', 'order:o3'], 'orders: the missed ones, once, in order')
    t.same(got.filter(e => e.startsWith('news') || e.startsWith('shout')), ['news:f1', 'shout:f2', 'news:f3'], 'the feed')
    t.same(got.filter(e => e.startsWith('note')), ['note:n2'], 'notes: ann\'s only')
    // Ids of different topics are not ordered (on Redis, two streams can give the same id in one
    // millisecond): the replay interleaves topics by id, so roughly by time, and only each topic's
    // own order is exact. Resuming from any frame's id gives exactly what came after it.
    const middle = back.events[2]!.id!
    const third = await rawGet(port, '/dash?user=ann', { 'last-event-id': middle })
    t.teardown(() => third.close())
    await third.waitFor(() => third.events.length === 3, 'the events after the third')
    t.same(byTopic(seen(third)), byTopic(got.slice(3)))
  })

  t.test('several topics: a topic that cannot resume gets its own reset, naming it; the others replay', async t => {
    const { orders, feed, port } = await startDashboard(t, backend.hub({ retain: 3 }))
    const dash = await rawGet(port, '/dash')
    t.teardown(() => dash.close())
    await dash.waitFor(body => body.length > 0, 'the opening id')
    await orders.publish({ event: 'order', data: { status: 'a', text: 'o0' } })
    await dash.waitFor(() => dash.events.length === 1, 'the first order')
    const held = lastId(dash)!
    dash.close()
    for (let n = 1; n <= 5; n++) await orders.publish({ event: 'order', data: { status: 'x', text: `o${n}` } })
    await feed.publish({ event: 'news', data: { text: 'f1' } })
    const back = await rawGet(port, '/dash', { 'last-event-id': held })
    t.teardown(() => back.close())
    await back.waitFor(() => back.events.length === 2, 'the reset and the feed\'s event')
    t.same(seen(back), ['reset:order:17:expired', 'news:f1'])
    const reset = JSON.parse(back.events[0]!.data)
    t.match(reset, { reason: 'expired', topic: 'order:17', lastEventId: /^\d+-\d+$/ }, 'the order topic\'s own position')
    await orders.publish({ event: 'order', data: { status: 'y', text: 'o6' } })
    await back.waitFor(() => back.events.length === 3, 'the next order')
    // After the reset, its id resumes the order topic from its newest event: no second reset.
    const again = await rawGet(port, '/dash', { 'last-event-id': back.events[0]!.id! })
    t.teardown(() => again.close())
    await again.waitFor(() => again.events.length === 2, 'what came after the reset')
    t.same(byTopic(seen(again)), [['order:o6'], ['news:f1'], []])
  })

  t.test('several topics: a topic that was empty resumes from its first event; if that is gone, it gets a reset', async t => {
    const { orders, notes, port } = await startDashboard(t, backend.hub({ retain: 2 }))
    await orders.publish({ event: 'order', data: { status: 'a', text: 'o0' } })
    const dash = await rawGet(port, '/dash')
    t.teardown(() => dash.close())
    await dash.waitFor(body => body.length > 0, 'the opening id')
    const held = lastId(dash)!
    dash.close()
    await notes.publish({ event: 'note', data: { to: 'ann', text: 'n1' } })
    await notes.publish({ event: 'note', data: { to: 'ann', text: 'n2' } })
    const back = await rawGet(port, '/dash', { 'last-event-id': held })
    t.teardown(() => back.close())
    await back.waitFor(() => back.events.length === 2, 'the notes published while away')
    t.same(seen(back), ['note:n1', 'note:n2'])
    // One more than `retain`: the first is gone.
    await notes.publish({ event: 'note', data: { to: 'ann', text: 'n3' } })
    const late = await rawGet(port, '/dash', { 'last-event-id': held })
    t.teardown(() => late.close())
    await late.waitFor(() => late.events.length >= 1, 'the reset')
    t.same(seen(late)[0], 'reset:notes:expired')
    t.equal(JSON.parse(late.events[0]!.data).lastEventId, '0-0', 'the position was "before the first event"')
    // The reset's id puts the stream at the newest event this instance had seen: on Redis Cluster
    // the publish of n3 can reach the reader after the reset was written, and then n3 follows it
    // (its id is after the reset's), never anything older.
    t.same(seen(late).slice(1).filter(name => name !== 'note:n3'), [], 'nothing but n3 after the reset')
  })

  t.test('several topics: a topic added to the stream later starts where `from` says; the others resume', async t => {
    const { orders, notes, port } = await startDashboard(t, backend.hub())
    const two = await rawGet(port, '/dash2')
    t.teardown(() => two.close())
    await two.waitFor(body => body.length > 0, 'the opening id')
    const held = lastId(two)!
    two.close()
    await notes.publish({ event: 'note', data: { to: 'ann', text: 'n-before' } })
    await orders.publish({ event: 'order', data: { status: 'a', text: 'o1' } })
    // The route now streams notes too: the id has no position for it.
    const three = await rawGet(port, '/dash?user=ann', { 'last-event-id': held })
    t.teardown(() => three.close())
    await three.waitFor(() => three.events.length === 1, 'the missed order')
    t.same(seen(three), ['order:o1'], 'notes start at their newest event')
    await notes.publish({ event: 'note', data: { to: 'ann', text: 'n-after' } })
    await three.waitFor(() => three.events.length === 2, 'the new note')
    t.same(seen(three), ['order:o1', 'note:n-after'])
    // An id-only frame came first, so even a client that got nothing yet resumes notes exactly.
    const fromOldest = await rawGet(port, '/dash-oldest', { 'last-event-id': held })
    t.teardown(() => fromOldest.close())
    await fromOldest.waitFor(() => fromOldest.events.length === 3, 'the missed order and every note')
    t.same(seen(fromOldest).sort(), ['note:n-after', 'note:n-before', 'order:o1'])
    // A topic dropped from the stream: its position is ignored, the others resume.
    const fewer = await rawGet(port, '/dash2', { 'last-event-id': three.events[0]!.id! })
    t.teardown(() => fewer.close())
    await orders.publish({ event: 'order', data: { status: 'b', text: 'o2' } })
    await fewer.waitFor(() => fewer.events.length === 1, 'the next order')
    t.same(seen(fewer), ['order:o2'])
  })

  t.test('several topics: Last-Event-ID 0-0 replays every retained event of each', async t => {
    const { orders, feed, notes, port } = await startDashboard(t, backend.hub())
    await orders.publish({ event: 'order', data: { status: 'a', text: 'o1' } })
    await notes.publish({ event: 'note', data: { to: 'bob', text: 'n-bob' } })
    await feed.publish({ event: 'news', data: { text: 'f1' } })
    await notes.publish({ event: 'note', data: { to: 'ann', text: 'n1' } })
    const all = await rawGet(port, '/dash?user=ann', { 'last-event-id': '0-0' })
    t.teardown(() => all.close())
    await all.waitFor(() => all.events.length === 3, 'everything retained')
    t.same(byTopic(seen(all)), [['order:o1'], ['news:f1'], ['note:n1']])
  })

  t.test('several topics: a forged, malformed or oversized Last-Event-ID gets a clean reset per topic (or, too long, a fresh start), never an error', async t => {
    const { orders, feed, port, logs } = await startDashboard(t, backend.hub())
    const newest = await orders.publish({ event: 'order', data: { status: 'a', text: 'o1' } })
    await feed.publish({ event: 'news', data: { text: 'f1' } })
    const cases = [
      'garbage', newest, '~', '~1', '~1.', '~1.abc', '~1.abcde!', '~zzzzzzzzzz.abcde', '~1.abcde1..abcde1',
      // Negative times, and numbers beyond what an id holds.
      '~1.abcde2', `~${'z'.repeat(9)}.abcde0`, `~1.abcde0_${'z'.repeat(9)}`
    ]
    for (const id of cases) {
      const response = await rawGet(port, '/dash', { 'last-event-id': id })
      t.teardown(() => response.close())
      t.equal(response.status, 200, id)
      await response.waitFor(() => response.events.length === 3, `three resets for ${id}`)
      t.same(seen(response), ['reset:order:17:unknown', 'reset:feed:unknown', 'reset:notes:unknown'], id)
      t.same(response.events.map(event => JSON.parse(event.data).lastEventId), [id, id, id])
      response.close()
    }
    // Each reset's id moves every topic to its newest event: from the first one, nothing is
    // replayed (the client refetches its state after a reset) and nothing is reset again.
    const reset = await rawGet(port, '/dash', { 'last-event-id': 'garbage' })
    t.teardown(() => reset.close())
    await reset.waitFor(() => reset.events.length === 3, 'the resets')
    const afterFirst = await rawGet(port, '/dash', { 'last-event-id': reset.events[0]!.id! })
    t.teardown(() => afterFirst.close())
    await orders.publish({ event: 'order', data: { status: 'b', text: 'o2' } })
    await afterFirst.waitFor(() => afterFirst.events.length >= 1, 'the next event')
    await sleep(50)
    t.same(seen(afterFirst), ['order:o2'], 'no replay, no reset: only what came after')
    // Well formed, but a position that is no id of its topic (in 2081): that topic gets a reset.
    const dash = await rawGet(port, '/dash')
    t.teardown(() => dash.close())
    await dash.waitFor(body => body.length > 0, 'the opening id')
    const real = lastId(dash)!
    const forged = real.replace(/^~[0-9A-Za-z]+/, '~zzzzzzz')
    const response = await rawGet(port, '/dash', { 'last-event-id': forged })
    t.teardown(() => response.close())
    await response.waitFor(() => response.events.length === 2, 'the resets')
    t.same(seen(response), ['reset:order:17:unknown', 'reset:feed:unknown'], 'the topics with a position are reset; the empty one replays from its start')
    // Tags of no topic of this stream: every topic is new to this client.
    const strangers = await rawGet(port, '/dash', { 'last-event-id': '~1' + '.abcde1'.repeat(30) })
    t.teardown(() => strangers.close())
    await strangers.waitFor(body => body.length > 0, 'the opening id')
    t.same(strangers.events, [], 'no reset, no replay: a fresh start')
    // Longer than maxLastEventIdLength: ignored like any such id, with a warning; a fresh start.
    const long = await rawGet(port, '/dash', { 'last-event-id': '~1' + '.abcde1'.repeat(100) })
    t.teardown(() => long.close())
    await long.waitFor(body => body.length > 0, 'the opening id')
    t.same(long.events, [])
    t.ok(logs.some(line => /ignored an invalid or too long Last-Event-ID/.test(line.msg)))
    t.notOk(logs.some(line => line.level >= 50), 'nothing logged as an error')
  })

  t.test('several topics: deleting one of them ends the stream', async t => {
    const { orders, feed, port } = await startDashboard(t, backend.hub())
    const dash = await rawGet(port, '/dash')
    t.teardown(() => dash.close())
    await dash.waitFor(body => body.length > 0, 'the opening id')
    await feed.publish({ event: 'news', data: { text: 'f1' } })
    await dash.waitFor(() => dash.events.length === 1, 'an event')
    await orders.delete()
    await dash.ended
    t.ok(dash.terminated(), 'ended cleanly by the server')
  })

  t.test('several topics: fastify.close() ends merged streams, live or replaying', async t => {
    const { app, orders, port } = await startDashboard(t, backend.hub())
    const live = await rawGet(port, '/dash')
    await orders.publish({ event: 'order', data: { status: 'a', text: 'o1' } })
    const replaying = await rawGet(port, '/dash', { 'last-event-id': '0-0' })
    await live.waitFor(() => live.events.length === 1, 'the live event')
    await replaying.waitFor(() => replaying.events.length === 1, 'the replay')
    await app.close()
    await Promise.all([live.ended, replaying.ended])
    t.ok(live.terminated() && replaying.terminated(), 'both ended cleanly')
    await t.rejects(app.sse.subscribe([orders])({ signal: AbortSignal.abort(), lastEventId: undefined }), { code: 'FST_SSE_HUB_CLOSED' })
  })

  t.test('fastify.sse.subscribe() checks its topics and options at the call', async t => {
    const { app, orders, feed, notes } = await startDashboard(t, backend.hub(), { maxLastEventIdLength: 50 })
    const other = await startApp(t, () => {}, { plugin: { hub: backend.hub() } })
    const cases: Array<[() => unknown, RegExp]> = [
      [() => app.sse.subscribe([]), /option "topics \(fastify\.sse\.subscribe\)" must be a non-empty array of topics, got an array/],
      // @ts-expect-error not an array
      [() => app.sse.subscribe(orders), /must be a non-empty array of topics/],
      // @ts-expect-error not a topic
      [() => app.sse.subscribe(['order:17']), /option "topics \(fastify\.sse\.subscribe\)\[0\]" must be a topic of this app's hub/],
      [() => app.sse.subscribe([orders, other.app.sse.topic('x')]), /\[1\]" must be a topic of this app's hub/],
      [() => app.sse.subscribe([orders, app.sse.topic('order:17')]), /\[1\]" must be a topic not already in the list, got "order:17"/],
      // @ts-expect-error an unknown key
      [() => app.sse.subscribe([{ topic: orders, fitler: () => true }]), /\[0\]\.fitler" must be a known key \(topic, filter\)/],
      // @ts-expect-error the filter must be a function
      [() => app.sse.subscribe([{ topic: orders, filter: 'yes' }]), /\[0\]\.filter" must be a function/],
      // @ts-expect-error from is newest or oldest
      [() => app.sse.subscribe([orders], { from: 'latest' }), /option "from \(subscribe to several topics\)" must be one of "newest", "oldest", got "latest"/],
      [() => app.sse.subscribe([orders, feed, notes]), /must be at most 2 topics: each adds up to 17 characters to the stream's Last-Event-ID, which maxLastEventIdLength \(50\) bounds; raise it for more, got "3 topics"/],
      // @ts-expect-error from is newest or oldest
      [() => orders.subscribe({ from: 'start' }), /option "from \(subscribe to topic "order:17"\)" must be one of "newest", "oldest"/],
      // @ts-expect-error an unknown option
      [() => orders.subscribe({ filter: () => true, limit: 3 }), /option "limit \(subscribe to topic "order:17"\)" must be a known subscribe option \(filter, from\)/]
    ]
    for (const [call, message] of cases) t.throws(call, { code: 'FST_SSE_INVALID_OPTION', message })
    t.type(app.sse.subscribe([orders, { topic: feed, filter: () => true }]), 'function')
  })

  // PROPERTY_RUNS=200 runs more scenarios (each takes about 0.15 s).
  t.test('property: random publishes to three topics while clients drop and reconnect at random; each gets every event it may see, per topic, exactly once', async t => {
    await fc.assert(fc.asyncProperty(scenario, async steps => await runScenario(t, backend, steps)), { numRuns: Number(process.env.PROPERTY_RUNS ?? 12), endOnFailure: true })
    t.pass('twelve random scenarios')
  })
}

type Publish = { kind: 'publish', topic: 0 | 1 | 2, to: 'ann' | 'bob' }
type Step =
  | Publish
  /** Several publishes at once, not waiting for each: they reach the subscribers in bursts. */
  | { kind: 'burst', publishes: Publish[] }
  | { kind: 'drop', client: number }
  | { kind: 'reconnect', client: number }
  | { kind: 'pause', ms: number }

const USERS = ['ann', 'bob', 'ann'] as const
const publish: fc.Arbitrary<Publish> = fc.record({ kind: fc.constant('publish' as const), topic: fc.constantFrom(0 as const, 1 as const, 2 as const), to: fc.constantFrom('ann' as const, 'bob' as const) })
const scenario: fc.Arbitrary<Step[]> = fc.array(fc.oneof(
  { weight: 5, arbitrary: publish },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('burst' as const), publishes: fc.array(publish, { minLength: 2, maxLength: 8 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('drop' as const), client: fc.integer({ min: 0, max: USERS.length - 1 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reconnect' as const), client: fc.integer({ min: 0, max: USERS.length - 1 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('pause' as const), ms: fc.integer({ min: 0, max: 15 }) }) }
), { minLength: 10, maxLength: 80 })

interface Client {
  user: 'ann' | 'bob'
  response: RawResponse | undefined
  /** The id of the last whole frame received: what a browser would send back. */
  held: string | undefined
  /** Per topic, the texts received, across its connections. */
  got: string[][]
  /** How many events of each topic were published before its first connection was open. */
  startAt: number[] | undefined
  resets: number
}

async function runScenario (t: Test, backend: HubUnderTest, steps: Step[]): Promise<boolean> {
  const { orders, feed, notes, port, app } = await startDashboard(t, backend.hub({ retain: 10_000 }))
  const published: Array<Array<{ text: string, to: string }>> = [[], [], []]
  const clients: Client[] = USERS.map(user => ({ user, response: undefined, held: undefined, got: [[], [], []], startAt: undefined, resets: 0 }))
  const harvest = (client: Client): void => {
    const response = client.response
    if (response === undefined) return
    for (const { event, data } of response.events) {
      if (event === 'reset') client.resets++
      else if (event === 'order') client.got[0]!.push(JSON.parse(data).text)
      else if (event === 'news') client.got[1]!.push(JSON.parse(data).text)
      else if (event === 'note') client.got[2]!.push(JSON.parse(data).text)
    }
    // Only whole frames count: a browser commits an id when the blank line that ends its frame comes.
    const whole = response.body().slice(0, response.body().lastIndexOf('\n\n') + 2)
    client.held = [...whole.matchAll(/^id: ?(.*)$/gm)].at(-1)?.[1] ?? client.held
    response.events.length = 0
  }
  const connect = async (client: Client): Promise<void> => {
    client.response = await rawGet(port, `/dash?user=${client.user}`, client.held === undefined ? {} : { 'last-event-id': client.held })
    client.startAt ??= published.map(events => events.length)
  }
  const drop = (client: Client): void => {
    client.response?.close()
    harvest(client)
    client.response = undefined
  }
  // Publishes are sent in the order they are called (on Redis, one connection, in order), so the
  // order of the calls is each topic's id order.
  const send = async ({ topic, to }: Publish): Promise<unknown> => {
    const text = `${['o', 'f', 'n'][topic]}${published[topic]!.length}`
    published[topic]!.push({ text, to })
    if (topic === 0) return await orders.publish({ event: 'order', data: { status: 'x', text } })
    if (topic === 1) return await feed.publish({ event: 'news', data: { text } })
    return await notes.publish({ event: 'note', data: { to, text } })
  }
  try {
    for (const client of clients) await connect(client)
    for (const step of steps) {
      if (step.kind === 'publish') {
        await send(step)
      } else if (step.kind === 'burst') {
        await Promise.all(step.publishes.map(send))
      } else if (step.kind === 'drop') {
        drop(clients[step.client]!)
      } else if (step.kind === 'reconnect') {
        const client = clients[step.client]!
        drop(client)
        await connect(client)
      } else {
        await sleep(step.ms)
      }
    }
    // Everyone comes back and reads to the end.
    const expected = (client: Client): string[][] => published.map((events, topic) => events
      .slice(client.startAt![topic])
      .filter(({ to }) => topic !== 2 || to === client.user)
      .map(({ text }) => text))
    for (const client of clients) if (client.response === undefined) await connect(client)
    for (const client of clients) {
      const want = expected(client)
      const count = want.reduce((sum, texts) => sum + texts.length, 0)
      await until(() => client.got.reduce((sum, texts) => sum + texts.length, 0) + client.response!.events.length >= count, 'every event at the client')
      await sleep(20)
      harvest(client)
      t.same({ resets: client.resets, got: client.got }, { resets: 0, got: want }, `${client.user}: every topic exactly, in order`)
      if (client.resets !== 0 || JSON.stringify(client.got) !== JSON.stringify(want)) return false
    }
    return true
  } finally {
    for (const client of clients) client.response?.close()
    await app.close()
  }
}
