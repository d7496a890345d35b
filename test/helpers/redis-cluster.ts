// A real Redis Cluster per test file: masters with one replica each, every node a redis-server
// on free ports (its client port and its cluster bus port), joined by `redis-cli --cluster
// create`. Tests can stop a master and wait for its replica to take over (a failover), or move
// a slot with its keys to another master (what a resharding does), with clients connected.
import { execFile, type ChildProcess } from 'node:child_process'
import { Redis } from 'ioredis'
import { promisify } from 'node:util'
import { freePort, spawnRedis, stopProcess, tempDir, type Teardown } from './redis.js'

const run = promisify(execFile)

export interface ClusterNode {
  host: string
  port: number
}

export interface RedisCluster {
  /** Every node, as a client's startup nodes. */
  nodes: ClusterNode[]
  /** The port of the master that serves `slot` now (as the node on `via` sees it). */
  ownerOf (slot: number, via?: number): Promise<number>
  /** The slot of `key`, as Redis computes it (CLUSTER KEYSLOT). */
  keySlot (key: string): Promise<number>
  /** The ports of the masters that serve slots now. */
  masters (): Promise<number[]>
  /**
   * Stops the master on `port` (SIGKILL, like a crash) and waits until one of its replicas has
   * taken over its slots and every live node says the cluster is ok. Resolves with that
   * replica's port.
   */
  failOver (port: number): Promise<number>
  /**
   * Freezes the master on `port` (SIGSTOP: its connections stay open, nothing is answered) until
   * a replica has taken over its slots, then lets it run again (SIGCONT): it finds itself
   * demoted and becomes a replica of the new master. Resolves with the new master's port once
   * the cluster is ok and in sync again.
   */
  freeze (port: number): Promise<number>
  /**
   * Moves `slot` and its keys to the master on `to`, as `redis-cli --cluster reshard` does:
   * IMPORTING on the target, MIGRATING on the source, MIGRATE of each key, then the slot is
   * given to the target. `during` runs once the keys have moved but before the slot is given
   * away: commands for it then get ASK redirections.
   */
  moveSlot (slot: number, to: number, during?: () => Promise<void>): Promise<void>
  /** A plain connection to one node, closed when the test ends. */
  admin (port: number): Redis
}

// Short, so that a failover takes seconds: a master is marked failed after this many ms.
const NODE_TIMEOUT = 1000

