// A stream of several topics on Redis, through what only Redis does: a Redis that freezes
// (SIGSTOP) while subscribers are connected and others arrive, and two instances sharing topics.
// (The behaviour common to every backend is in the conformance suite.)
import t, { type Test } from 'tap'
import { Type } from '@sinclair/typebox'
import { rawGet, type RawResponse } from './helpers/raw.js'
import { startRedis, type RedisServer } from './helpers/redis.js'
import { startApp } from './helpers/server.js'

const events = {
  a: Type.Object({ text: Type.String() }),
  b: Type.Object({ text: Type.String(), to: Type.String() })
}

let redis: RedisServer
let prefixes = 0

/** The texts received, per topic (event `a` is topic A's, `b` topic B's). */
function perTopic (response: RawResponse): [string[], string[]] {
  const of = (name: string): string[] => response.events.filter(event => event.event === name).map(event => JSON.parse(event.data).text)
  return [of('a'), of('b')]
}

async function startMerged (t: Test, keyPrefix: string) {
  return await startApp(t, app => {
    const a = app.sse.topic('A', { events })
    const b = app.sse.topic('B', { events })
    app.get('/both', (_request, reply) => reply.sse(app.sse.subscribe([a, { topic: b, filter: event => event.event !== 'b' || event.data.to === 'ann' }])))
  }, { plugin: { hub: { redis: redis.url, keyPrefix, redisTimeout: 400 } } })
}

t.test('several topics on Redis', async t => {
  redis = await startRedis(t)

  t.test('while Redis is frozen, a merged stream stays up and one arriving opens; once it runs again, both get every topic exactly', async t => {
    const { app, port } = await startMerged(t, `m${++prefixes}:`)
    const a = app.sse.topic('A', { events })
    const b = app.sse.topic('B', { events })
    const early = await rawGet(port, '/both')
    t.teardown(() => early.close())
    await early.waitFor(body => body.length > 0, 'the opening id')
    await a.publish({ event: 'a', data: { text: 'a1' } })
    await early.waitFor(() => early.events.length === 1, 'a1')
    const held = early.events[0]!.id!

    redis.pause()
    t.teardown(() => redis.resume())
    // It cannot follow the topics now; it gets its stream anyway, and waits.
    const during = await rawGet(port, '/both', { 'last-event-id': held })
    t.teardown(() => during.close())
    t.equal(during.status, 200)
    await new Promise(resolve => setTimeout(resolve, 600))
    t.equal(early.socket.destroyed, false, 'the first stream is still open')
    redis.resume()

    // Both follow again once their reads reach Redis (the newcomer backs off up to 2 s).
    const published: [string[], string[]] = [[], []]
    const deadline = Date.now() + 15_000
    for (let n = 0; (during.events.length === 0 || early.events.length < 2) && Date.now() < deadline; n++) {
      if (n % 2 === 0) {
        await a.publish({ event: 'a', data: { text: `a${n + 2}` } })
        published[0].push(`a${n + 2}`)
      } else {
        await b.publish({ event: 'b', data: { text: `b${n + 2}`, to: 'bob' } })
        await b.publish({ event: 'b', data: { text: `b${n + 2}`, to: 'ann' } })
        published[1].push(`b${n + 2}`)
      }
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    await a.publish({ event: 'a', data: { text: 'last' } })
    published[0].push('last')
    await early.waitFor(() => early.events.at(-1)?.data.includes('"last"') === true, 'the last event at the first stream')
    t.same(perTopic(early), [['a1', ...published[0]], published[1]], 'the kept stream: nothing lost, nothing twice, ann\'s notes only')
    // The newcomer resumed from a1: everything after it.
    await during.waitFor(() => during.events.at(-1)?.data.includes('"last"') === true, 'the last event at the newcomer')
    t.same(perTopic(during), published, 'the newcomer: exactly what came after its id, per topic')
  })

  t.test('two instances share the topics: a merged stream resumes on the other instance exactly', async t => {
    const keyPrefix = `m${++prefixes}:`
    const one = await startMerged(t, keyPrefix)
    const two = await startMerged(t, keyPrefix)
    const a = one.app.sse.topic('A', { events })
    const b = two.app.sse.topic('B', { events })
    const first = await rawGet(one.port, '/both')
    t.teardown(() => first.close())
    await first.waitFor(body => body.length > 0, 'the opening id')
    await a.publish({ event: 'a', data: { text: 'a1' } })
    await b.publish({ event: 'b', data: { text: 'b1', to: 'ann' } })
    await first.waitFor(() => first.events.length === 2, 'both events')
    const held = first.events.at(-1)!.id!
    first.close()
    await b.publish({ event: 'b', data: { text: 'b2', to: 'bob' } })
    await a.publish({ event: 'a', data: { text: 'a2' } })
    await b.publish({ event: 'b', data: { text: 'b3', to: 'ann' } })
    const second = await rawGet(two.port, '/both', { 'last-event-id': held })
    t.teardown(() => second.close())
    await second.waitFor(() => second.events.length === 2, 'the missed events')
    await a.publish({ event: 'a', data: { text: 'a3' } })
    await second.waitFor(() => second.events.length === 3, 'the live event')
    t.same(perTopic(second), [['a2', 'a3'], ['b3']])
  })
})
