// Turns results.json into RESULTS.md: medians over the rounds, the targets of issues 5 and 13
// checked on them, and a headline table for the README. `node bench/report.mjs` re-renders
// RESULTS.md from the last results.json without running anything (or `node bench/report.mjs
// bench/results.quick.json` the quick run's).
import { readFileSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { allImplementations, ceiling, clustered, hubVariants, processVariants } from './implementations.mjs'

function median (values) {
  const sorted = values.filter(v => typeof v === 'number' && !Number.isNaN(v)).sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** Not a figure: missing (an older results.json, a failed sample) or not a number. */
const none = v => typeof v !== 'number' || !Number.isFinite(v)

const fmt = {
  int: v => none(v) ? '–' : Math.round(v).toLocaleString('en-US'),
  f1: v => none(v) ? '–' : v.toFixed(1),
  f2: v => none(v) ? '–' : v.toFixed(2),
  kb: v => none(v) ? '–' : (v / 1024).toFixed(1),
  mb: v => none(v) ? '–' : (v / 1024 / 1024).toFixed(2),
  pct: v => none(v) ? '–' : `${Math.round(v * 100)}%`
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
  const list = (scenario, key) => samples[scenario]?.[key] ?? []
  const med = (scenario, key, field) => median(list(scenario, key).map(s => s[field]))
  const all = (scenario, key, field) => list(scenario, key).map(s => s[field])
  const worst = (scenario, key, field) => String(Math.max(0, ...all(scenario, key, field).filter(v => typeof v === 'number')))
  const ran = (scenario, impl) => list(scenario, impl.key).length > 0
  // Errors were strings before the scale scenarios; now { scenario, impl, reason }.
  const errors = (results.errors ?? []).map(e => typeof e === 'string' ? { scenario: e.split(' / ')[0], impl: e.split(' / ')[1]?.split(':')[0], reason: e } : e)
  const failures = (scenario, key) => errors.filter(e => e.scenario === scenario && e.impl === key)
  /** Implementations that ran or failed in `scenario`: a peer that did not survive keeps its row. */
  const shown = (scenario, impls) => impls.filter(i => ran(scenario, i) || failures(scenario, i.key).length > 0)
  /** The cells of a row whose implementation failed every round: the first reason, then blanks. */
  const failedRow = (scenario, impl, width) => {
    const reason = failures(scenario, impl.key)[0]?.reason ?? 'failed'
    return [impl.label, `**did not finish**: ${reason.replace(/\|/g, '/')}`, ...Array(width - 2).fill('')]
  }
  const fanoutConfig = config.fanout ?? []
  const bigFanout = fanoutConfig.length === 0 ? undefined : `fanout-${fanoutConfig.at(-1).subscribers}`
  const loadOf = scenario => {
    const loads = Object.values(samples[scenario] ?? {}).flat().map(s => s.load).filter(v => typeof v === 'number')
    if (loads.length === 0) return ''
    return `\n\nLoad average (1 min) as its samples began: ${Math.min(...loads).toFixed(2)} to ${Math.max(...loads).toFixed(2)}.`
  }

  function throughputTable (scenario) {
    const rows = [...implementations, ceiling].filter(i => ran(scenario, i)).map(i => [
      i.label,
      fmt.int(med(scenario, i.key, 'eventsPerSecond')),
      fmt.f1(med(scenario, i.key, 'mbPerSecond')),
      fmt.f2(med(scenario, i.key, 'cpuPerEvent')),
      fmt.f2(med(scenario, i.key, 'serverCpuSeconds')),
      fmt.f2(med(scenario, i.key, 'clientCpuSeconds')),
      fmt.int(med(scenario, i.key, 'bytesPerEvent')),
      all(scenario, i.key, 'complete').every(Boolean) ? 'yes' : '**no**'
    ])
    return table(['implementation', 'events/s', 'MB/s', 'server CPU µs/event', 'server CPU s', 'client CPU s', 'bytes/event', 'all events'], rows)
  }

  function fanoutTable (scenario, impls = implementations, extra = false) {
    const width = extra ? 12 : 9
    const rows = shown(scenario, impls).map(i => !ran(scenario, i)
      ? failedRow(scenario, i, width)
      : [
          i.label,
          fmt.int(med(scenario, i.key, 'eventsPerSecond')),
          fmt.f1(med(scenario, i.key, 'p50')),
          fmt.f1(med(scenario, i.key, 'p99')),
          fmt.f1(med(scenario, i.key, 'max')),
          worst(scenario, i.key, 'lost'),
          worst(scenario, i.key, 'closedByServer'),
          fmt.f1(med(scenario, i.key, 'cpuPerDelivery')),
          fmt.f2(med(scenario, i.key, 'serverCpuSeconds')),
          ...(extra
            ? [fmt.f2(med(scenario, i.key, 'redisCpuSeconds')), fmt.f2(med(scenario, i.key, 'clientCpuSeconds')), fmt.f2(med(scenario, i.key, 'coresBusy'))]
            : [])
        ])
    return table(['implementation', 'delivered events/s', 'p50 ms', 'p99 ms', 'max ms', 'not delivered (worst round)', 'streams ended by the server (worst)', 'server CPU µs/delivery', 'server CPU s',
      ...(extra ? ['Redis CPU s', 'client CPU s', 'cores busy'] : [])], rows)
  }

  function capacityTable () {
    const raw = med('capacity', 'node-http', 'eventsPerSecond')
    const rows = shown('capacity', implementations).map(i => !ran('capacity', i)
      ? failedRow('capacity', i, 10)
      : [
          i.label,
          fmt.int(med('capacity', i.key, 'eventsPerSecond')),
          fmt.pct(med('capacity', i.key, 'eventsPerSecond') / raw),
          fmt.f1(med('capacity', i.key, 'p50')),
          fmt.f1(med('capacity', i.key, 'p99')),
          fmt.f1(med('capacity', i.key, 'max')),
          worst('capacity', i.key, 'lost'),
          worst('capacity', i.key, 'closedByServer'),
          fmt.f1(med('capacity', i.key, 'cpuPerDelivery')),
          fmt.f2(med('capacity', i.key, 'serverCpuSeconds'))
        ])
    return table(['implementation', 'delivered events/s', 'of node:http', 'p50 ms', 'p99 ms', 'max ms', 'not delivered (worst round)', 'streams ended by the server (worst)', 'server CPU µs/delivery', 'server CPU s'], rows)
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
      worst('churn', i.key, 'alive'),
      worst('churn', i.key, 'failed')
    ])
    return table(['implementation', 'seconds', 'cycles/s', 'heap growth MB (after GC)', 'sources alive after (worst)', 'failed cycles (worst)'], rows)
  }

  /**
   * Validation cost per round. From the validation scenario when it ran (pairs of runs on one
   * server: the round's figure is the median of its pairs); otherwise from the throughput
   * scenario's two servers of the same round. Both on CPU time per event, and on the rate.
   */
  function validationCost () {
    const paired = list('validation', 'typed')
    const rounds = []
    if (paired.length > 0) {
      paired.forEach((v, i) => rounds.push({ round: v.round ?? i + 1, cpu: v.cost, wall: v.wallCost, sample: v }))
    } else {
      // Paired by round (a round whose sample of either server failed has no pair).
      const off = list('throughput-small', 'typed-novalidate')
      list('throughput-small', 'typed').forEach((on, i) => {
        const pair = on.round === undefined ? off[i] : off.find(o => o.round === on.round)
        if (pair === undefined) return
        rounds.push({ round: on.round ?? i + 1, cpu: on.cpuPerEvent / pair.cpuPerEvent - 1, wall: 1 - on.eventsPerSecond / pair.eventsPerSecond, on, off: pair })
      })
    }
    const cpu = rounds.map(r => r.cpu).filter(v => !none(v))
    const wall = rounds.map(r => r.wall).filter(v => !none(v))
    return {
      paired: paired.length > 0,
      rounds,
      cost: median(cpu),
      spread: cpu.length < 2 ? NaN : Math.max(...cpu) - Math.min(...cpu),
      wallCost: median(wall),
      wallSpread: wall.length < 2 ? NaN : Math.max(...wall) - Math.min(...wall)
    }
  }

  function validationTable () {
    const v = validationCost()
    const range = (q1, q3) => `${fmt.pct(q1)} to ${fmt.pct(q3)}`
    const rows = v.rounds.map(r => v.paired
      ? [`round ${r.round}`, fmt.f2(r.sample.cpuPerEventChecked), fmt.f2(r.sample.cpuPerEventUnchecked), fmt.pct(r.cpu), range(r.sample.costQ1, r.sample.costQ3), fmt.pct(r.wall), range(r.sample.wallQ1, r.sample.wallQ3)]
      : [`round ${r.round}`, fmt.f2(r.on.cpuPerEvent), fmt.f2(r.off.cpuPerEvent), fmt.pct(r.cpu), '', fmt.pct(r.wall), ''])
    rows.push(['**median of the rounds** (spread between them)', '', '', `**${fmt.pct(v.cost)}** (${fmt.pct(v.spread)})`, '', `${fmt.pct(v.wallCost)} (${fmt.pct(v.wallSpread)})`, ''])
    const method = v.paired
      ? `One server streams ${fmt.int(config.validation.events)} small events to one connection, validated and not in turn: ${config.validation.pairs} pairs of runs per round, the order alternating, after a warm-up of both. A pair's cost is the ratio of the server's CPU time per event; the round's figure is the median of its pairs (the quartiles of the pairs beside it). The wall-time figures (from the rates) are shown for comparison.`
      : 'From the throughput scenario: the typed server against the `validate: false` server of the same round, on the server\'s CPU time per event (median of the sample\'s runs), and on the rate.'
    return table(['round', 'validated: CPU µs/event', 'not validated: CPU µs/event', 'cost (CPU time)', 'pairs\' quartiles', 'cost (wall time)', 'pairs\' quartiles'], rows) + `\n\n${method}`
  }

  function processesTable () {
    return fanoutTable('processes', processVariants, true)
  }

  function hubTable () {
    const rows = shown('hub', hubVariants).map(i => !ran('hub', i)
      ? failedRow('hub', i, 13)
      : [
          i.label,
          fmt.int(med('hub', i.key, 'publishesPerSecond')),
          fmt.f1(med('hub', i.key, 'cpuPerPublish')),
          fmt.f1(med('hub', i.key, 'redisCpuPerPublish')),
          worst('hub', i.key, 'burstLost'),
          fmt.f1(med('hub', i.key, 'p50')),
          fmt.f1(med('hub', i.key, 'p99')),
          fmt.f1(med('hub', i.key, 'max')),
          worst('hub', i.key, 'lost'),
          fmt.f1(med('hub', i.key, 'replayMs')),
          fmt.f1(med('hub', i.key, 'replayCpuMs')),
          worst('hub', i.key, 'replayOutOfOrder'),
          worst('hub', i.key, 'publishFailures')
        ])
    return table(['hub', 'publishes/s', 'server CPU µs/publish', 'Redis CPU µs/publish', 'burst events lost', 'publish→delivery p50 ms', 'p99 ms', 'max ms', 'lost', `replay of ${fmt.int((config.hub?.replay.events ?? 1) - 1)}: ms`, 'replay: server CPU ms', 'replayed out of order', 'failed publishes'], rows)
  }

  function scaleTable (run) {
    const impls = (config.scale.keys ?? []).map(k => run.workers > 1 ? clustered(k, run.workers) : allImplementations.find(i => i.key === k)).filter(Boolean)
    const rows = shown(run.name, impls).map(i => !ran(run.name, i)
      ? failedRow(run.name, i, 13)
      : [
          i.label,
          list(run.name, i.key).at(-1).streamsPerProcess?.map(n => n.toLocaleString('en-US')).join(' / ') ?? '–',
          fmt.f1(med(run.name, i.key, 'openSeconds')),
          fmt.int(med(run.name, i.key, 'opensPerSecond')),
          fmt.kb(med(run.name, i.key, 'heapPerStream')),
          fmt.kb(med(run.name, i.key, 'rssPerStream')),
          fmt.int(med(run.name, i.key, 'heartbeatCpuMs')),
          fmt.f1(med(run.name, i.key, 'cpuPerHeartbeat')),
          fmt.int(med(run.name, i.key, 'heartbeatsSeen')),
          fmt.f1(med(run.name, i.key, 'p50')),
          fmt.f1(med(run.name, i.key, 'p99')),
          fmt.f1(med(run.name, i.key, 'max')),
          `${worst(run.name, i.key, 'lost')} / ${worst(run.name, i.key, 'closedByServer')}`
        ])
    const interval = (config.scale.heartbeatMs ?? 15_000) / 1000
    return table(['implementation', 'streams per process', 'open all: s', 'opened/s', 'heap KB/stream', 'RSS KB/stream', `heartbeat CPU ms per ${interval} s`, 'CPU µs/heartbeat', 'heartbeats seen', 'broadcast p50 ms', 'p99 ms', 'max ms', 'lost / ended (worst)'], rows)
  }

  /** One line per implementation, the figures the README quotes. */
  function headlineTable () {
    const rows = implementations.map(i => [
      i.label,
      fmt.int(med('throughput-small', i.key, 'eventsPerSecond')),
      fmt.int(med('throughput-large', i.key, 'eventsPerSecond')),
      bigFanout === undefined ? '–' : fmt.f1(med(bigFanout, i.key, 'p99')),
      `${fmt.int(med('capacity', i.key, 'eventsPerSecond'))} (${fmt.f1(med('capacity', i.key, 'p99'))} ms)`,
      fmt.kb(med('idle', i.key, 'heapPerConnection')),
      fmt.int(med('churn', i.key, 'cyclesPerSecond'))
    ])
    return table(['implementation', 'small events/s', '1 KB events/s', `fan-out p99 ms (${fanoutConfig.at(-1)?.subscribers ?? '–'})`,
      `capacity: delivered/s (p99) at ${fmt.int((config.capacity?.subscribers ?? 0) * 1000 / (config.capacity?.intervalMs ?? 1))} offered`, 'idle heap KB/conn', 'churn cycles/s'], rows)
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
      check(ours >= 1.5 * peer.v, `throughput, ${what}, typed and validated: ${(ours / peer.v).toFixed(2)}x the best peer (${peer.label}); target 1.5x`)
      check(ours >= 0.8 * raw, `throughput, ${what}: ${fmt.pct(ours / raw)} of node:http by hand; target 80%`)
    }
    if (samples.validation !== undefined || samples['throughput-small'] !== undefined) {
      const v = validationCost()
      const worstRound = Math.max(...v.rounds.map(r => r.cpu).filter(x => !none(x)))
      const spread = v.rounds.length < 2
        ? 'one round, so no spread to compare it with'
        : `rounds from ${fmt.pct(worstRound - v.spread)} to ${fmt.pct(worstRound)}, a spread of ${fmt.pct(v.spread)}, ${v.spread < Math.abs(v.cost) ? 'smaller than the cost' : 'not smaller than the cost itself'}`
      check(v.cost < 0.15 && worstRound < 0.15, `validation costs ${fmt.pct(v.cost)} of the server's CPU time per small event (${spread}${v.paired ? '; paired runs on one server' : '; separate servers'}); by wall time ${fmt.pct(v.wallCost)}${v.rounds.length < 2 ? '' : ` (spread ${fmt.pct(v.wallSpread)})`}; target under 15% in every round`)
    }
    if (bigFanout !== undefined && samples[bigFanout] !== undefined) {
      const n = fanoutConfig.at(-1).subscribers
      const ours = med(bigFanout, 'typed', 'p99')
      const peer = best(bigFanout, 'p99', (a, b) => a < b)
      const raw = med(bigFanout, 'node-http', 'p99')
      check(ours <= peer.v, `fan-out p99 at ${n} subscribers: ${fmt.f1(ours)} ms against the best peer's ${fmt.f1(peer.v)} ms (${peer.label})`)
      check(ours <= 1.1 * raw, `fan-out p99 at ${n} subscribers: ${(ours / raw).toFixed(2)}x node:http by hand (${fmt.f1(raw)} ms); target 1.1x`)
    }
    if (samples.idle !== undefined) {
      const ours = med('idle', 'typed', 'heapPerConnection')
      const floor = med('idle', 'fastify-hijack', 'heapPerConnection')
      check(ours <= floor + 2048, `idle heap per connection: ${fmt.kb(ours)} KB against plain Fastify's ${fmt.kb(floor)} KB + 2 KB`)
    }
    if (samples.capacity !== undefined) {
      const ours = med('capacity', 'typed', 'eventsPerSecond')
      const raw = med('capacity', 'node-http', 'eventsPerSecond')
      const peer = best('capacity', 'eventsPerSecond', (a, b) => a > b)
      check(ours >= 0.95 * raw, `fan-out capacity: ${fmt.int(ours)} delivered/s (p99 ${fmt.f1(med('capacity', 'typed', 'p99'))} ms), ${fmt.pct(ours / raw)} of node:http by hand (${fmt.int(raw)}/s, p99 ${fmt.f1(med('capacity', 'node-http', 'p99'))} ms); target 95%`)
      check(ours > peer.v, `fan-out capacity: ahead of every peer; the best, ${peer.label}, delivered ${fmt.int(peer.v)}/s (p99 ${fmt.f1(med('capacity', peers.find(p => p.label === peer.label)?.key, 'p99'))} ms)`)
    }
    return lines.join('\n')
  }

  // A section only for the scenarios that ran (BENCH_ONLY runs a few).
  const section = (scenario, title, body) => samples[scenario] === undefined && errors.every(e => e.scenario !== scenario)
    ? ''
    : `## ${title}\n\n${body()}${loadOf(scenario)}\n\n`
  const { machine, load } = results
  const date = results.date.replace('T', ' ').slice(0, 16) + ' UTC'
  const n = config.throughputEvents.toLocaleString('en-US')
  const cap = config.capacity
  const hub = config.hub
  const scaleRuns = config.scale?.runs ?? []
  const busy = load.before[0] > 0.5 || load.after[0] > 2.5
  const headline = ['throughput-small', 'throughput-large', 'validation', bigFanout, 'capacity', 'idle', 'churn'].some(x => samples[x] !== undefined)
  const offered = cap === undefined ? 0 : cap.subscribers * 1000 / cap.intervalMs
  const sections = [
    headline ? `## Headline\n\n${headlineTable()}\n\n## Targets (issues 5 and 13)\n\n${targets() || 'None of the scenarios the targets are checked on finished.'}\n\n` : '',
    section('throughput-small', `Throughput: one connection, ${n} small events (~64 B of JSON)`, () => throughputTable('throughput-small')),
    section('throughput-large', `Throughput: one connection, ${n} events of ~1 KB of JSON`, () => throughputTable('throughput-large')),
    samples.validation !== undefined || samples['throughput-small'] !== undefined
      ? section(samples.validation !== undefined ? 'validation' : 'throughput-small', 'Validation cost, small events, round by round', validationTable)
      : '',
    ...fanoutConfig.map(f => section(`fanout-${f.subscribers}`, `Fan-out: ${f.subscribers.toLocaleString('en-US')} subscribers, ${f.events} events broadcast every ${f.intervalMs} ms`, () => fanoutTable(`fanout-${f.subscribers}`))),
    cap && section('capacity', `Fan-out capacity: ${fmt.int(cap.subscribers)} subscribers offered ${1000 / cap.intervalMs} events/s each (${fmt.int(offered)} deliveries/s) for ${cap.events * cap.intervalMs / 1000} s`, () => capacityTable() +
      `\n\nEach event carries the time it was due; a server that cannot keep up sends late events at once, and their latency includes the wait. Delivered events/s is every delivery over the time from the first event's due time to the last delivery. *Not delivered* counts the events a stream had not received when the client stopped waiting, ${(cap.drainMs ?? 60_000) / 1000} s after the last broadcast; *streams ended by the server* those a server closed (none should).`),
    cap && section('processes', `Several processes: the capacity fan-out (${fmt.int(cap.subscribers)} subscribers, ${fmt.int(offered)} deliveries/s offered) on 1, 2 and 3 processes`, () => processesTable() +
      `\n\nSeveral processes share one port through node:cluster and each broadcast through Redis (the plugin's Redis hub; a Redis channel for node:http). Server CPU is all the server's processes together; *cores busy* is server, client and Redis CPU time over the scenario's wall time: near ${machine.cores}, the machine itself is the limit.`),
    hub && section('hub', 'The hub on each backend', () => hubTable() +
      `\n\n- Publishes/s: ${fmt.int(hub.burst.count)} publishes, at most ${hub.burst.inFlight} awaiting at a time, with one subscriber (on the other instance, for Redis) that must receive them all.\n` +
      `- Publish→delivery: ${fmt.int(hub.latency.subscribers)} subscribers, one event published every ${hub.latency.intervalMs} ms on instance A; on Redis the subscribers are on instance B, so each delivery crosses Redis.\n` +
      `- Replay: ${fmt.int(hub.replay.events)} events published, then a client connects (to B) with the first one's id as \`Last-Event-ID\` and reads the rest, each checked in order; median of ${hub.replay.runs}.`),
    ...scaleRuns.map(run => section(run.name, `Scale: ${fmt.int(run.streams)} streams, ${run.workers === 1 ? 'one process' : `${run.workers} processes (node:cluster, broadcasts through Redis)`}, ${run.clients} load client${run.clients === 1 ? '' : 's'}`, () => scaleTable(run) +
      `\n\nStreams are idle with a heartbeat every ${(config.scale.heartbeatMs ?? 15_000) / 1000} s. Memory is all the server's processes after GC, less what they held before the streams, per stream. Heartbeat CPU is the server's CPU time over ${config.scale.windowMs / 1000} s of idle streams, less the same server's CPU time before any stream opened, scaled to one interval; *heartbeats seen* counts the comment frames the clients read in that window. Then ${config.scale.broadcasts} broadcasts, each waited for until every stream had it: latency from publish to delivery over all deliveries.`)),
    section('idle', `Idle memory: ${config.idle.toLocaleString('en-US')} idle streams, heartbeat on (after GC)`, idleTable),
    section('churn', `Churn: ${config.churn.total.toLocaleString('en-US')} connect / read one event / disconnect cycles, ${config.churn.concurrency} at a time`, churnTable)
  ].filter(Boolean)
  return `# Benchmark results

Written by \`npm run bench\` (bench/run.mjs; method in [README.md](README.md))${results.quick ? ' with **BENCH_QUICK=1: a smoke run, not for comparison**' : ''}${results.only ? ` with BENCH_ONLY=${results.only.join(',')}: only those scenarios ran` : ''}${results.onlyImpls ? ` with BENCH_IMPLS=${results.onlyImpls.join(',')}` : ''}.

- Date: ${date}; the run took ${results.minutes.toFixed(1)} minutes${results.seconds === undefined ? '' : ` (${Object.entries(results.seconds).map(([k, v]) => `${k} ${Math.round(v)} s`).join(', ')})`}.
- Machine: ${machine.cores} cores, ${machine.cpuModel}, ${machine.memoryGB} GB; Node ${machine.node}, ${machine.platform}.
- Load average (1 min) before and after the run: ${load.before[0].toFixed(2)} and ${load.after[0].toFixed(2)}.${busy ? ` **Other work was sharing the ${machine.cores} cores** with the servers and the clients: the figures are for comparing implementations within this run, not for quoting.` : ''} Each section gives the load as its samples began.
- ${config.rounds} round(s) (the scale scenarios: ${config.scaleRounds ?? config.rounds}), implementations in a rotated order, reversed every other round; medians of the rounds shown.
  A throughput sample is the median of ${results.throughputRuns} back-to-back runs on one server process.
- Servers and clients are separate processes on the same machine, over loopback, HTTP/1.1.
- This plugin ran as: ${results.serverNames?.typed ?? '–'}.

${sections.join('')}\
${errors.length > 0 ? `## Failures\n\n${errors.map(e => `- ${e.scenario} / ${e.impl}: ${e.reason}`).join('\n')}\n` : ''}`.trimEnd() + '\n'
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const here = dirname(fileURLToPath(import.meta.url))
  const file = process.argv[2] ?? join(here, 'results.json')
  const results = JSON.parse(readFileSync(file, 'utf8'))
  // results.json gives RESULTS.md, results.quick.json gives RESULTS.quick.md.
  const out = basename(file).replace(/^results/, 'RESULTS').replace(/\.json$/, '.md')
  writeFileSync(join(here, out), render(results))
  console.log(`wrote bench/${out}`)
}
