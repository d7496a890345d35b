// The scenarios: each takes the run's context (config, load clients, Redis) and one
// implementation, starts that implementation's server(s), drives the load, and returns one sample.
// A scenario that cannot finish throws: the runner records the failure for that implementation
// ("did not survive") and the run goes on.
import { cpuSeconds, mergeLatencies, percentiles, sleep, startServer, waitFor } from './processes.mjs'

/** Wall-clock microseconds, comparable with the servers' (one clock on one machine). */
function nowMicros () {
  return Math.round((performance.timeOrigin + performance.now()) * 1000)
}

let prefixes = 0

/**
 * Starts `impl`'s server with what its `redis` mode needs, runs `fn(server, port)`, and always
 * stops the server (and empties Redis) after. `onName` hears what the server says it runs.
 */
export async function withServer (ctx, impl, env, fn) {
  const redisEnv = {}
  if (impl.redis !== undefined) {
    if (ctx.redis === undefined) throw new Error(`needs redis-server: ${ctx.redisError ?? 'not started'}`)
    if (impl.redis === 'hub') Object.assign(redisEnv, { HUB_REDIS: ctx.redis.url, KEY_PREFIX: `bench${++prefixes}:` })
    else redisEnv.BENCH_PUBSUB = ctx.redis.url
  }
  const server = startServer(impl, { ...redisEnv, ...env })
  try {
    const { port, name } = await server.ready
    ctx.onName(impl.key, name)
    await sleep(100)
    return await fn(server, port, redisEnv)
  } finally {
    await server.stop()
    if (impl.redis !== undefined) await ctx.redis.flush()
  }
}

// ---------------------------------------------------------------------------------------------
// Throughput

/**
 * Runs per throughput sample, on one server process. The sample's rate is that of the median run
 * (a run of 200 000 small events lasts well under a second, so one stray process on a shared
 * machine could decide it; the first run also pays for the JIT warming up). Its CPU time per
 * event is the median of the runs' too: CPU time does not count the time the server waited for a
 * core, so it varies much less than the rate on a busy machine, and the validation cost is
 * measured with it.
 */
export const THROUGHPUT_RUNS = 5

export async function throughput (ctx, impl, size) {
  const n = ctx.config.throughputEvents
  return await withServer(ctx, impl, {}, async (server, port) => {
    const runs = []
    for (let i = 0; i < THROUGHPUT_RUNS; i++) {
      const cpu = await server.call('cpu')
      const run = await ctx.pool.first.call('throughput', { port, path: `/stream?n=${n}&size=${size}`, timeoutMs: 120_000 }, 130_000)
      const serverCpu = cpuSeconds(cpu, await server.call('cpu'))
      runs.push({
        eventsPerSecond: n / (run.ms / 1000),
        mbPerSecond: run.bytes / 1e6 / (run.ms / 1000),
        serverCpuSeconds: serverCpu,
        cpuPerEvent: serverCpu * 1e6 / n,
        clientCpuSeconds: run.clientCpuSeconds,
        seconds: run.ms / 1000,
        frames: run.frames,
        bytesPerEvent: run.bytes / n,
        complete: run.frames >= n
      })
    }
    const byCpu = runs.map(r => r.cpuPerEvent).sort((a, b) => a - b)
    runs.sort((a, b) => a.eventsPerSecond - b.eventsPerSecond)
    return { ...runs[runs.length >> 1], cpuPerEvent: byCpu[byCpu.length >> 1], complete: runs.every(r => r.complete) }
  })
}

/** The median of numbers, and the quartiles around it. */
function quartiles (values) {
  const sorted = [...values].sort((a, b) => a - b)
  const at = q => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
  return { median: at(0.5), q1: at(0.25), q3: at(0.75) }
}

/**
 * What checking each event costs, measured so that the machine's load cancels out: one server,
 * small events streamed as fast as the client reads, in pairs of runs (validated, then not, then
 * the other order in the next pair) adjacent in time and in the same process, after a warm-up of
 * both. Each pair gives the cost as the ratio of the server's CPU time per event; the sample is
 * the median of the pairs, with the quartiles, and the same from the rates (wall time) to compare.
 */