export async function startRedisCluster (t: Teardown, { masters = 3 } = {}): Promise<RedisCluster> {
  const dir = await tempDir(t, 'redis-cluster')
  const processes = new Map<number, ChildProcess>()
  const admins: Redis[] = []
  // SIGKILL on exit too, so a failed run leaves no node behind.
  const kill = (): void => { for (const child of processes.values()) child.kill('SIGKILL') }
  process.once('exit', kill)
  t.after(async () => {
    process.removeListener('exit', kill)
    for (const admin of admins) admin.disconnect()
    await Promise.all([...processes.values()].map(async child => await stopProcess(child)))
  })
  const count = masters * 2
  for (let i = 0; i < count; i++) {
    const port = await freePort()
    // The cluster bus port is given explicitly: port + 10000 (the default) may be taken or out of range.
    const bus = await freePort()
    processes.set(port, await spawnRedis([
      '--port', String(port), '--cluster-port', String(bus), '--bind', '127.0.0.1',
      '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', String(NODE_TIMEOUT),
      '--dir', dir, '--save', '', '--appendonly', 'no'
    ], port, dir))
  }
  const ports = [...processes.keys()]
  await run('redis-cli', ['--cluster', 'create', ...ports.map(port => `127.0.0.1:${port}`), '--cluster-replicas', '1', '--cluster-yes'])

  const connect = (port: number): Redis => {
    const connection = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    connection.on('error', () => {})
    return connection
  }
  const admin = (port: number): Redis => {
    const connection = connect(port)
    admins.push(connection)
    return connection
  }
  const alive = (): number[] => [...processes].filter(([, child]) => child.exitCode === null && child.signalCode === null).map(([port]) => port)
  const command = async (port: number, ...args: Array<string | number>): Promise<unknown> => {
    const connection = connect(port)
    try {
      return await connection.call(String(args[0]), ...args.slice(1))
    } finally {
      connection.disconnect()
    }
  }
  /** CLUSTER NODES as seen from `port`: id, port, flags, and slot ranges of each node. */
  const nodesOf = async (port: number): Promise<Array<{ id: string, port: number, master: boolean, failed: boolean, slots: Array<[number, number]> }>> => {
    const text = await command(port, 'CLUSTER', 'NODES') as string
    return text.trim().split('\n').map(line => {
      const [id, address, flags, , , , , , ...slots] = line.split(' ')
      return {
        id: id!,
        port: Number(/:(\d+)@/.exec(address!)?.[1]),
        master: flags!.includes('master'),
        failed: /fail/.test(flags!),
        slots: slots.filter(range => !range.startsWith('[')).map(range => {
          const [from, to] = range.split('-').map(Number)
          return [from!, to ?? from!] as [number, number]
        })
      }
    })
  }
  const ownerOf = async (slot: number, via?: number): Promise<number> => {
    const nodes = await nodesOf(via ?? alive()[0]!)
    const owner = nodes.find(node => node.master && !node.failed && node.slots.some(([from, to]) => slot >= from && slot <= to))
    if (owner === undefined) throw new Error(`no master serves slot ${slot}`)
    return owner.port
  }
  /** Every live node says the cluster is ok, and every replica is in sync with its master. */
  const settled = async (): Promise<boolean> => {
    for (const port of alive()) {
      const info = await command(port, 'CLUSTER', 'INFO') as string
      if (!/cluster_state:ok/.test(info)) return false
      const replication = await command(port, 'INFO', 'replication') as string
      if (/role:slave/.test(replication) && !/master_link_status:up/.test(replication)) return false
    }
    return true
  }
  const waitFor = async (predicate: () => Promise<boolean>, what: string, ms = 20_000): Promise<void> => {
    const deadline = Date.now() + ms
    while (!await predicate().catch(() => false)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }
  await waitFor(settled, 'the cluster to form')

  const serving = async (): Promise<number[]> => {
    const nodes = await nodesOf(alive()[0]!)
    return nodes.filter(node => node.master && !node.failed && node.slots.length > 0).map(node => node.port)
  }

  return {
    nodes: ports.map(port => ({ host: '127.0.0.1', port })),
    ownerOf,
    async keySlot (key) {
      return await command(alive()[0]!, 'CLUSTER', 'KEYSLOT', key) as number
    },
    masters: serving,
    async failOver (port) {
      const before = await nodesOf(port)
      const self = before.find(node => node.port === port)!
      if (!self.master || self.slots.length === 0) throw new Error(`${port} is not a master with slots`)
      const slot = self.slots[0]![0]
      await stopProcess(processes.get(port))
      let promoted = port
      await waitFor(async () => {
        promoted = await ownerOf(slot)
        return promoted !== port && await settled()
      }, `a replica of ${port} to take over`)
      return promoted
    },
    async freeze (port) {
      const self = (await nodesOf(port)).find(node => node.port === port)!
      if (!self.master || self.slots.length === 0) throw new Error(`${port} is not a master with slots`)
      const slot = self.slots[0]![0]
      const child = processes.get(port)!
      process.kill(child.pid!, 'SIGSTOP')
      let promoted = port
      try {
        await waitFor(async () => {
          promoted = await ownerOf(slot, alive().find(other => other !== port))
          return promoted !== port
        }, `a replica of ${port} to take over`)
      } finally {
        process.kill(child.pid!, 'SIGCONT')
      }
      await waitFor(async () => !(await nodesOf(port)).find(node => node.port === port)!.master && await settled(), `${port} to rejoin as a replica`)
      return promoted
    },
    async moveSlot (slot, to, during) {
      const from = await ownerOf(slot)
      if (from === to) throw new Error(`slot ${slot} is already on ${to}`)
      const nodes = await nodesOf(from)
      const id = (port: number): string => nodes.find(node => node.port === port)!.id
      await command(to, 'CLUSTER', 'SETSLOT', slot, 'IMPORTING', id(from))
      await command(from, 'CLUSTER', 'SETSLOT', slot, 'MIGRATING', id(to))
      for (;;) {
        const keys = await command(from, 'CLUSTER', 'GETKEYSINSLOT', slot, 100) as string[]
        if (keys.length === 0) break
        await command(from, 'MIGRATE', '127.0.0.1', to, '', 0, 5000, 'KEYS', ...keys)
      }
      await during?.()
      // Keys written meanwhile (through ASK) are already on the target.
      await command(to, 'CLUSTER', 'SETSLOT', slot, 'NODE', id(to))
      await command(from, 'CLUSTER', 'SETSLOT', slot, 'NODE', id(to))
      for (const port of await serving()) {
        if (port !== to && port !== from) await command(port, 'CLUSTER', 'SETSLOT', slot, 'NODE', id(to))
      }
      await waitFor(async () => {
        for (const port of alive()) if (await ownerOf(slot, port) !== to) return false
        return true
      }, `every node to see slot ${slot} on ${to}`)
    },
    admin
  }
}
