// The benchmark runner: starts each implementation as its own server process, drives the load
// client (another process) against it, and writes medians over the rounds to RESULTS.md.
// Run through run.sh (`npm run bench` at the root), which compiles the plugin and raises the
// file descriptor limit. BENCH_QUICK=1 runs a small smoke version in about a minute.
import { fork } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

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

/** The implementations, in the order of the tables. `key` names the server file. */
const allImplementations = [
  { key: 'typed', label: '**fastify-typed-sse**', file: 'typed-sse.mjs', env: { VALIDATE: '1' } },
  { key: 'typed-novalidate', label: 'fastify-typed-sse, `validate: false`', file: 'typed-sse.mjs', env: { VALIDATE: '0' } },
  { key: 'fastify-sse', label: '@fastify/sse', file: 'fastify-sse.mjs', peer: true },
  { key: 'fastify-sse-v2', label: 'fastify-sse-v2', file: 'fastify-sse-v2.mjs', peer: true },
  { key: 'better-sse', label: 'better-sse', file: 'better-sse.mjs', peer: true },
  { key: 'node-http', label: 'node:http by hand', file: 'node-http.mjs' },
  { key: 'fastify-hijack', label: 'Fastify `reply.hijack()` by hand', file: 'fastify-hijack.mjs' }
]
if (rounds !== undefined) config.rounds = rounds
const implementations = allImplementations.filter(i => onlyImpls === undefined || onlyImpls.includes(i.key))
const ceiling = { key: 'ceiling', label: '(client ceiling: pre-encoded, 1000 frames a write)', file: 'client-ceiling.mjs' }

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
// Report

