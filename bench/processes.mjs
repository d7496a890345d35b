// The processes of a run, seen from the runner: a forked child spoken to over IPC (a server, a
// cluster primary or a load client), the pool of load clients, and the run's own redis-server.
import { fork, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))

export const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

/** Polls `check` until it says done or the time is up; returns its last answer either way. */
export async function waitFor (check, timeoutMs) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value.done) return value
    if (Date.now() > deadline) return value
    await sleep(50)
  }
}

export function cpuSeconds (before, after) {
  return (after.user - before.user + after.system - before.system) / 1e6
}

/** A forked process that answers `{ id, cmd, ... }` messages with `{ id, result | error }`. */
export class Child {
  constructor (file, { args = [], env = {}, execArgv = [], serialization = 'json' } = {}) {
    this.file = file
    this.calls = new Map()
    this.nextId = 0
    this.proc = fork(file, args, { env: { ...process.env, ...env }, execArgv, serialization, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    this.ready = new Promise((resolve, reject) => {
      // A cluster of 4 processes on a busy machine takes longer to start than one server.
      const timer = setTimeout(() => reject(new Error(`${file} did not start within 30 s`)), 30_000)
      this.proc.on('message', message => {
        if (message.ready) {
          clearTimeout(timer)
          resolve(message)
          return
        }
        const call = this.calls.get(message.id)
        if (call === undefined) return
        this.calls.delete(message.id)
        clearTimeout(call.timer)
        if (message.error !== undefined) call.reject(new Error(message.error))
        else call.resolve(message.result)
      })
      this.proc.on('exit', (code, signal) => {
        clearTimeout(timer)
        const err = new Error(`${file} exited with ${code ?? signal}`)
        reject(err)
        for (const call of this.calls.values()) {
          clearTimeout(call.timer)
          call.reject(err)
        }
        this.calls.clear()
      })
    })
    this.ready.catch(() => {})
    this.exited = new Promise(resolve => this.proc.once('exit', resolve))
  }

  call (cmd, args = {}, timeoutMs = 60_000) {
    return new Promise((resolve, reject) => {
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) {
        reject(new Error(`${this.file} has exited`))
        return
      }
      const id = this.nextId++
      const timer = setTimeout(() => {
        this.calls.delete(id)
        reject(new Error(`${cmd} timed out after ${timeoutMs} ms`))
      }, timeoutMs)
      this.calls.set(id, { resolve, reject, timer })
      this.proc.send({ id, cmd, ...args })
    })
  }

  async stop () {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL')
    await this.exited
  }
}

/**
 * One implementation's server: its own process (`node --expose-gc`), or with `workers` a
 * node:cluster primary and that many worker processes (servers/cluster.mjs).
 */
export function startServer (impl, env = {}) {
  const execArgv = ['--expose-gc', '--no-warnings']
  const all = { ...impl.env, ...env }
  if ((impl.workers ?? 1) === 1) return new Child(join(here, 'servers', impl.file), { env: all, execArgv })
  return new Child(join(here, 'servers', 'cluster.mjs'), {
    env: { ...all, BENCH_SERVER: impl.file, BENCH_WORKERS: String(impl.workers) },
    execArgv
  })
}

/**
 * The load clients: one does the ordinary scenarios; the scale scenarios split their streams over
 * several, each with its own source address (a process may hold 20 000 descriptors, an address
 * about 28 000 ports). The latencies come back raw (structured clone) and are merged here.
 */
export class ClientPool {
  constructor (size) {
    this.clients = Array.from({ length: size }, () => new Child(join(here, 'client.mjs'), { serialization: 'advanced' }))
    // Fresh source addresses for every set of streams: a closed connection's port stays in
    // TIME_WAIT for a minute, and the next server's streams must not run out of ports.
    this.block = 0
  }

  get first () {
    return this.clients[0]
  }

  async ready () {
    await Promise.all(this.clients.map(c => c.ready))
  }

  /** The first `count` clients (at most the pool's size). */
  some (count) {
    return this.clients.slice(0, Math.min(count, this.clients.length))
  }

