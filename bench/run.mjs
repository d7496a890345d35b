// The benchmark runner: starts each implementation as its own server process, drives the load
// client (another process) against it, and writes medians over the rounds to RESULTS.md.
// Run through run.sh (`npm run bench` at the root), which compiles the plugin and raises the
// file descriptor limit. BENCH_QUICK=1 runs a small smoke version in about a minute.
import { fork } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { allImplementations, ceiling } from './implementations.mjs'
import { render } from './report.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const quick = process.env.BENCH_QUICK === '1'
const rounds = process.env.BENCH_ROUNDS === undefined ? undefined : Number(process.env.BENCH_ROUNDS)
// For working on one part: BENCH_ONLY=throughput,churn and BENCH_IMPLS=typed,node-http.
const only = process.env.BENCH_ONLY?.split(',')
const onlyImpls = process.env.BENCH_IMPLS?.split(',')

const config = quick
  ? {
      rounds: 1,
      throughputEvents: 20_000,
      fanout: [{ subscribers: 200, events: 20, intervalMs: 50 }],
      idle: 500,
      churn: { total: 1000, concurrency: 50 }
    }
  : {
      rounds: 3,
      throughputEvents: 200_000,
      // A fixed rate: 20 000 deliveries a second at both sizes, for 3-4 seconds. Both processes
      // share 2 cores, and at about twice this rate every implementation falls behind, so the
      // latency would measure a growing queue rather than the cost of a broadcast.
      fanout: [
        { subscribers: 1000, events: 60, intervalMs: 50 },
        { subscribers: 5000, events: 16, intervalMs: 250 }
      ],
      idle: 5000,
      churn: { total: 20_000, concurrency: 50 }
    }

if (rounds !== undefined) config.rounds = rounds
const implementations = allImplementations.filter(i => onlyImpls === undefined || onlyImpls.includes(i.key))

// ---------------------------------------------------------------------------------------------
// Processes and their IPC