export async function validation (ctx, impl) {
  const { pairs, events } = ctx.config.validation
  return await withServer(ctx, impl, {}, async (server, port) => {
    const run = async validate => {
      const cpu = await server.call('cpu')
      const read = await ctx.pool.first.call('throughput', { port, path: `/stream?n=${events}&size=small&validate=${validate ? 1 : 0}`, timeoutMs: 120_000 }, 130_000)
      const used = cpuSeconds(cpu, await server.call('cpu'))
      if (read.frames < events) throw new Error(`a stream ended after ${read.frames} of ${events} events`)
      return { cpuPerEvent: used * 1e6 / events, eventsPerSecond: events / (read.ms / 1000) }
    }
    await run(true)
    await run(false)
    const cpu = []
    const wall = []
    const on = []
    const off = []
    for (let i = 0; i < pairs; i++) {
      // The order alternates, so a change in the machine's load favours neither.
      const first = await run(i % 2 === 0)
      const second = await run(i % 2 !== 0)
      const [checked, unchecked] = i % 2 === 0 ? [first, second] : [second, first]
      cpu.push(checked.cpuPerEvent / unchecked.cpuPerEvent - 1)
      wall.push(1 - checked.eventsPerSecond / unchecked.eventsPerSecond)
      on.push(checked.cpuPerEvent)
      off.push(unchecked.cpuPerEvent)
    }
    const c = quartiles(cpu)
    const w = quartiles(wall)
    return {
      cost: c.median,
      costQ1: c.q1,
      costQ3: c.q3,
      wallCost: w.median,
      wallQ1: w.q1,
      wallQ3: w.q3,
      cpuPerEventChecked: quartiles(on).median,
      cpuPerEventUnchecked: quartiles(off).median,
      pairs
    }
  })
}

// ---------------------------------------------------------------------------------------------
// Fan-out: broadcasts at a fixed rate to subscribers that are all connected

async function subscribeAll (server, port, pool, connections) {
  await pool.first.call('open', { port, path: '/sub', connections, timeoutMs: 60_000 }, 65_000)
  // The client saw the headers; wait until the server has each subscriber in its broadcast set.
  const counted = await waitFor(async () => {
    const { subscribers } = await server.call('alive')
    return { done: subscribers >= connections, subscribers }
  }, 20_000)
  if (!counted.done) throw new Error(`the server counted ${counted.subscribers} of ${connections} subscribers`)
}

/**
 * `subscribers` streams, then `events` broadcasts one every `intervalMs` (each event carries the
 * time it was due, so a server that falls behind is measured against the offered rate). Every
 * event must reach every subscriber: `lost` counts those that did not, `closedByServer` the
 * streams the server ended (a hub's overflow policy). CPU time per delivery is the server's
 * (all its processes) over the events delivered.
 */
export async function fanout (ctx, impl, { subscribers, events, intervalMs, drainMs = 15_000 }) {
  const { pool, redis } = ctx
  return await withServer(ctx, impl, {}, async (server, port) => {
    try {
      await subscribeAll(server, port, pool, subscribers)
      await sleep(200)
      await pool.first.call('arm', { expected: events })
      const firstSent = nowMicros() + intervalMs * 1000
      const started = performance.now()
      const cpu = await server.call('cpu')
      const clientCpu = await pool.first.call('cpu')
      const redisCpu = impl.redis === undefined ? undefined : redis.cpuSeconds()
      await server.call('broadcast', { count: events, intervalMs, size: 'small' }, events * intervalMs + 60_000)
      const result = await pool.first.call('collect', { expected: events, firstSent, timeoutMs: drainMs }, drainMs + 15_000)
      const wall = (performance.now() - started) / 1000
      result.serverCpuSeconds = cpuSeconds(cpu, await server.call('cpu'))
      result.clientCpuSeconds = cpuSeconds(clientCpu, await pool.first.call('cpu'))
      result.redisCpuSeconds = redisCpu === undefined ? 0 : redis.cpuSeconds() - redisCpu
      result.cpuPerDelivery = result.serverCpuSeconds * 1e6 / result.delivered
      // How much of the machine the three kinds of process kept busy, in cores.
      result.coresBusy = (result.serverCpuSeconds + result.clientCpuSeconds + result.redisCpuSeconds) / wall
      result.offeredPerSecond = subscribers * 1000 / intervalMs
      delete result.lastReceived
      return result
    } finally {
      await pool.first.call('closeAll')
    }
  })
}

// ---------------------------------------------------------------------------------------------
// Idle memory and churn

export async function idle (ctx, impl) {
  const connections = ctx.config.idle
  return await withServer(ctx, impl, {}, async (server, port) => {
    const before = await server.call('mem')
    try {
      await subscribeAll(server, port, ctx.pool, connections)
      await sleep(500)
      const after = await server.call('mem')
      return {
        heapPerConnection: (after.heapUsed - before.heapUsed) / connections,
        rssPerConnection: (after.rss - before.rss) / connections,
        gc: after.gc
      }
    } finally {
      await ctx.pool.first.call('closeAll')
    }
  })
}

