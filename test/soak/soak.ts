// `npm run soak`: a few minutes of every kind of load at once against one server, with a plain
// route's latency sampled throughout. Prints a summary and exits non-zero when a bound is broken:
//
// - p99 latency of GET /ping over the whole run under P99_BOUND_MS,
// - heap after GC at the end within HEAP_GROWTH_BOUND_MB of the heap after GC once warmed up
//   (same load, same connections),
// - every hub subscriber got every event published while it was connected, in order, and none
//   was dropped,
// - fastify.close() at the end, with every stream still open, within CLOSE_BOUND_MS (its grace is
//   1 s), and every source's finally ran,
// - no request failed.
//
// Three processes, so none starves another's measurement: the server (test/soak/server.ts), the
// load (test/soak/load.ts), and this one, which samples /ping and judges.
// SOAK_SECONDS sets the length (default 180, warm-up included).
import { fork, type ChildProcess } from 'node:child_process'
import { Agent, request } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'

const SECONDS = Number(process.env.SOAK_SECONDS ?? 180)
const WARMUP_SECONDS = Math.min(20, Math.round(SECONDS / 6))
const P99_BOUND_MS = 250
const HEAP_GROWTH_BOUND_MB = 16
const CLOSE_BOUND_MS = 3000
const PING_INTERVAL_MS = 10

class Child {
  readonly proc: ChildProcess
  readonly ready: Promise<Record<string, unknown>>
  private nextId = 0
  private readonly calls = new Map<number, (value: unknown) => void>()

