// The benchmark runner: starts each implementation as its own server process (or several, behind
// node:cluster), drives the load clients (other processes) against it, and writes medians over
// the rounds to RESULTS.md. Run through run.sh (`npm run bench` at the root), which compiles the
// plugin and raises the file descriptor limit. BENCH_QUICK=1 runs a small smoke version in about
// a minute; BENCH_ONLY=capacity (or any scenario names, or their first word) runs only those.
import { writeFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { allImplementations, ceiling, clustered, hubVariants, processVariants, scaleKeys } from './implementations.mjs'
import { ClientPool, RedisServer } from './processes.mjs'
import { render } from './report.mjs'
import { churn, fanout, hub, idle, scale, throughput, THROUGHPUT_RUNS, validation } from './scenarios.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const quick = process.env.BENCH_QUICK === '1'
const rounds = process.env.BENCH_ROUNDS === undefined ? undefined : Number(process.env.BENCH_ROUNDS)
// For working on one part: BENCH_ONLY=throughput,churn and BENCH_IMPLS=typed,node-http.
const only = process.env.BENCH_ONLY?.split(',')
const onlyImpls = process.env.BENCH_IMPLS?.split(',')

const config = quick
  ? {
      rounds: 1,
      scaleRounds: 1,
      throughputEvents: 20_000,
      validation: { pairs: 2, events: 20_000 },
      fanout: [{ subscribers: 200, events: 20, intervalMs: 50 }],
      capacity: { subscribers: 500, events: 10, intervalMs: 100, drainMs: 30_000 },
      // Enough to see each kind run (fanout-200 runs every implementation through the same code).
      capacityKeys: ['typed', 'node-http'],
      // Throughput of small events and the fan-out run every implementation's server; the other
      // scenarios smoke-test their own code on these, which keeps the quick run near a minute.
      fewKeys: ['typed', 'typed-traced', 'node-http'],
      processKeys: ['typed', 'typed-x2', 'node-http-x2'],
      idle: 500,
      churn: { total: 1000, concurrency: 50 },
      scale: {
        // The several-process path (node:cluster, Redis, two clients on their own addresses) only.
        runs: [{ name: 'scale-3', streams: 1500, workers: 3, clients: 2 }],
        keys: ['typed', 'node-http'],
        heartbeatMs: 1000,
        windowMs: 1000,
        baselineMs: 500,
        broadcasts: 2,
        openTimeoutMs: 60_000,
        openStallMs: 20_000
      },
      hub: {
        burst: { count: 2000, inFlight: 64 },
        latency: { subscribers: 50, events: 20, intervalMs: 10 },
        replay: { events: 1001, runs: 1 }
      }
    }
  : {
      rounds: 3,
      // Each scale run holds tens of thousands of streams for about a minute.
      scaleRounds: 2,
      throughputEvents: 200_000,
      // Validated and unvalidated streams in alternating pairs on one server (scenarios.mjs).
      validation: { pairs: 10, events: 200_000 },
      // A fixed rate: 20 000 deliveries a second at both sizes, for 3-4 seconds. Both processes
      // share 2 cores, and at about twice this rate every implementation falls behind, so the
      // latency would measure a growing queue rather than the cost of a broadcast.
      fanout: [
        { subscribers: 1000, events: 60, intervalMs: 50 },
        { subscribers: 5000, events: 16, intervalMs: 250 }
      ],
      // The capacity row of issue 13: 5 000 subscribers offered 10 events/s each (50 000
      // deliveries/s, more than any implementation sustains here) for 6 seconds; it measures what
      // each delivers and how far behind it falls.
      // drainMs: how long the client waits for the last deliveries of a server that fell behind.
      capacity: { subscribers: 5000, events: 60, intervalMs: 100, drainMs: 60_000 },
      idle: 5000,
      churn: { total: 20_000, concurrency: 50 },
      scale: {
        // 50 000 streams need at least 3 processes (20 000 descriptors each); 4 leave room for
        // node:cluster handing one more than its share to a worker. The clients: 4 of 12 500.
        runs: [{ name: 'scale-19000', streams: 19_000, workers: 1, clients: 2 }, { name: 'scale-50000', streams: 50_000, workers: 4, clients: 4 }],
        keys: scaleKeys,
        windowMs: 15_000,
        baselineMs: 3000,
        broadcasts: 3,
        // Only a stall fails the opening: on a busy machine 50 000 streams can take minutes.
        openTimeoutMs: 15 * 60_000,
        openStallMs: 30_000
      },
      hub: {
        burst: { count: 20_000, inFlight: 64 },
        // 10 000 deliveries/s: well below what one process sustains, so the latency is the hop
        // through Redis rather than a queue.
        latency: { subscribers: 1000, events: 50, intervalMs: 100 },
        replay: { events: 10_001, runs: 3 }
      }
    }

if (rounds !== undefined) {
  config.rounds = rounds
  config.scaleRounds = Math.min(config.scaleRounds, rounds)
}
const pick = list => list.filter(i => onlyImpls === undefined || onlyImpls.includes(i.key) || onlyImpls.includes(i.base))
const implementations = pick(allImplementations)
const few = list => list.filter(i => config.fewKeys === undefined || config.fewKeys.includes(i.key))
const byKey = Object.fromEntries(allImplementations.map(i => [i.key, i]))

const scenarios = [
  { name: 'throughput-small', withCeiling: true, impls: implementations, run: (ctx, i) => throughput(ctx, i, 'small') },
  { name: 'throughput-large', withCeiling: true, impls: few(implementations), run: (ctx, i) => throughput(ctx, i, 'large') },
  { name: 'validation', impls: implementations.filter(i => i.key === 'typed'), run: validation },
  ...config.fanout.map(f => ({ name: `fanout-${f.subscribers}`, impls: implementations, run: (ctx, i) => fanout(ctx, i, f) })),
  {
    name: 'capacity',
    impls: implementations.filter(i => config.capacityKeys === undefined || config.capacityKeys.includes(i.key)),
    run: (ctx, i) => fanout(ctx, i, config.capacity)
  },
  { name: 'idle', impls: few(implementations), run: idle },
  { name: 'churn', impls: few(implementations), run: churn },
  {
    name: 'processes',
    redis: true,
    impls: pick(processVariants.filter(v => config.processKeys === undefined || config.processKeys.includes(v.key))),
    run: (ctx, i) => fanout(ctx, i, config.capacity)
  },
  { name: 'hub', redis: true, impls: pick(hubVariants), run: hub },
  ...config.scale.runs.map(s => ({
    name: s.name,
    redis: s.workers > 1,
    scale: true,
    impls: pick(config.scale.keys.map(k => s.workers > 1 ? clustered(k, s.workers) : byKey[k])),
    run: (ctx, i) => scale(ctx, i, s)
  }))
].filter(s => only === undefined || only.includes(s.name) || only.includes(s.name.split('-')[0]))

// ---------------------------------------------------------------------------------------------
// Rounds

const samples = {} // samples[scenario][impl] = [sample, ...]
const errors = []
const serverNames = {} // what each server said it runs (e.g. whether the plugin used its hub)
const seconds = {} // seconds[scenario]: wall time over all its rounds, to say what a run costs

async function runOne (scenario, impl, ctx, round) {
  const load = loadavg()[0]
  try {
    const sample = await scenario.run(ctx, impl)
    // The 1-minute load average as the sample began: a loaded machine shows in the results.
    sample.load = load
    sample.round = round + 1
    ;((samples[scenario.name] ??= {})[impl.key] ??= []).push(sample)
    console.log(`  ${scenario.name.padEnd(18)} ${impl.key.padEnd(18)} ${brief(sample)}`)
  } catch (err) {
    const reason = err.message.split('\n')[0]
    errors.push({ scenario: scenario.name, impl: impl.key, reason })
    console.log(`  ${scenario.name.padEnd(18)} ${impl.key.padEnd(18)} FAILED: ${reason}`)
  }
}

function brief (sample) {
  return Object.entries(sample)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toPrecision(4)}`)
    .join(' ')
}

const machine = { cores: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGB: Math.round(totalmem() / 2 ** 30), node: process.version, platform: process.platform }
const started = Date.now()
const loadBefore = loadavg()
const partial = only !== undefined || onlyImpls !== undefined
console.log(`fastify-typed-sse bench: ${config.rounds} round(s)${quick ? ' (BENCH_QUICK)' : ''}${partial ? `, only ${only ?? 'all scenarios'} / ${onlyImpls ?? 'all implementations'}` : ''}`)
console.log(`  ${new Date().toISOString()}; ${machine.cores} cores, ${machine.cpuModel}, ${machine.memoryGB} GB; Node ${machine.node}`)
console.log(`  load average before: ${loadBefore.map(l => l.toFixed(2)).join(' ')}${loadBefore[0] > 0.5 ? ' (the machine is busy: compare within this run only)' : ''}`)

// The scale scenarios split their streams over 4 load clients; the others use the first.
const pool = new ClientPool(scenarios.some(s => s.scale) ? Math.max(...config.scale.runs.map(r => r.clients)) : 1)
await pool.ready()
const ctx = { config, pool, redis: undefined, redisError: undefined, onName: (key, name) => { serverNames[key] = name } }
if (scenarios.some(s => s.redis)) {
  try {
    ctx.redis = await RedisServer.start()
    console.log(`  redis-server of this run on port ${ctx.redis.port}`)
  } catch (err) {
    ctx.redisError = err.message
    console.log(`  no Redis: ${err.message}; the scenarios that need it fail`)
  }
}

try {
  for (let round = 0; round < config.rounds; round++) {
    console.log(`round ${round + 1} of ${config.rounds}`)
    for (const scenario of scenarios) {
      if (scenario.scale && round >= config.scaleRounds) continue
      // Alternate the order every round, so no implementation always runs first or last.
      const impls = scenario.impls.filter(i => i.scenarios === undefined || i.scenarios.includes(scenario.name.split('-')[0]))
      const order = impls.slice(round % impls.length).concat(impls.slice(0, round % impls.length))
      if (round % 2 === 1) order.reverse()
      if (scenario.withCeiling && (onlyImpls === undefined || onlyImpls.includes('ceiling'))) order.push(ceiling)
      const began = performance.now()
      for (const impl of order) await runOne(scenario, impl, ctx, round)
      const took = (performance.now() - began) / 1000
      seconds[scenario.name] = (seconds[scenario.name] ?? 0) + took
      console.log(`  ${scenario.name}: ${took.toFixed(0)} s`)
    }
    // Every round's results are written as it ends: a run stopped later keeps what it measured.
    save(round + 1)
  }
} finally {
  await pool.stop()
  await ctx.redis?.stop()
}
console.log(`done in ${((Date.now() - started) / 60_000).toFixed(1)} min; load average after: ${loadavg().map(l => l.toFixed(2)).join(' ')}`)

// ---------------------------------------------------------------------------------------------
// Results: every sample to results.json, the tables to RESULTS.md (report.mjs renders them). A
// quick or partial run writes its own files, so it never replaces the full run's.

function save (roundsDone) {
  const results = {
    date: new Date(started).toISOString(),
    minutes: (Date.now() - started) / 60_000,
    quick,
    config: { ...config, rounds: roundsDone, scaleRounds: Math.min(config.scaleRounds ?? roundsDone, roundsDone) },
    throughputRuns: THROUGHPUT_RUNS,
    machine,
    load: { before: loadBefore, after: loadavg() },
    implementations: implementations.map(i => i.key),
    only: only ?? null,
    onlyImpls: onlyImpls ?? null,
    serverNames,
    seconds,
    samples,
    errors
  }
  const suffix = quick ? '.quick' : partial ? '.partial' : ''
  writeFileSync(join(here, `results${suffix}.json`), JSON.stringify(results, null, 2) + '\n')
  writeFileSync(join(here, `RESULTS${suffix}.md`), render(results))
  console.log(`  wrote bench/RESULTS${suffix}.md (${roundsDone} round${roundsDone === 1 ? '' : 's'})`)
}