export async function churn (ctx, impl) {
  const { total, concurrency } = ctx.config.churn
  const client = ctx.pool.first
  return await withServer(ctx, impl, {}, async (server, port) => {
    // A warm-up so code paths are compiled and lazily-created state exists before "before".
    await client.call('churn', { port, path: '/one', total: 200, concurrency, timeoutMs: 10_000, cycleTimeoutMs: 5000 }, 15_000)
    await waitFor(async () => ({ done: (await server.call('alive')).alive === 0 }), 5000)
    const before = await server.call('mem')
    const run = await client.call('churn', { port, path: '/one', total, concurrency, timeoutMs: 120_000, cycleTimeoutMs: 5000 }, 130_000)
    // Cleanup after a disconnect is asynchronous; give it a bounded moment.
    const settled = await waitFor(async () => {
      const { alive } = await server.call('alive')
      return { done: alive === 0, alive }
    }, 5000)
    const after = await server.call('mem')
    return {
      seconds: run.ms / 1000,
      cyclesPerSecond: run.ok / (run.ms / 1000),
      ok: run.ok,
      failed: run.failed,
      heapGrowth: after.heapUsed - before.heapUsed,
      alive: settled.alive
    }
  })
}

// ---------------------------------------------------------------------------------------------
// Scale: tens of thousands of streams

/**
 * `streams` idle streams opened from `clients` load clients (each from its own loopback address)
 * on `impl` (one process, or several behind node:cluster sharing broadcasts through Redis). Then:
 * the server's CPU time over a window of idle streams with heartbeats on, less the same server's
 * CPU time over a window before any stream opened (timers and Redis reads of its own); memory per
 * stream after GC (all processes); and `broadcasts` single broadcasts, one after the other, each
 * waited for until every stream has it: p50/p99/max of publish-to-delivery over all deliveries.
 */
export async function scale (ctx, impl, { streams, clients }) {
  const { pool, config } = ctx
  const { windowMs, baselineMs, broadcasts, openTimeoutMs, openStallMs } = config.scale
  const env = config.scale.heartbeatMs === undefined ? {} : { BENCH_HEARTBEAT_MS: String(config.scale.heartbeatMs) }
  return await withServer(ctx, impl, env, async (server, port) => {
    try {
      const base0 = await server.call('cpu')
      await sleep(baselineMs)
      const baselineCpu = cpuSeconds(base0, await server.call('cpu'))
      const before = await server.call('mem', {}, 60_000)

      const opened = await pool.open({ clients, port, path: '/sub', connections: streams, timeoutMs: openTimeoutMs, stallMs: openStallMs })
      const counted = await waitFor(async () => {
        const { subscribers, perWorker } = await server.call('alive')
        return { done: subscribers >= streams, subscribers, perWorker }
      }, 30_000)
      if (!counted.done) throw new Error(`the server counted ${counted.subscribers} of ${streams} streams`)
      await sleep(1000)

      await pool.all('arm', { expected: 0 })
      const hb0 = await server.call('cpu')
      const t0 = performance.now()
      await sleep(windowMs)
      const windowCpu = cpuSeconds(hb0, await server.call('cpu'))
      const windowSeconds = (performance.now() - t0) / 1000
      const seen = (await pool.all('counts')).reduce((n, c) => n + c.frames, 0)
      const heartbeatCpu = Math.max(0, windowCpu - baselineCpu * windowSeconds * 1000 / baselineMs)

      const after = await server.call('mem', {}, 60_000)

      const parts = []
      let lost = 0
      let closedByServer = 0
      for (let b = 0; b < broadcasts; b++) {
        await pool.all('arm', { expected: 1 })
        await server.call('broadcast', { count: 1, intervalMs: 1, size: 'small' }, 30_000)
        const result = await pool.collect({ expected: 1, firstSent: NaN, timeoutMs: 60_000 }, 70_000)
        parts.push(result.latencies)
        lost += result.lost
        closedByServer += result.closedByServer
        await sleep(500)
      }
      const latencies = mergeLatencies(parts)
      return {
        streams,
        processes: impl.workers ?? 1,
        openSeconds: opened.ms / 1000,
        opensPerSecond: streams / (opened.ms / 1000),
        heapPerStream: (after.heapUsed - before.heapUsed) / streams,
        rssPerStream: (after.rss - before.rss) / streams,
        // Scaled to one heartbeat interval: every stream sends one heartbeat in it.
        heartbeatCpuMs: heartbeatCpu * 1000 * (config.scale.heartbeatMs ?? 15_000) / (windowSeconds * 1000),
        heartbeatsSeen: seen,
        cpuPerHeartbeat: seen === 0 ? NaN : heartbeatCpu * 1e6 / seen,
        ...percentiles(latencies),
        deliveries: latencies.length,
        lost,
        closedByServer,
        streamsPerProcess: counted.perWorker ?? [counted.subscribers]
      }
    } finally {
      await pool.all('closeAll', {}, 60_000)
    }
  })
}

