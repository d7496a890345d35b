// The hub on Redis Cluster: the shared conformance suite against a real 3-master cluster (one
// replica each) started for this file, then what only a cluster has: topics spread over slots
// and nodes, one subscriber connection per node, a master failing over, a slot moving.
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { Type } from '@sinclair/typebox'
import { Cluster } from 'ioredis'
import ssePlugin, { type SseTopic } from '../src/index.js'
import { compareIds } from '../src/hub/backend.js'
import { keySlot } from '../src/hub/slot.js'
import { hubConformance } from './hub-conformance.js'
import { rawGet, type RawResponse } from './helpers/raw.js'
import { startRedisCluster, type RedisCluster } from './helpers/redis-cluster.js'
import { startApp, until } from './helpers/server.js'

let cluster: RedisCluster
/** The application's own client: the hub takes its settings from it, and never uses or closes it. */
let client: Cluster
let tests = 0
/** Each test gets its own key prefix: its topics share nothing with the others'. */
const hub = (options: { redis?: Cluster, redisTimeout?: number } = {}): { redis: Cluster, keyPrefix: string } => ({ redis: client, keyPrefix: `t${++tests}:`, ...options })

t.test('the hub on Redis Cluster', async t => {
  cluster = await startRedisCluster(t)
  client = new Cluster(cluster.nodes.slice(0, 1), { lazyConnect: true })
  t.teardown(() => client.disconnect())
  t.test('conformance', async t => hubConformance(t, { hub }))
  clusterOnly(t)
})

const events = { message: Type.Object({ from: Type.String(), text: Type.String() }) }

const message = (text: string): { data: { from: string, text: string } } => ({ data: { from: 'x', text } })
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** The ids Redis holds in a topic's stream now, oldest first (read from its master). */
async function stored (keyPrefix: string, topic: string): Promise<string[]> {
  const rows = await client.xrange(`${keyPrefix}{${topic}}`, '-', '+')
  return rows.filter(([, fields]) => fields[0] === 'frame').map(([id]) => id)
}

/** This library's connections on each node, by node port: the names of what is open there. */
async function hubConnections (): Promise<Map<number, string[]>> {
  const found = new Map<number, string[]>()
  for (const { port } of cluster.nodes) {
    const list = await cluster.admin(port).call('CLIENT', 'LIST').catch(() => '') as string
    found.set(port, list.split('\n').map(line => /name=(\S*)/.exec(line)?.[1] ?? '').filter(name => name.startsWith('fastify-typed-sse')))
  }
  return found
}

/** `count` topic names whose streams (under `keyPrefix`) are spread over every master, with the port of each one's master. */
async function topicsOnEveryMaster (keyPrefix: string, count: number): Promise<Array<{ name: string, master: number }>> {
  const masters = await cluster.masters()
  const topics: Array<{ name: string, master: number }> = []
  for (let i = 0; topics.length < count; i++) {
    const name = `room:${i}`
    const master = await cluster.ownerOf(await cluster.keySlot(`${keyPrefix}{${name}}`))
    // Round robin over the masters, so that each one serves some.
    if (master === masters[topics.length % masters.length]) topics.push({ name, master })
  }
  return topics
}

async function startRooms (t: Test, options: object): Promise<Awaited<ReturnType<typeof startApp>>> {
  return await startApp(t, app => {
    app.get<{ Params: { name: string } }>('/rooms/:name', (request, reply) => reply.sse(app.sse.topic(request.params.name, { events }).subscribe()))
  }, { plugin: { hub: options } })
}

/** Publishes with an idempotency key, retrying while the hub says "not stored" or "outcome unknown". */
async function publishOnce (topic: SseTopic<typeof events>, text: string): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await topic.publish(message(text), { idempotencyKey: text })
    } catch (err) {
      const code = (err as { code?: string }).code
      if (attempt === 20 || (code !== 'FST_SSE_HUB_UNAVAILABLE' && code !== 'FST_SSE_HUB_OUTCOME_UNKNOWN')) throw err
      await sleep(100)
    }
  }
}

function ids (response: RawResponse): string[] {
  return response.events.map(event => event.id ?? '')
}