class Child {
  constructor (file, args, env, execArgv) {
    this.calls = new Map()
    this.nextId = 0
    this.proc = fork(file, args, { env: { ...process.env, ...env }, execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    this.ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${file} did not start within 20 s`)), 20_000)
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
      this.proc.on('exit', code => {
        clearTimeout(timer)
        reject(new Error(`${file} exited with ${code}`))
        for (const call of this.calls.values()) call.reject(new Error(`${file} exited with ${code}`))
        this.calls.clear()
      })
    })
    this.exited = new Promise(resolve => this.proc.once('exit', resolve))
  }

  call (cmd, args = {}, timeoutMs = 60_000) {
    return new Promise((resolve, reject) => {
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

function startServer (impl) {
  return new Child(join(here, 'servers', impl.file), [], impl.env ?? {}, ['--expose-gc', '--no-warnings'])
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

async function waitFor (what, check, timeoutMs) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value.done) return value
    if (Date.now() > deadline) return value
    await sleep(50)
  }
}

function cpuSeconds (before, after) {
  return (after.user - before.user + after.system - before.system) / 1e6
}

// ---------------------------------------------------------------------------------------------
// Scenarios: each takes a started server and the client, returns one sample.

// Runs per throughput sample, on the same server process; the sample is the run with the median
// rate. A single run of 200 000 small events lasts well under a second, so one stray process on
// a shared machine could decide it; the first run also pays for the JIT warming up.
const THROUGHPUT_RUNS = 3

async function throughput (server, port, client, size) {
  const n = config.throughputEvents
  const runs = []
  for (let i = 0; i < THROUGHPUT_RUNS; i++) {
    const cpu = await server.call('cpu')
    const run = await client.call('throughput', { port, path: `/stream?n=${n}&size=${size}`, timeoutMs: 120_000 }, 130_000)
    const serverCpu = cpuSeconds(cpu, await server.call('cpu'))
    runs.push({
      eventsPerSecond: n / (run.ms / 1000),
      mbPerSecond: run.bytes / 1e6 / (run.ms / 1000),
      serverCpuSeconds: serverCpu,
      clientCpuSeconds: run.clientCpuSeconds,
      seconds: run.ms / 1000,
      frames: run.frames,
      bytesPerEvent: run.bytes / n,
      complete: run.frames >= n
    })
  }
  runs.sort((a, b) => a.eventsPerSecond - b.eventsPerSecond)
  return { ...runs[runs.length >> 1], complete: runs.every(r => r.complete) }
}

async function subscribeAll (server, port, client, connections) {
  await client.call('open', { port, path: '/sub', connections, timeoutMs: 60_000 }, 65_000)
  // The client saw the headers; wait until the server has each subscriber in its broadcast set.
  await waitFor('subscribers', async () => {
    const { subscribers } = await server.call('alive')
    return { done: subscribers >= connections, subscribers }
  }, 20_000)
}

async function fanout (server, port, client, { subscribers, events, intervalMs }) {
  try {
    await subscribeAll(server, port, client, subscribers)
    await sleep(200)
    await client.call('arm', { expected: events })
    const firstSent = Math.round((performance.timeOrigin + performance.now()) * 1000) + intervalMs * 1000
    const cpu = await server.call('cpu')
    await server.call('broadcast', { count: events, intervalMs, size: 'small' }, events * intervalMs + 30_000)
    const result = await client.call('collect', { expected: events, firstSent, timeoutMs: 15_000 }, 30_000)
    result.serverCpuSeconds = cpuSeconds(cpu, await server.call('cpu'))
    return result
  } finally {
    await client.call('closeAll')
  }
}

async function idle (server, port, client) {
  const connections = config.idle
  const before = await server.call('mem')
  try {
    await subscribeAll(server, port, client, connections)
    await sleep(500)
    const after = await server.call('mem')
    return {
      heapPerConnection: (after.heapUsed - before.heapUsed) / connections,
      rssPerConnection: (after.rss - before.rss) / connections,
      gc: after.gc
    }
  } finally {
    await client.call('closeAll')
  }
}

async function churn (server, port, client) {
  const { total, concurrency } = config.churn
  // A warm-up so code paths are compiled and lazily-created state exists before "before".
  await client.call('churn', { port, path: '/one', total: 200, concurrency, timeoutMs: 10_000, cycleTimeoutMs: 5000 }, 15_000)
  await waitFor('warm-up cleanup', async () => ({ done: (await server.call('alive')).alive === 0 }), 5000)
  const before = await server.call('mem')
  const run = await client.call('churn', { port, path: '/one', total, concurrency, timeoutMs: 120_000, cycleTimeoutMs: 5000 }, 130_000)
  // Cleanup after a disconnect is asynchronous; give it a bounded moment.
  const settled = await waitFor('cleanup', async () => {
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
}

const scenarios = [
  { name: 'throughput-small', withCeiling: true, run: (s, p, c) => throughput(s, p, c, 'small') },
  { name: 'throughput-large', withCeiling: true, run: (s, p, c) => throughput(s, p, c, 'large') },
  ...config.fanout.map(f => ({ name: `fanout-${f.subscribers}`, run: (s, p, c) => fanout(s, p, c, f) })),
  { name: 'idle', run: idle },
  { name: 'churn', run: churn }
].filter(s => only === undefined || only.includes(s.name) || only.includes(s.name.split('-')[0]))

// ---------------------------------------------------------------------------------------------
// Rounds

const samples = {} // samples[scenario][impl] = [sample, ...]
const errors = []
const serverNames = {} // what each server said it runs (e.g. whether the plugin used its hub)

async function runOne (scenario, impl, client) {
  const server = startServer(impl)
  try {
    const { port, name } = await server.ready
    serverNames[impl.key] = name
    await sleep(100)
    const sample = await scenario.run(server, port, client)
    ;((samples[scenario.name] ??= {})[impl.key] ??= []).push(sample)
    console.log(`  ${scenario.name.padEnd(18)} ${impl.key.padEnd(18)} ${brief(sample)}`)
  } catch (err) {
    errors.push(`${scenario.name} / ${impl.key}: ${err.message.split('\n')[0]}`)
    console.log(`  ${scenario.name.padEnd(18)} ${impl.key.padEnd(18)} FAILED: ${err.message.split('\n')[0]}`)
  } finally {
    await server.stop()
  }
}

function brief (sample) {
  return Object.entries(sample)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toPrecision(4)}`)
    .join(' ')
}

const started = Date.now()
const loadBefore = loadavg()
const client = new Child(join(here, 'client.mjs'), [], {}, [])
await client.ready
console.log(`fastify-typed-sse bench: ${config.rounds} round(s)${quick ? ' (BENCH_QUICK)' : ''}`)
for (let round = 0; round < config.rounds; round++) {
  console.log(`round ${round + 1} of ${config.rounds}`)
  for (const scenario of scenarios) {
    // Alternate the order every round, so no implementation always runs first or last.
    const order = implementations.slice(round % implementations.length).concat(implementations.slice(0, round % implementations.length))
    if (round % 2 === 1) order.reverse()
    if (scenario.withCeiling && (onlyImpls === undefined || onlyImpls.includes('ceiling'))) order.push(ceiling)
    for (const impl of order) await runOne(scenario, impl, client)
  }
}
await client.stop()
const minutes = (Date.now() - started) / 60_000
const loadAfter = loadavg()
console.log(`done in ${minutes.toFixed(1)} min`)

// ---------------------------------------------------------------------------------------------
// Results: every sample to results.json, the tables to RESULTS.md (report.mjs renders them).

const results = {
  date: new Date().toISOString(),
  minutes,
  quick,
  config,
  throughputRuns: THROUGHPUT_RUNS,
  machine: { cores: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGB: Math.round(totalmem() / 2 ** 30), node: process.version, platform: process.platform },
  load: { before: loadBefore, after: loadAfter },
  implementations: implementations.map(i => i.key),
  only: only ?? null,
  serverNames,
  samples,
  errors
}
writeFileSync(join(here, quick ? 'results.quick.json' : 'results.json'), JSON.stringify(results, null, 2) + '\n')
writeFileSync(join(here, quick ? 'RESULTS.quick.md' : 'RESULTS.md'), render(results))
console.log(`wrote ${quick ? 'bench/RESULTS.quick.md' : 'bench/RESULTS.md'}`)