function median (values) {
  const sorted = values.filter(v => typeof v === 'number' && !Number.isNaN(v)).sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

function med (scenario, impl, field) {
  return median((samples[scenario]?.[impl] ?? []).map(s => s[field]))
}

function all (scenario, impl, field) {
  return (samples[scenario]?.[impl] ?? []).map(s => s[field])
}

const fmt = {
  int: v => Number.isNaN(v) ? '–' : Math.round(v).toLocaleString('en-US'),
  k: v => Number.isNaN(v) ? '–' : `${Math.round(v / 1000).toLocaleString('en-US')} k`,
  f1: v => Number.isNaN(v) ? '–' : v.toFixed(1),
  f2: v => Number.isNaN(v) ? '–' : v.toFixed(2),
  kb: v => Number.isNaN(v) ? '–' : (v / 1024).toFixed(2),
  mb: v => Number.isNaN(v) ? '–' : (v / 1024 / 1024).toFixed(2),
  pct: v => Number.isNaN(v) ? '–' : `${Math.round(v * 100)}%`
}

function table (header, rows) {
  const lines = [`| ${header.join(' | ')} |`, `|${header.map((h, i) => i === 0 ? ' --- ' : ' ---: ').join('|')}|`]
  for (const row of rows) lines.push(`| ${row.join(' | ')} |`)
  return lines.join('\n')
}

const impls = [...implementations, ceiling]
const peers = implementations.filter(i => i.peer)
const ran = (scenario, impl) => (samples[scenario]?.[impl.key] ?? []).length > 0

function throughputTable (scenario) {
  const rows = impls.filter(i => ran(scenario, i)).map(i => [
    i.label,
    fmt.int(med(scenario, i.key, 'eventsPerSecond')),
    fmt.f1(med(scenario, i.key, 'mbPerSecond')),
    fmt.f2(med(scenario, i.key, 'serverCpuSeconds')),
    fmt.f2(med(scenario, i.key, 'clientCpuSeconds')),
    fmt.int(med(scenario, i.key, 'bytesPerEvent')),
    all(scenario, i.key, 'complete').every(Boolean) ? 'yes' : '**no**'
  ])
  return table(['implementation', 'events/s', 'MB/s', 'server CPU s', 'client CPU s', 'bytes/event', 'all events'], rows)
}

function fanoutTable (scenario) {
  const rows = implementations.filter(i => ran(scenario, i)).map(i => [
    i.label,
    fmt.int(med(scenario, i.key, 'eventsPerSecond')),
    fmt.f2(med(scenario, i.key, 'p50')),
    fmt.f2(med(scenario, i.key, 'p99')),
    fmt.f2(med(scenario, i.key, 'max')),
    String(Math.max(...all(scenario, i.key, 'lost'))),
    fmt.f2(med(scenario, i.key, 'serverCpuSeconds'))
  ])
  return table(['implementation', 'delivered events/s', 'p50 ms', 'p99 ms', 'max ms', 'lost (worst round)', 'server CPU s'], rows)
}

function idleTable () {
  const rows = implementations.filter(i => ran('idle', i)).map(i => [
    i.label,
    fmt.kb(med('idle', i.key, 'heapPerConnection')),
    fmt.kb(med('idle', i.key, 'rssPerConnection'))
  ])
  return table(['implementation', 'heap KB / connection', 'RSS KB / connection'], rows)
}

function churnTable () {
  const rows = implementations.filter(i => ran('churn', i)).map(i => [
    i.label,
    fmt.f2(med('churn', i.key, 'seconds')),
    fmt.int(med('churn', i.key, 'cyclesPerSecond')),
    fmt.mb(med('churn', i.key, 'heapGrowth')),
    String(Math.max(...all('churn', i.key, 'alive'))),
    String(Math.max(...all('churn', i.key, 'failed')))
  ])
  return table(['implementation', 'seconds', 'cycles/s', 'heap growth MB (after GC)', 'sources alive after (worst)', 'failed cycles (worst)'], rows)
}

// The targets of issue 5, checked on this run's medians.
function targets () {
  const lines = []
  const check = (ok, text) => lines.push(`- ${Number.isNaN(ok) || ok === undefined ? '–' : ok ? 'met' : '**not met**'}: ${text}`)
  for (const scenario of ['throughput-small', 'throughput-large']) {
    if (samples[scenario] === undefined) continue
    const ours = med(scenario, 'typed', 'eventsPerSecond')
    const bestPeer = Math.max(...peers.map(p => med(scenario, p.key, 'eventsPerSecond')).filter(v => !Number.isNaN(v)))
    const bestPeerName = peers.find(p => med(scenario, p.key, 'eventsPerSecond') === bestPeer)?.label
    const raw = med(scenario, 'node-http', 'eventsPerSecond')
    check(ours >= 1.5 * bestPeer, `${scenario}: ${(ours / bestPeer).toFixed(2)}x the best peer (${bestPeerName}); target 1.5x`)
    check(ours >= 0.8 * raw, `${scenario}: ${fmt.pct(ours / raw)} of node:http by hand; target 80%`)
  }
  if (samples['throughput-small'] !== undefined) {
    const on = med('throughput-small', 'typed', 'eventsPerSecond')
    const off = med('throughput-small', 'typed-novalidate', 'eventsPerSecond')
    check(1 - on / off < 0.15, `validation costs ${fmt.pct(1 - on / off)} of small-event throughput; target under 15%`)
  }
  const big = config.fanout.at(-1)
  const fan = `fanout-${big.subscribers}`
  if (samples[fan] !== undefined) {
    const ours = med(fan, 'typed', 'p99')
    const bestPeer = Math.min(...peers.map(p => med(fan, p.key, 'p99')).filter(v => !Number.isNaN(v)))
    check(ours <= bestPeer, `fan-out p99 at ${big.subscribers} subscribers: ${fmt.f2(ours)} ms against the best peer's ${fmt.f2(bestPeer)} ms`)
  }
  if (samples.idle !== undefined) {
    const ours = med('idle', 'typed', 'heapPerConnection')
    const floor = med('idle', 'fastify-hijack', 'heapPerConnection')
    check(ours <= floor + 2048, `idle heap per connection: ${fmt.kb(ours)} KB against plain Fastify's ${fmt.kb(floor)} KB + 2 KB`)
  }
  return lines.join('\n')
}

const cpuModel = cpus()[0]?.model ?? 'unknown'
const date = new Date().toISOString().replace('T', ' ').slice(0, 16) + ' UTC'
const out = `# Benchmark results

Written by \`npm run bench\` (bench/run.mjs)${quick ? ' with **BENCH_QUICK=1: a smoke run, not for comparison**' : ''}.

- Date: ${date}; ${minutes.toFixed(1)} minutes
- Machine: ${cpus().length} cores, ${cpuModel}, ${(totalmem() / 2 ** 30).toFixed(0)} GB; Node ${process.version}, ${process.platform}
- ${config.rounds} round(s), implementations in a rotated and alternating order each round; medians shown.
  A throughput sample is the median of ${THROUGHPUT_RUNS} back-to-back runs on one server process.
- Server and client are separate processes on the same machine, over 127.0.0.1, HTTP/1.1.
- Load average (1 min) before and after: ${loadBefore[0].toFixed(2)} and ${loadAfter[0].toFixed(2)} (anything above 0 is
  other work sharing the ${cpus().length} cores with server and client, and widens the spread).
- This plugin ran as: ${serverNames.typed ?? '–'}.

## Targets (issue 5)

${targets()}

## Throughput: one connection, ${config.throughputEvents.toLocaleString('en-US')} small events (~64 B JSON)

${throughputTable('throughput-small')}

## Throughput: one connection, ${config.throughputEvents.toLocaleString('en-US')} events of ~1 KB JSON

${throughputTable('throughput-large')}

${config.fanout.map(f => `## Fan-out: ${f.subscribers.toLocaleString('en-US')} subscribers, ${f.events} events broadcast every ${f.intervalMs} ms

${fanoutTable(`fanout-${f.subscribers}`)}`).join('\n\n')}

## Idle memory: ${config.idle.toLocaleString('en-US')} idle streams, heartbeat on (after GC)

${idleTable()}

## Churn: ${config.churn.total.toLocaleString('en-US')} connect / read one event / disconnect cycles, ${config.churn.concurrency} at a time

${churnTable()}
${errors.length > 0 ? `\n## Errors\n\n${errors.map(e => `- ${e}`).join('\n')}\n` : ''}
## How each implementation is written

See bench/README.md. In short: every server builds a new event object per event and sends it
unnamed (\`message\`); the peers serialize with \`JSON.stringify\` as their users do; the hand-written
servers write one frame per \`write()\` and wait for \`'drain'\`; this plugin checks each event
against its TypeBox schema (unless \`validate: false\`) and serializes with fast-json-stringify.
`
writeFileSync(join(here, quick ? 'RESULTS.quick.md' : 'RESULTS.md'), out)
writeFileSync(join(here, quick ? 'results.quick.json' : 'results.json'), JSON.stringify({ date, config, samples, errors }, null, 2) + '\n')
console.log(`wrote ${quick ? 'bench/RESULTS.quick.md' : 'bench/RESULTS.md'}`)
