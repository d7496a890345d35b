// A real Sentinel set-up per test file: a master, a replica of it, and Sentinels watching the
// master (redis-server sentinel.conf --sentinel), on free ports. Tests can stop the master and
// wait for the Sentinels to promote the replica, with clients connected.
import type { ChildProcess } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { freePort, spawnRedis, startRedis, stopProcess, tempDir, type RedisServer, type Teardown } from './redis.js'

export interface RedisSentinel {
  /** The master's name, as the Sentinels know it. */
  name: string
  /** Where clients ask for the master. */
  sentinels: Array<{ host: string, port: number }>
  master: RedisServer
  replica: RedisServer
  /**
   * Stops the master (SIGKILL, like a crash) and waits until the Sentinels name the replica as
   * master and it takes writes.
   */
  failOver (): Promise<void>
}

const NAME = 'mymaster'
// A master that does not answer for this long is down; short, so a failover takes seconds.
const DOWN_AFTER_MS = 1000

export async function startRedisSentinel (t: Teardown, { sentinels: count = 1 } = {}): Promise<RedisSentinel> {
  const master = await startRedis(t)
  const replica = await startRedis(t, { args: ['--replicaof', '127.0.0.1', String(master.port)] })
  const dir = await tempDir(t, 'redis-sentinel')
  const sentinels: Array<{ host: string, port: number }> = []
  const processes: ChildProcess[] = []
  const kill = (): void => { for (const child of processes) child.kill('SIGKILL') }
  process.once('exit', kill)
  t.after(async () => {
    process.removeListener('exit', kill)
    await Promise.all(processes.map(async child => await stopProcess(child)))
  })
  const quorum = Math.floor(count / 2) + 1
  for (let i = 0; i < count; i++) {
    const port = await freePort()
    // A Sentinel rewrites its configuration file: each gets its own.
    const file = join(dir, `sentinel-${port}.conf`)
    await writeFile(file, [
      `port ${port}`, 'bind 127.0.0.1', `dir ${dir}`,
      `sentinel monitor ${NAME} 127.0.0.1 ${master.port} ${quorum}`,
      `sentinel down-after-milliseconds ${NAME} ${DOWN_AFTER_MS}`,
      `sentinel failover-timeout ${NAME} 5000`
    ].join('\n') + '\n')
    processes.push(await spawnRedis([file, '--sentinel'], port, dir))
    sentinels.push({ host: '127.0.0.1', port })
  }
  const ask = async (port: number, ...args: string[]): Promise<unknown> => {
    const connection = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    connection.on('error', () => {})
    try {
      return await connection.call(args[0]!, ...args.slice(1))
    } finally {
      connection.disconnect()
    }
  }
  const waitFor = async (predicate: () => Promise<boolean>, what: string): Promise<void> => {
    const deadline = Date.now() + 20_000
    while (!await predicate().catch(() => false)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }
  // Ready when the replica is in sync and every Sentinel knows it: a failover can then promote it.
  await waitFor(async () => /master_link_status:up/.test(await ask(replica.port, 'INFO', 'replication') as string), 'the replica to sync')
  await waitFor(async () => {
    for (const sentinel of sentinels) {
      const replicas = await ask(sentinel.port, 'SENTINEL', 'REPLICAS', NAME) as unknown[]
      if (replicas.length === 0) return false
    }
    return true
  }, 'the Sentinels to know the replica')
  return {
    name: NAME,
    sentinels,
    master,
    replica,
    async failOver () {
      await master.stop()
      await waitFor(async () => {
        for (const sentinel of sentinels) {
          const [, port] = await ask(sentinel.port, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', NAME) as [string, string]
          if (Number(port) !== replica.port) return false
        }
        return /role:master/.test(await ask(replica.port, 'INFO', 'replication') as string)
      }, 'the Sentinels to promote the replica')
    }
  }
}
