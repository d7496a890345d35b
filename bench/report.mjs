// Turns results.json into RESULTS.md: medians over the rounds, the targets of issue 5 checked on
// them, and a headline table for the README. `node bench/report.mjs` re-renders RESULTS.md from
// the last results.json without running anything.
import { readFileSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { allImplementations, ceiling } from './implementations.mjs'

function median (values) {
  const sorted = values.filter(v => typeof v === 'number' && !Number.isNaN(v)).sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

const fmt = {
  int: v => Number.isNaN(v) ? '–' : Math.round(v).toLocaleString('en-US'),
  f1: v => Number.isNaN(v) ? '–' : v.toFixed(1),
  f2: v => Number.isNaN(v) ? '–' : v.toFixed(2),
  kb: v => Number.isNaN(v) ? '–' : (v / 1024).toFixed(1),
  mb: v => Number.isNaN(v) ? '–' : (v / 1024 / 1024).toFixed(2),
  pct: v => Number.isNaN(v) ? '–' : `${Math.round(v * 100)}%`
}

function table (header, rows) {
  const lines = [`| ${header.join(' | ')} |`, `|${header.map((h, i) => i === 0 ? ' --- ' : ' ---: ').join('|')}|`]
  for (const row of rows) lines.push(`| ${row.join(' | ')} |`)
  return lines.join('\n')
}

/** The markdown of RESULTS.md for one results.json. */
export function render (results) {
  const { samples, config } = results
  const implementations = allImplementations.filter(i => results.implementations?.includes(i.key) ?? true)
  const peers = implementations.filter(i => i.peer)
  const med = (scenario, impl, field) => median((samples[scenario]?.[impl] ?? []).map(s => s[field]))
  const all = (scenario, impl, field) => (samples[scenario]?.[impl] ?? []).map(s => s[field])
  const ran = (scenario, impl) => (samples[scenario]?.[impl.key] ?? []).length > 0
  const bigFanout = `fanout-${config.fanout.at(-1).subscribers}`

  function throughputTable (scenario) {
    const rows = [...implementations, ceiling].filter(i => ran(scenario, i)).map(i => [
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
      fmt.f1(med(scenario, i.key, 'p50')),
      fmt.f1(med(scenario, i.key, 'p99')),
      fmt.f1(med(scenario, i.key, 'max')),
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

  /** One line per implementation, the figures the README quotes. */
  function headlineTable () {
    const rows = implementations.map(i => [
      i.label,
      fmt.int(med('throughput-small', i.key, 'eventsPerSecond')),
      fmt.int(med('throughput-large', i.key, 'eventsPerSecond')),
      fmt.f1(med(bigFanout, i.key, 'p99')),
      fmt.kb(med('idle', i.key, 'heapPerConnection')),
      fmt.int(med('churn', i.key, 'cyclesPerSecond'))
    ])
    return table(['implementation', 'small events/s', '1 KB events/s', `fan-out p99 ms (${config.fanout.at(-1).subscribers})`, 'idle heap KB/conn', 'churn cycles/s'], rows)
  }

  function targets () {
    const lines = []
    const check = (ok, text) => { if (!text.includes('NaN') && !text.includes('–')) lines.push(`- ${ok ? 'met' : '**not met**'}: ${text}`) }
    const best = (scenario, field, pick) => {
      const values = peers.map(p => ({ p, v: med(scenario, p.key, field) })).filter(x => !Number.isNaN(x.v))
      if (values.length === 0) return { v: NaN, label: '–' }
      const chosen = values.reduce((a, b) => pick(b.v, a.v) ? b : a)
      return { v: chosen.v, label: chosen.p.label }
    }
    for (const [scenario, what] of [['throughput-small', 'small events'], ['throughput-large', '1 KB events']]) {
      if (samples[scenario] === undefined) continue
      const ours = med(scenario, 'typed', 'eventsPerSecond')
      const peer = best(scenario, 'eventsPerSecond', (a, b) => a > b)
      const raw = med(scenario, 'node-http', 'eventsPerSecond')
      check(ours >= 1.5 * peer.v, `throughput, ${what}: ${(ours / peer.v).toFixed(2)}x the best peer (${peer.label}); target 1.5x`)
      check(ours >= 0.8 * raw, `throughput, ${what}: ${fmt.pct(ours / raw)} of node:http by hand; target 80%`)
    }
    if (samples['throughput-small'] !== undefined) {
      const on = med('throughput-small', 'typed', 'eventsPerSecond')
      const off = med('throughput-small', 'typed-novalidate', 'eventsPerSecond')
      const cost = on >= off
        ? `validation costs nothing measurable: ${fmt.int(on)} events/s with it, ${fmt.int(off)} without (the difference is run-to-run spread)`
        : `validation costs ${fmt.pct(1 - on / off)} of small-event throughput (${fmt.int(on)} against ${fmt.int(off)} events/s)`
      check(1 - on / off < 0.15, `${cost}; target under 15%`)
    }
    if (samples[bigFanout] !== undefined) {
      const ours = med(bigFanout, 'typed', 'p99')
      const peer = best(bigFanout, 'p99', (a, b) => a < b)
      check(ours <= peer.v, `fan-out p99 at ${config.fanout.at(-1).subscribers} subscribers: ${fmt.f1(ours)} ms against the best peer's ${fmt.f1(peer.v)} ms (${peer.label})`)
    }
    if (samples.idle !== undefined) {
      const ours = med('idle', 'typed', 'heapPerConnection')
      const floor = med('idle', 'fastify-hijack', 'heapPerConnection')
      check(ours <= floor + 2048, `idle heap per connection: ${fmt.kb(ours)} KB against plain Fastify's ${fmt.kb(floor)} KB + 2 KB`)
    }
    return lines.join('\n')
  }

  // A section only for the scenarios that ran (BENCH_ONLY runs a few).
  const section = (scenario, title, body) => samples[scenario] === undefined ? '' : `## ${title}\n\n${body()}\n\n`
  const { machine, load } = results
  const date = results.date.replace('T', ' ').slice(0, 16) + ' UTC'
  const n = config.throughputEvents.toLocaleString('en-US')
  return `# Benchmark results

Written by \`npm run bench\` (bench/run.mjs; method in [README.md](README.md))${results.quick ? ' with **BENCH_QUICK=1: a smoke run, not for comparison**' : ''}${results.only ? ` with BENCH_ONLY=${results.only.join(',')}: only those scenarios ran` : ''}.

- Date: ${date}; the run took ${results.minutes.toFixed(1)} minutes.
- Machine: ${machine.cores} cores, ${machine.cpuModel}, ${machine.memoryGB} GB; Node ${machine.node}, ${machine.platform}.
- ${config.rounds} round(s), implementations in a rotated order, reversed every other round; medians of the rounds shown.
  A throughput sample is the median of ${results.throughputRuns} back-to-back runs on one server process.
- Server and client are separate processes on the same machine, over 127.0.0.1, HTTP/1.1.
- Load average (1 min) before and after the run: ${load.before[0].toFixed(2)} and ${load.after[0].toFixed(2)}. Other work was
  sharing the ${machine.cores} cores with the server and the client; it widens the spread between rounds.
- This plugin ran as: ${results.serverNames?.typed ?? '–'}.

## Headline

${headlineTable()}

## Targets (issue 5)

${targets()}

${section('throughput-small', `Throughput: one connection, ${n} small events (~64 B of JSON)`, () => throughputTable('throughput-small'))}\
${section('throughput-large', `Throughput: one connection, ${n} events of ~1 KB of JSON`, () => throughputTable('throughput-large'))}\
${config.fanout.map(f => section(`fanout-${f.subscribers}`, `Fan-out: ${f.subscribers.toLocaleString('en-US')} subscribers, ${f.events} events broadcast every ${f.intervalMs} ms`, () => fanoutTable(`fanout-${f.subscribers}`))).join('')}\
${section('idle', `Idle memory: ${config.idle.toLocaleString('en-US')} idle streams, heartbeat on (after GC)`, idleTable)}\
${section('churn', `Churn: ${config.churn.total.toLocaleString('en-US')} connect / read one event / disconnect cycles, ${config.churn.concurrency} at a time`, churnTable)}\
${results.errors.length > 0 ? `## Errors\n\n${results.errors.map(e => `- ${e}`).join('\n')}\n` : ''}`.trimEnd() + '\n'
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const here = dirname(fileURLToPath(import.meta.url))
  const file = process.argv[2] ?? join(here, 'results.json')
  const results = JSON.parse(readFileSync(file, 'utf8'))
  // results.json gives RESULTS.md, results.rerun.json gives RESULTS.rerun.md.
  const out = basename(file).replace(/^results/, 'RESULTS').replace(/\.json$/, '.md')
  writeFileSync(join(here, out), render(results))
  console.log(`wrote bench/${out}`)
}