  constructor (file: string, args: string[], execArgv: string[]) {
    this.proc = fork(new URL(file, import.meta.url).pathname, args, { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    this.ready = new Promise((resolve, reject) => {
      this.proc.on('message', (message: { ready?: boolean, id?: number, value?: unknown }) => {
        if (message.ready === true) resolve(message as Record<string, unknown>)
        else if (message.id !== undefined) this.calls.get(message.id)?.(message.value)
      })
      this.proc.once('exit', code => reject(new Error(`${file} exited with code ${code}`)))
    })
  }

  call<T> (command: string, timeoutMs = 30_000): Promise<T> {
    const id = this.nextId++
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${command}: no answer in ${timeoutMs} ms`)), timeoutMs)
      this.calls.set(id, value => { clearTimeout(timer); this.calls.delete(id); resolve(value as T) })
      this.proc.send({ id, command })
    })
  }
}

const agent = new Agent({ keepAlive: true, maxSockets: 1 })
function ping (port: number): Promise<number> {
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/ping', agent }, res => {
      res.resume()
      res.on('end', () => resolve(performance.now() - started))
    })
    req.on('error', reject)
    req.end()
  })
}

function percentile (sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN
}

const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1)

const server = new Child('./server.ts', [], ['--import', 'tsx', '--expose-gc'])
const { port } = await server.ready as { port: number }
const load = new Child('./load.ts', [String(port)], ['--import', 'tsx'])
const { config } = await load.ready as { config: Record<string, number> }
console.log(`soak: ${SECONDS} s (warm-up ${WARMUP_SECONDS} s) against 127.0.0.1:${port}; load ${JSON.stringify(config)}`)

const latencies: number[] = []
const windows: Array<{ at: number, p50: number, p99: number, max: number }> = []
const sampling = { on: true }
const sampler = (async () => {
  let window: number[] = []
  let windowStart = performance.now()
  const start = windowStart
  while (sampling.on) {
    const ms = await ping(port)
    if (performance.now() - start > WARMUP_SECONDS * 1000) latencies.push(ms)
    window.push(ms)
    if (performance.now() - windowStart >= 10_000) {
      window.sort((a, b) => a - b)
      windows.push({ at: Math.round((performance.now() - start) / 1000), p50: percentile(window, 0.5), p99: percentile(window, 0.99), max: window.at(-1)! })
      window = []
      windowStart = performance.now()
    }
    await sleep(PING_INTERVAL_MS)
  }
})()

await sleep(WARMUP_SECONDS * 1000)
const heapStart = await server.call<{ heapUsed: number, rss: number }>('gc')
await load.call('reset-delivery')
console.log(`warmed up: heap after GC ${mb(heapStart.heapUsed)} MB, rss ${mb(heapStart.rss)} MB`)
const progress = setInterval(() => {
  const last = windows.at(-1)
  if (last !== undefined) console.log(`  t=${last.at}s /ping p50 ${last.p50.toFixed(1)} ms, p99 ${last.p99.toFixed(1)} ms, max ${last.max.toFixed(1)} ms`)
}, 30_000)
await sleep((SECONDS - WARMUP_SECONDS) * 1000)
clearInterval(progress)
const heapEnd = await server.call<{ heapUsed: number, rss: number }>('gc')
sampling.on = false
await sampler

// Close with every stream still open, as a deploy would.
interface LoadStats {
  fastRuns: number
  fastBytes: number
  idleOpen: number
  idleDropped: number
  churnCycles: number
  neverReadDropped: number
  neverReadKept: number
  slowReadBytes: number
  slowReadDropped: number
  errorCount: number
  errors: string[]
  delivery: { p50: number, p99: number, max: number }
  subscribers: Array<{ received: number, first: number, last: number, gaps: number, disordered: number, dropped: boolean }>
}
const { lastSeq } = await server.call<{ lastSeq: number }>('counters')
const stats = await load.call<LoadStats>('stop')
const closed = await server.call<{ ms: number, started: number, finished: number, published: number, publishFailures: number, error?: string }>('close', 20_000)
await load.call('exit').catch(() => {})
agent.destroy()

latencies.sort((a, b) => a - b)
const p50 = percentile(latencies, 0.5)
const p99 = percentile(latencies, 0.99)
const growth = heapEnd.heapUsed - heapStart.heapUsed
const subs = stats.subscribers
const received = subs.reduce((sum, s) => sum + s.received, 0)
const failures: string[] = []
if (!(p99 < P99_BOUND_MS)) failures.push(`/ping p99 ${p99.toFixed(1)} ms is over ${P99_BOUND_MS} ms`)
if (growth > HEAP_GROWTH_BOUND_MB * 1024 * 1024) failures.push(`heap grew ${mb(growth)} MB, over ${HEAP_GROWTH_BOUND_MB} MB`)
const lossy = subs.filter(s => s.gaps > 0 || s.disordered > 0 || s.dropped || s.received === 0)
if (lossy.length > 0) failures.push(`${lossy.length} hub subscribers lost, reordered or were dropped: ${JSON.stringify(lossy.slice(0, 3))}`)
if (closed.error !== undefined) failures.push(`close() failed: ${closed.error}`)
else if (!(closed.ms < CLOSE_BOUND_MS)) failures.push(`close() took ${closed.ms.toFixed(0)} ms, over ${CLOSE_BOUND_MS} ms`)
if (closed.finished !== closed.started) failures.push(`${closed.started - closed.finished} sources did not run their finally by the end of close()`)
if (stats.errorCount > 0) failures.push(`${stats.errorCount} requests failed: ${stats.errors.join('; ')}`)
if (stats.neverReadKept > 0) failures.push(`${stats.neverReadKept} clients that took nothing for 15 s were still connected (writeTimeout is 10 s)`)
if (stats.neverReadDropped === 0 && SECONDS >= 30) failures.push('no client that never reads was dropped by writeTimeout')
if (stats.slowReadDropped > 0) failures.push(`${stats.slowReadDropped} slow readers were dropped (they read every 250 ms; writeTimeout is 10 s)`)
if (closed.publishFailures > 0) failures.push(`${closed.publishFailures} publishes failed`)

console.log(`
soak summary (${SECONDS} s, ${latencies.length} pings after warm-up)
  /ping latency: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms (bound ${P99_BOUND_MS} ms), max ${latencies.at(-1)?.toFixed(1)} ms
  heap after GC: ${mb(heapStart.heapUsed)} MB warmed up, ${mb(heapEnd.heapUsed)} MB at the end (${growth >= 0 ? '+' : ''}${mb(growth)} MB, bound ${HEAP_GROWTH_BOUND_MB} MB); rss ${mb(heapStart.rss)} -> ${mb(heapEnd.rss)} MB
  fast readers: ${stats.fastRuns} streams of 200 000 events, ${mb(stats.fastBytes)} MB
  idle streams: ${stats.idleOpen} open at the end, ${stats.idleDropped} dropped
  churn: ${stats.churnCycles} connect-read-leave cycles
  clients that never read: ${stats.neverReadDropped} dropped by writeTimeout, ${stats.neverReadKept} kept; slow readers: ${mb(stats.slowReadBytes)} MB read, ${stats.slowReadDropped} dropped
  hub: ${closed.published} events published, ${subs.length} subscribers received ${received} in all; gaps ${subs.reduce((s, x) => s + x.gaps, 0)}, out of order ${subs.reduce((s, x) => s + x.disordered, 0)}, dropped ${subs.filter(s => s.dropped).length}
       publish to receive: p50 ${stats.delivery.p50} ms, p99 ${stats.delivery.p99} ms, max ${stats.delivery.max} ms; at the end at most ${Math.max(...subs.map(s => lastSeq - s.last))} events in flight
  close() with every stream open: ${closed.ms?.toFixed(0)} ms (bound ${CLOSE_BOUND_MS} ms); sources started ${closed.started}, finished ${closed.finished}
  failed requests: ${stats.errorCount}
${failures.length === 0 ? 'PASS' : 'FAIL\n  ' + failures.join('\n  ')}`)
server.proc.kill()
process.exit(failures.length === 0 ? 0 : 1)