function clusterOnly (t: Test): void {
  t.test('topics spread over every master are read with one connection per master, however many topics and clients', async t => {
    const options = hub()
    const { app, port } = await startRooms(t, options)
    const topics = await topicsOnEveryMaster(options.keyPrefix, 9)
    const clients = await Promise.all(topics.flatMap(({ name }) => [0, 1].map(async () => await rawGet(port, `/rooms/${name}`))))
    t.teardown(() => { for (const client of clients) client.close() })
    const published = new Map<string, string>()
    for (const { name } of topics) published.set(name, await app.sse.topic(name, { events }).publish(message(name)))
    for (const [i, client] of clients.entries()) {
      const { name } = topics[Math.floor(i / 2)]!
      await client.waitFor(() => client.events.length === 1, `the event of ${name}`)
      t.same([client.events[0]?.id, JSON.parse(client.events[0]!.data).text], [published.get(name), name])
    }
    const masters = new Set(topics.map(topic => topic.master))
    t.equal(masters.size, 3, 'the topics live on the three masters')
    for (const [node, names] of await hubConnections()) {
      const readers = names.filter(name => name === 'fastify-typed-sse:reader').length
      t.equal(readers, masters.has(node) ? 1 : 0, `${readers} reader connection(s) on ${masters.has(node) ? 'master' : 'replica'} ${node}, for ${clients.length} clients of ${topics.length} topics`)
    }
    await app.close()
    await Promise.all(clients.map(client => client.ended))
    const left = [...(await hubConnections()).values()].flat()
    t.same(left, [], 'close() leaves no connection on any node')
  })

  t.test('a topic\'s stream and idempotency keys share a slot whatever its name, so a keyed publish works', async t => {
    const { app, port } = await startRooms(t, hub())
    for (const name of ['plain', '}starts-with-brace', '{braced}', 'a}b{c', 'ünïcødé', '{}']) {
      const topic = app.sse.topic(name, { events })
      const client = await rawGet(port, `/rooms/${encodeURIComponent(name)}`)
      t.teardown(() => client.close())
      const id = await topic.publish(message(name), { idempotencyKey: 'once' })
      t.equal(await topic.publish(message(name), { idempotencyKey: 'once' }), id, `${JSON.stringify(name)}: the retry resolves with the first id`)
      await client.waitFor(() => client.events.length === 1, `the event of ${JSON.stringify(name)}`)
      t.same(ids(client), [id], `${JSON.stringify(name)}: stored and delivered once`)
    }
  })

  t.test('the hub computes hash slots as Redis does', async t => {
    for (const key of ['sse:{room}', 'a{x}b', '{}', '{}x}', 'x{}{y}', '{\0}}a}', 'ünïcødé', '123456789', 'é{ü}', 'x'.repeat(300)]) {
      t.equal(keySlot(key), await cluster.keySlot(key), JSON.stringify(key))
    }
  })

  t.test('the application\'s Cluster client is neither used nor closed by the hub', async t => {
    const own = new Cluster(cluster.nodes.slice(0, 1))
    t.teardown(() => own.disconnect())
    await own.set('mine', 'kept')
    const { app } = await startRooms(t, hub({ redis: own }))
    await app.sse.topic('room', { events }).publish(message('hi'))
    await app.close()
    t.equal(await own.get('mine'), 'kept', 'still connected and usable after fastify.close()')
    const lazy = new Cluster(cluster.nodes.slice(0, 1), { lazyConnect: true })
    const other = await startRooms(t, hub({ redis: lazy }))
    await other.app.sse.topic('room', { events }).publish(message('hi'))
    t.equal(lazy.status, 'wait', 'a lazy client is never connected')
  })

  t.test('register fails with a clear error when no node of the cluster can be reached, or when given one node of a cluster as a URL', async t => {
    const nowhere = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true })
    const app = Fastify()
    await t.rejects(async () => { await app.register(ssePlugin, { hub: { redis: nowhere, redisTimeout: 1000 } }) },
      { code: 'FST_SSE_HUB_UNAVAILABLE', message: /could not connect to the Redis Cluster/ })
    await app.close()
    const node = Fastify()
    await t.rejects(async () => { await node.register(ssePlugin, { hub: { redis: `redis://127.0.0.1:${cluster.nodes[0]!.port}` } }) },
      { code: 'FST_SSE_INVALID_OPTION', message: /option "hub\.redis" must be an ioredis Cluster client .* for a Redis Cluster, got "the address of one of its nodes"/ })
    await node.close()
  })
  t.test('a publish its master holds past redisTimeout rejects as "outcome unknown"; the master runs it, and subscribers get it once', async t => {
    const options = hub({ redisTimeout: 300 })
    const { app, port } = await startRooms(t, options)
    const [{ name, master }] = await topicsOnEveryMaster(options.keyPrefix, 1) as [{ name: string, master: number }]
    const topic = app.sse.topic(name, { events })
    const client = await rawGet(port, `/rooms/${name}`)
    t.teardown(() => client.close())
    const before = await topic.publish(message('before'))
    // Writes wait on the master (the cluster bus goes on: no failover), then run in order.
    await cluster.admin(master).call('CLIENT', 'PAUSE', 1000, 'WRITE')
    await t.rejects(topic.publish(message('held'), { idempotencyKey: 'held' }), {
      code: 'FST_SSE_HUB_OUTCOME_UNKNOWN', statusCode: 504, message: /Retry with the same idempotencyKey/
    })
    await client.waitFor(() => client.events.length === 2, 'the held event, once the master runs it')
    const held = client.events[1]!.id!
    t.equal(await topic.publish(message('held'), { idempotencyKey: 'held' }), held, 'the retry with its key resolves with its id')
    const after = await topic.publish(message('after'))
    await client.waitFor(() => ids(client).at(-1) === after, 'the event after')
    t.same(ids(client), [before, held, after], 'each once')
    t.same(await stored(options.keyPrefix, name), [before, held, after])
  })

  t.test('a slot moving to another master (ASK, then MOVED) with subscribers connected: they get every event once, and the topic is read on its new master', async t => {
    const options = hub()
    const readers = await startRooms(t, options)
    const writer = await startRooms(t, options)
    const [{ name, master }] = await topicsOnEveryMaster(options.keyPrefix, 1) as [{ name: string, master: number }]
    const slot = await cluster.keySlot(`${options.keyPrefix}{${name}}`)
    const target = (await cluster.masters()).find(port => port !== master)!
    const client = await rawGet(readers.port, `/rooms/${name}`)
    t.teardown(() => client.close())
    const topic = writer.app.sse.topic(name, { events })
    const published = [await topic.publish(message('before'))]
    await cluster.moveSlot(slot, target, async () => {
      // The stream has moved, the slot not yet: publishes are redirected with ASK.
      for (let n = 0; n < 5; n++) published.push(await topic.publish(message(`during ${n}`)))
    })
    for (let n = 0; n < 5; n++) published.push(await topic.publish(message(`after ${n}`)))
    await client.waitFor(() => ids(client).at(-1) === published.at(-1), 'every event')
    t.same(ids(client), published, 'every event once, in order')
    t.same(await stored(options.keyPrefix, name), published, 'all kept on the new master')
    const channel = `${options.keyPrefix}{${name}}`
    t.same(await cluster.admin(target).call('PUBSUB', 'SHARDNUMSUB', channel), [channel, 1], 'the instance reads the topic on its new master')
    t.same(await cluster.admin(master).call('PUBSUB', 'SHARDNUMSUB', channel), [channel, 0], 'and no longer on the old one')
  })

  t.test('a master frozen until a replica replaces it, then thawed, with subscribers connected: they follow the new master and miss nothing', async t => {
    const options = hub({ redisTimeout: 500 })
    const readers = await startRooms(t, options)
    const writer = await startRooms(t, options)
    const [{ name, master }] = await topicsOnEveryMaster(options.keyPrefix, 1) as [{ name: string, master: number }]
    const client = await rawGet(readers.port, `/rooms/${name}`)
    t.teardown(() => client.close())
    const topic = writer.app.sse.topic(name, { events })
    const published = [await topic.publish(message('before'))]
    const promoted = await cluster.freeze(master)
    // The thawed old master is a replica now, and closes its clients' connections: a publish
    // caught in that may be "outcome unknown". Retried with its key, as the README shows, each
    // is stored once.
    for (let n = 0; n < 5; n++) published.push(await publishOnce(topic, `after ${n}`))
    await client.waitFor(() => ids(client).at(-1) === published.at(-1), 'the events published on the new master')
    t.same(ids(client), published, 'every event once, in order')
    const channel = `${options.keyPrefix}{${name}}`
    t.same(await cluster.admin(promoted).call('PUBSUB', 'SHARDNUMSUB', channel), [channel, 1], 'read on the new master')
  })

  // Last: the cluster has one master fewer replica afterwards.
  t.test('a master fails over with subscribers connected: they miss nothing Redis kept, get nothing twice, and publishing resumes', async t => {
    const options = hub({ redisTimeout: 1000 })
    // One instance serves the subscribers, another publishes, as behind a load balancer.
    const readers = await startRooms(t, options)
    const writer = await startRooms(t, options)
    const topics = await topicsOnEveryMaster(options.keyPrefix, 3)
    const clients = await Promise.all(topics.map(async ({ name }) => await rawGet(readers.port, `/rooms/${name}`)))
    t.teardown(() => { for (const client of clients) client.close() })
    const acknowledged = new Map(topics.map(({ name }) => [name, [] as string[]]))
    /** Ids acknowledged once the replica had taken over. */
    const afterwards = new Map(topics.map(({ name }) => [name, [] as string[]]))
    const refusals: string[] = []
    let failedOver = false
    const run = { publishing: true }
    t.teardown(() => { run.publishing = false })
    const publisher = (async () => {
      for (let n = 0; run.publishing; n++) {
        await Promise.all(topics.map(async ({ name }) => {
          try {
            const id = await writer.app.sse.topic(name, { events }).publish(message(String(n)))
            acknowledged.get(name)!.push(id)
            if (failedOver) afterwards.get(name)!.push(id)
          } catch (err) {
            refusals.push((err as { code?: string }).code ?? String(err))
          }
        }))
        await sleep(5)
      }
    })()
    // A third instance, whose client would refresh its slot map only once a minute by itself.
    const slow = new Cluster(cluster.nodes.slice(0, 1), { lazyConnect: true, slotsRefreshInterval: 60_000 })
    t.teardown(() => slow.disconnect())
    const late = await startRooms(t, { ...options, redis: slow })
    const lateTopic = late.app.sse.topic(topics[0]!.name, { events })
    await lateTopic.publish(message('late before'))
    await until(() => [...acknowledged.values()].every(ids => ids.length >= 20), 'publishes before the failover')
    const victim = topics[0]!.master
    const promoted = await cluster.failOver(victim)
    failedOver = true
    // Its connection to the failed master is gone: it asks the cluster who serves the slot now.
    afterwards.get(topics[0]!.name)!.push(await lateTopic.publish(message('late after')))
    await until(() => [...afterwards.values()].every(ids => ids.length >= 20), 'publishes after the failover')
    run.publishing = false
    await publisher

    for (const [i, { name }] of topics.entries()) {
      const client = clients[i]!
      const newest = acknowledged.get(name)!.at(-1)!
      await client.waitFor(() => ids(client).includes(newest), `the newest event of ${name}`)
      const got = ids(client)
      const kept = await stored(options.keyPrefix, name)
      t.same(got, [...new Set(got)].sort(compareIds), `${name}: in order, none twice`)
      // Each publish has its own text: one stored twice (a command resent after its connection
      // closed, though the old master had run it) would show here with two ids.
      const texts = client.events.map(event => JSON.parse(event.data).text as string)
      t.equal(new Set(texts).size, texts.length, `${name}: no publish stored twice`)
      t.same(kept.filter(id => compareIds(id, got[0]!) > 0 && !got.includes(id)), [], `${name}: nothing Redis kept was missed`)
      const after = afterwards.get(name)!
      t.same(after.filter(id => !kept.includes(id) || !got.includes(id)), [], `${name}: every publish acknowledged after the failover is kept and delivered`)
      // Acknowledged by the old master and not yet copied to its replica when it died: Redis
      // replicates asynchronously, so these may be lost (a subscriber may have had them).
      const lost = acknowledged.get(name)!.filter(id => !kept.includes(id))
      t.ok(lost.every(id => compareIds(id, after[0]!) < 0), `${name}: ${lost.length} acknowledged event(s) lost with the old master, all from before the failover`)
      if (topics[i]!.master !== victim) t.same(lost, [], `${name}: on another master, nothing lost`)
    }
    t.ok(refusals.length > 0, `${refusals.length} publishes refused during the failover (${refusals.filter(code => code === 'FST_SSE_HUB_UNAVAILABLE').length} as not stored)`)
    t.same([...new Set(refusals)].filter(code => code !== 'FST_SSE_HUB_UNAVAILABLE' && code !== 'FST_SSE_HUB_OUTCOME_UNKNOWN'), [], 'each as "not stored" (503) or "outcome unknown" (504)')
    // A client that comes back with an id it had before the failover resumes exactly, if Redis kept that id.
    const { name } = topics[0]!
    const kept = await stored(options.keyPrefix, name)
    const from = ids(clients[0]!).filter(id => kept.includes(id))[5]!
    const resumed = await rawGet(writer.port, `/rooms/${name}`, { 'last-event-id': from })
    t.teardown(() => resumed.close())
    const rest = kept.slice(kept.indexOf(from) + 1)
    await resumed.waitFor(() => resumed.events.length === rest.length, 'the replay')
    t.same(ids(resumed), rest, 'the replay after a failover is exactly what Redis kept')
    const readersOn = async (port: number): Promise<number> => (await hubConnections()).get(port)!.filter(conn => conn === 'fastify-typed-sse:reader').length
    t.equal(await readersOn(promoted), 2, 'both instances read the promoted master')
  })
}