  /**
   * Opens `connections` streams split evenly over `clients` clients, each from its own new
   * loopback address. Resolves with the time until the last one had its headers.
   */
  async open ({ clients, port, path, connections, timeoutMs, stallMs }) {
    const used = this.some(clients)
    this.block = (this.block % 250) + 1
    const started = performance.now()
    const results = await Promise.all(used.map((client, i) => client.call('open', {
      port,
      path,
      connections: Math.floor(connections / used.length) + (i < connections % used.length ? 1 : 0),
      localAddress: `127.1.${this.block}.${i + 1}`,
      timeoutMs,
      stallMs
    }, timeoutMs + 5000)))
    return { ms: performance.now() - started, opened: results.reduce((n, r) => n + r.opened, 0) }
  }

  async all (cmd, args, timeoutMs) {
    return await Promise.all(this.clients.map(c => c.call(cmd, args, timeoutMs)))
  }

  /** Every client's collect, merged: sums, and percentiles over all the latencies. */
  async collect (args, timeoutMs) {
    const parts = await this.all('collect', { ...args, raw: true }, timeoutMs)
    const merged = mergeLatencies(parts.map(p => p.latencies))
    const sum = field => parts.reduce((n, p) => n + p[field], 0)
    const lastReceived = Math.max(...parts.map(p => p.lastReceived))
    const delivered = sum('delivered')
    return {
      subscribers: sum('subscribers'),
      delivered,
      lost: sum('lost'),
      closedByServer: sum('closedByServer'),
      eventsPerSecond: delivered / ((lastReceived - args.firstSent) / 1e6),
      ...percentiles(merged),
      latencies: merged
    }
  }

  async stop () {
    await Promise.all(this.clients.map(c => c.stop()))
  }
}

/** Concatenated and sorted latencies (microseconds) of several clients. */
export function mergeLatencies (arrays) {
  const total = arrays.reduce((n, a) => n + a.length, 0)
  const merged = new Float64Array(total)
  let at = 0
  for (const a of arrays) {
    merged.set(a, at)
    at += a.length
  }
  return merged.sort()
}

/** p50, p99 and max in milliseconds of sorted microsecond latencies. */
export function percentiles (sorted) {
  const at = q => sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] / 1000
  return { p50: at(0.5), p99: at(0.99), max: sorted.length === 0 ? NaN : sorted[sorted.length - 1] / 1000 }
}

/** A free TCP port on 127.0.0.1. */
export function freePort () {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address()
      probe.close(() => resolve(port))
    })
  })
}

/**
 * The run's own redis-server on a free port, nothing saved to disk. `cpuSeconds()` reads its CPU
 * time from /proc, so a table can say how much of the machine Redis took.
 */
export class RedisServer {
  static async start () {
    const port = await freePort()
    const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'], {
      stdio: ['ignore', 'ignore', 'inherit']
    })
    const failed = new Promise((resolve, reject) => {
      proc.once('error', err => reject(new Error(`redis-server could not start: ${err.message}`)))
      proc.once('exit', code => reject(new Error(`redis-server exited with ${code}`)))
    })
    const server = new RedisServer(proc, port)
    await Promise.race([failed, server.ping()])
    return server
  }

  constructor (proc, port) {
    this.proc = proc
    this.port = port
    this.url = `redis://127.0.0.1:${port}`
    this.exited = new Promise(resolve => proc.once('exit', resolve))
    // The runner may fail or be interrupted: the server it started must not outlive it.
    this.onExit = () => proc.kill('SIGKILL')
    process.once('exit', this.onExit)
  }

  async ping () {
    const { Redis } = await import('ioredis')
    const deadline = Date.now() + 10_000
    for (;;) {
      const client = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
      client.on('error', () => {})
      try {
        await client.connect()
        await client.ping()
        return
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`redis-server on port ${this.port} did not answer: ${err.message}`)
        await sleep(100)
      } finally {
        client.disconnect()
      }
    }
  }

  /** Empties every key between samples, so no sample reads another's streams. */
  async flush () {
    const { Redis } = await import('ioredis')
    const client = new Redis(this.url)
    try {
      await client.flushall()
    } finally {
      client.disconnect()
    }
  }

  cpuSeconds () {
    // Fields 14 and 15 of /proc/<pid>/stat (after the parenthesised name): user and system ticks.
    const stat = readFileSync(`/proc/${this.proc.pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100
  }

  async stop () {
    process.off('exit', this.onExit)
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGTERM')
    await this.exited
  }
}
