// What every benchmark server shares: the payloads, the schemas, the counters the runner reads,
// and the control channel (IPC with the runner that forked this process). Each implementation
// file only says how its library streams, broadcasts and cleans up, the way its users write it.
import { Type } from '@sinclair/typebox'
import cluster from 'node:cluster'

/** Wall-clock microseconds, comparable between processes on one machine. */
export function nowMicros () {
  return Math.round((performance.timeOrigin + performance.now()) * 1000)
}

// The small event: about 64 bytes of JSON.
export const SmallEvent = Type.Object({
  seq: Type.Integer(),
  ts: Type.Number(),
  kind: Type.String(),
  ok: Type.Boolean()
})

// The large event: about 1 KB of JSON with a nested array, so the serializer and the validator
// have real work to do rather than one long string.
export const LargeEvent = Type.Object({
  seq: Type.Integer(),
  ts: Type.Number(),
  kind: Type.String(),
  items: Type.Array(Type.Object({
    id: Type.Integer(),
    name: Type.String(),
    score: Type.Number(),
    active: Type.Boolean()
  }))
})

const items = Array.from({ length: 12 }, (_, i) => ({
  id: 1000 + i,
  name: `item number ${i} of the benchmark catalogue`,
  score: 0.5 + i / 7,
  active: i % 2 === 0
}))

/**
 * Builds event `seq` of the given size; a new object each time, as a real source would. `ts` is
 * when it was due to be sent (now, unless a broadcast that fell behind schedule catches up).
 */
export function makeEvent (size, seq, ts = nowMicros()) {
  return size === 'large'
    ? { seq, ts, kind: 'catalogue', items }
    : { seq, ts, kind: 'tick', ok: true }
}

/** Parses `?n=…&size=…` of the throughput route. */
export function streamParams (url) {
  const query = new URL(url, 'http://127.0.0.1').searchParams
  const n = Math.min(Number(query.get('n') ?? 1000), 10_000_000)
  const size = query.get('size') === 'large' ? 'large' : 'small'
  return { n, size }
}

/**
 * The port to listen on: 0 (any) for one process; under node:cluster the primary picks one and
 * every worker listens on it (see cluster.mjs).
 */
export const listenPort = Number(process.env.BENCH_PORT ?? 0)

/**
 * Heartbeat interval of the idle and fan-out routes: on, but longer than a measurement. The scale
 * scenarios measure what the heartbeats cost at this interval; only their BENCH_QUICK smoke run
 * shortens it (BENCH_HEARTBEAT_MS), so that a short window still sees one per stream.
 */
export const HEARTBEAT_MS = Number(process.env.BENCH_HEARTBEAT_MS ?? 15_000)

/**
 * Counters read by the runner. `alive` counts per-connection sources (generators, sessions,
 * handlers) whose cleanup has not run yet: after the clients leave it must fall back to 0.
 */
export const counters = { alive: 0, subscribers: 0 }

/**
 * A queue that an async generator drains: the "natural broadcast" for libraries that stream
 * an async iterable. `push` wakes the waiting generator; `close` ends it.
 */
export class Inbox {
  queue = []
  wake = undefined
  closed = false

  push (value) {
    this.queue.push(value)
    const wake = this.wake
    this.wake = undefined
    wake?.()
  }

  close () {
    this.closed = true
    const wake = this.wake
    this.wake = undefined
    wake?.()
  }

  /** Resolves when there is something to take or the inbox closed. */
  wait () {
    if (this.queue.length > 0 || this.closed) return Promise.resolve()
    return new Promise(resolve => { this.wake = resolve })
  }
}

/** Resolves when `signal` aborts. */
export function aborted (signal) {
  if (signal.aborted) return Promise.resolve()
  return new Promise(resolve => signal.addEventListener('abort', () => resolve(), { once: true }))
}

/**
 * Sends `count` events, one every `intervalMs`, to `send`. Each event carries the time it was due
 * (not the time the timer fired): when the process is too busy to keep the schedule, the late
 * events go out at once on the next turn, and their latency includes the wait. A server that
 * falls behind is thus measured against the rate offered, not a rate it slowed down to.
 */
function schedule ({ count, intervalMs, size }, send) {
  return new Promise(resolve => {
    const start = nowMicros()
    let seq = 0
    const tick = () => {
      const now = nowMicros()
      while (seq < count) {
        const due = start + (seq + 1) * intervalMs * 1000
        if (due > now) break
        send(makeEvent(size, seq++, due))
      }
      if (seq >= count) resolve({ sent: seq })
      else setTimeout(tick, Math.max(0, (start + (seq + 1) * intervalMs * 1000 - nowMicros()) / 1000))
    }
    setTimeout(tick, intervalMs)
  })
}

/**
 * With BENCH_PUBSUB=redis://…, a server that runs as one of several processes (node:cluster)
 * hears of each broadcast through a Redis channel, the way users connect the processes of a
 * library that has no cross-process hub of its own: every process subscribes and broadcasts
 * what it hears to its own subscribers; the process told to broadcast publishes.
 */
async function pubsub (url, broadcast) {
  const { Redis } = await import('ioredis')
  const sub = new Redis(url)
  const pub = new Redis(url)
  await sub.subscribe('bench')
  sub.on('message', (channel, message) => broadcast(JSON.parse(message)))
  return data => { pub.publish('bench', JSON.stringify(data)) }
}

/**
 * Connects the server to the runner: reports the port, then answers its commands.
 * `broadcast(event)` sends one event to every subscriber; `commands` adds a server's own.
 */
export async function serve ({ name, port, broadcast, commands: own = {} }) {
  const send = process.env.BENCH_PUBSUB ? await pubsub(process.env.BENCH_PUBSUB, broadcast) : broadcast
  const commands = {
    cpu: () => process.cpuUsage(),
    alive: () => ({ ...counters }),
    mem: () => {
      // Two passes: the first can leave objects a finalizer keeps alive for one more cycle.
      globalThis.gc?.()
      globalThis.gc?.()
      const { heapUsed, rss } = process.memoryUsage()
      return { heapUsed, rss, gc: typeof globalThis.gc === 'function' }
    },
    broadcast: options => schedule(options, send),
    ...own
  }
  process.on('message', async (message) => {
    const command = commands[message.cmd]
    try {
      if (command === undefined) throw new Error(`unknown command ${message.cmd}`)
      process.send({ id: message.id, result: await command(message) })
    } catch (err) {
      process.send({ id: message.id, error: String(err?.stack ?? err) })
    }
  })
  // The runner (or the cluster primary) going away must not leave servers behind. A worker can
  // also learn of it from a failed send to the primary, reported as an 'error' of its Worker.
  process.on('disconnect', () => process.exit(0))
  if (cluster.isWorker) cluster.worker.on('error', () => process.exit(0))
  process.send({ ready: true, name: process.env.BENCH_PUBSUB ? `${name}, Redis pub/sub between processes` : name, port })
}