// ---------------------------------------------------------------------------------------------
// The hub on each backend: publish rate, publish-to-delivery across instances, replay

/**
 * The plugin's hub, memory (one instance) or Redis (instance A publishes, instance B serves the
 * subscribers). Three measures on the same servers:
 * - burst: `count` publishes, at most `inFlight` at a time, with one subscriber on B that must
 *   receive them all (its queue is made large enough to hold the burst); publishes/s, the server's
 *   and Redis's CPU per publish;
 * - latency: `subscribers` on B, `events` published on A one every `intervalMs`;
 * - replay: `events` published, then a client connects to B with the first one's id as
 *   Last-Event-ID and reads the rest (`events - 1`, each checked in order), `runs` times.
 */
export async function hub (ctx, impl) {
  const { pool, redis, config } = ctx
  const { burst, latency, replay } = config.hub
  const client = pool.first
  const env = { RETAIN: String(Math.max(replay.events, burst.count) + 1000), QUEUE_SIZE: String(burst.count + 1000) }
  return await withServer(ctx, impl, env, async (a, portA, redisEnv) => {
    // The second instance shares the first's Redis streams (same KEY_PREFIX); on memory, B is A.
    const b = impl.redis === 'hub' ? startServer(impl, { ...redisEnv, ...env }) : undefined
    try {
      const portB = b === undefined ? portA : (await b.ready).port
      const serverB = b ?? a
      const sample = {}

      await client.call('open', { port: portB, path: '/sub', connections: 1, timeoutMs: 10_000 }, 15_000)
      await client.call('arm', { expected: burst.count })
      const cpuA = await a.call('cpu')
      const redisCpu = redis?.cpuSeconds()
      const run = await a.call('publishBurst', burst, 120_000)
      const got = await client.call('collect', { expected: burst.count, firstSent: NaN, timeoutMs: 30_000 }, 40_000)
      await client.call('closeAll')
      sample.publishesPerSecond = burst.count / (run.ms / 1000)
      sample.cpuPerPublish = cpuSeconds(cpuA, await a.call('cpu')) * 1e6 / burst.count
      sample.redisCpuPerPublish = impl.redis === 'hub' ? (redis.cpuSeconds() - redisCpu) * 1e6 / burst.count : 0
      sample.burstLost = got.lost
      sample.burstClosedByServer = got.closedByServer

      await client.call('open', { port: portB, path: '/sub', connections: latency.subscribers, timeoutMs: 30_000 }, 35_000)
      await sleep(200)
      await client.call('arm', { expected: latency.events })
      await a.call('broadcast', { count: latency.events, intervalMs: latency.intervalMs, size: 'small' }, latency.events * latency.intervalMs + 30_000)
      const live = await client.call('collect', { expected: latency.events, firstSent: NaN, timeoutMs: 15_000 }, 25_000)
      await client.call('closeAll')
      sample.p50 = live.p50
      sample.p99 = live.p99
      sample.max = live.max
      sample.lost = live.lost
      sample.closedByServer = live.closedByServer

      const filled = await a.call('publishBurst', { count: replay.events, inFlight: burst.inFlight }, 120_000)
      const times = []
      const cpus = []
      let outOfOrder = 0
      for (let i = 0; i < replay.runs; i++) {
        const cpuB = await serverB.call('cpu')
        const read = await client.call('replay', {
          port: portB, path: '/sub', lastEventId: filled.firstId, expected: replay.events - 1, firstSeq: 1, timeoutMs: 60_000
        }, 70_000)
        cpus.push(cpuSeconds(cpuB, await serverB.call('cpu')))
        times.push(read.ms)
        outOfOrder += read.outOfOrder
      }
      const mid = values => values.sort((x, y) => x - y)[values.length >> 1]
      sample.replayMs = mid(times)
      sample.replayCpuMs = mid(cpus) * 1000
      sample.replayOutOfOrder = outOfOrder
      const { publishFailures } = await a.call('publishFailures')
      sample.publishFailures = publishFailures
      return sample
    } finally {
      await client.call('closeAll')
      await b?.stop()
    }
  })
}
