// The hub behind Redis Sentinel: the application passes an ioredis client configured with its
// Sentinels; the hub finds the master through them, and follows it when a replica is promoted.
import t from 'tap'
import { Type } from '@sinclair/typebox'
import { Redis } from 'ioredis'
import { compareIds } from '../src/hub/backend.js'
import { rawGet, type RawResponse } from './helpers/raw.js'
import { startRedisSentinel } from './helpers/redis-sentinel.js'
import { startApp, until } from './helpers/server.js'

const events = { message: Type.Object({ text: Type.String() }) }

function ids (response: RawResponse): string[] {
  return response.events.map(event => event.id ?? '')
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

t.test('the hub on a master found through Sentinel follows it through a failover', async t => {
  const sentinel = await startRedisSentinel(t)
  const client = new Redis({ sentinels: sentinel.sentinels, name: sentinel.name, lazyConnect: true })
  t.teardown(() => client.disconnect())
  const hub = { redis: client, redisTimeout: 1000 }
  const room = async (): Promise<Awaited<ReturnType<typeof startApp>>> => await startApp(t, app => {
    const topic = app.sse.topic('room', { events })
    app.get('/room', (_request, reply) => reply.sse(topic.subscribe()))
  }, { plugin: { hub } })
  // One instance serves the subscribers, another publishes.
  const readers = await room()
  const writer = await room()
  const topic = writer.app.sse.topic('room', { events })
  const live = await rawGet(readers.port, '/room')
  t.teardown(() => live.close())

  const acknowledged: string[] = []
  const afterwards: string[] = []
  const refusals: string[] = []
  const run = { publishing: true, failedOver: false }
  t.teardown(() => { run.publishing = false })
  const publisher = (async () => {
    for (let n = 0; run.publishing; n++) {
      try {
        const id = await topic.publish({ data: { text: String(n) } })
        acknowledged.push(id)
        if (run.failedOver) afterwards.push(id)
      } catch (err) {
        refusals.push((err as { code?: string }).code ?? String(err))
        await sleep(20)
      }
      await sleep(5)
    }
  })()
  await until(() => acknowledged.length >= 20, 'publishes before the failover')
  t.equal(live.events.length > 0, true, 'the subscriber gets events through the master the Sentinels named')
  await sentinel.failOver()
  run.failedOver = true
  await until(() => afterwards.length >= 20, 'publishes after the failover')
  run.publishing = false
  await publisher

  await live.waitFor(() => ids(live).includes(acknowledged.at(-1)!), 'the newest event')
  const got = ids(live)
  const admin = new Redis(sentinel.replica.port)
  t.teardown(() => admin.disconnect())
  const kept = (await admin.xrange('sse:{room}', '-', '+')).map(([id]) => id)
  t.same(got, [...new Set(got)].sort(compareIds), 'in order, none twice')
  const texts = live.events.map(event => JSON.parse(event.data).text as string)
  t.equal(new Set(texts).size, texts.length, 'no publish stored twice')
  t.same(kept.filter(id => compareIds(id, got[0]!) > 0 && !got.includes(id)), [], 'nothing the promoted replica kept was missed')
  t.same(afterwards.filter(id => !kept.includes(id) || !got.includes(id)), [], 'every publish acknowledged after the failover is kept and delivered')
  const lost = acknowledged.filter(id => !kept.includes(id))
  t.ok(lost.every(id => compareIds(id, afterwards[0]!) < 0), `${lost.length} acknowledged event(s) lost with the old master (asynchronous replication), all from before the failover`)
  t.same([...new Set(refusals)].filter(code => code !== 'FST_SSE_HUB_UNAVAILABLE' && code !== 'FST_SSE_HUB_OUTCOME_UNKNOWN'), [],
    `the ${refusals.length} publishes refused during the failover were "not stored" (503) or "outcome unknown" (504)`)

  // A client resuming from an id kept across the failover gets exactly what followed it.
  const from = got.filter(id => kept.includes(id))[3]!
  const resumed = await rawGet(writer.port, '/room', { 'last-event-id': from })
  t.teardown(() => resumed.close())
  const rest = kept.slice(kept.indexOf(from) + 1)
  await resumed.waitFor(() => resumed.events.length === rest.length, 'the replay')
  t.same(ids(resumed), rest)
  t.equal(client.status, 'wait', 'the application\'s client was never connected by the hub')
})
