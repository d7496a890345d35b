// The metrics example: its /metrics, scraped while real streams run, parsed as the Prometheus
// text exposition format, shows the streams open, events that grow, ends by reason, the hub's
// subscribers, and the stream durations observed from the diagnostics channel.
import t from 'tap'
import { buildMetrics } from '../examples/metrics/server.js'
import { rawGet } from './helpers/raw.js'
import { until } from './helpers/server.js'

interface Sample { name: string, labels: Record<string, string>, value: number }

/** Parses the text exposition format (version 0.0.4): every sample, and each metric's TYPE. */
function parseExposition (text: string): { samples: Sample[], types: Map<string, string> } {
  const samples: Sample[] = []
  const types = new Map<string, string>()
  for (const line of text.split('\n')) {
    if (line === '') continue
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line)
    if (type !== null) {
      types.set(type[1]!, type[2]!)
      continue
    }
    if (line.startsWith('# HELP ')) continue
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (sample === null) throw new Error(`not a sample line of the exposition format: ${JSON.stringify(line)}`)
    const labels: Record<string, string> = {}
    const rest = (sample[2] ?? '').replace(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g, (_all, name: string, value: string) => {
      labels[name] = value.replace(/\\(.)/g, (_escape, char: string) => char === 'n' ? '\n' : char)
      return ''
    })
    if (rest !== '') throw new Error(`labels not in the exposition format: ${JSON.stringify(sample[2])}`)
    samples.push({ name: sample[1]!, labels, value: Number(sample[3]) })
  }
  return { samples, types }
}

t.test('/metrics, scraped while streams run, counts them as the clients see them', async t => {
  const app = await buildMetrics({ logger: false, intervalMs: 50 })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  const scrape = async (): Promise<{ value: (name: string, labels?: Record<string, string>) => number | undefined, types: Map<string, string> }> => {
    const response = await fetch(`http://127.0.0.1:${port}/metrics`)
    t.match(response.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
    const { samples, types } = parseExposition(await response.text())
    const value = (name: string, labels: Record<string, string> = {}): number | undefined => samples.find(sample =>
      sample.name === name && Object.keys(labels).length === Object.keys(sample.labels).length &&
      Object.entries(labels).every(([key, v]) => sample.labels[key] === v))?.value
    return { value, types }
  }

  const ticks = await Promise.all([rawGet(port, '/ticks'), rawGet(port, '/ticks'), rawGet(port, '/ticks')])
  const news = await rawGet(port, '/news')
  t.teardown(() => { for (const client of [...ticks, news]) client.close() })
  await Promise.all(ticks.map(async client => await client.waitFor(() => client.events.length >= 2, 'two ticks')))

  const first = await scrape()
  t.equal(first.types.get('sse_open_streams'), 'gauge')
  t.equal(first.types.get('sse_events_total'), 'counter')
  t.equal(first.types.get('sse_stream_duration_seconds'), 'histogram')
  t.equal(first.value('sse_open_streams', { route: 'GET /ticks' }), 3, 'the open-stream gauge equals the streams open')
  t.equal(first.value('sse_open_streams', { route: 'GET /news' }), 1)
  t.equal(first.value('sse_hub_subscribers', { topic: 'news' }), 1)
  t.equal(first.value('sse_hub_backend_up'), 1)
  const events = first.value('sse_events_total')!
  t.ok(events >= 6, 'at least the ticks the clients have seen')

  // Events keep coming: the counter grows between scrapes.
  const seen = ticks[0]!.events.length
  await ticks[0]!.waitFor(() => ticks[0]!.events.length >= seen + 2, 'two more ticks')
  await news.waitFor(() => news.events.length >= 1, 'a news item')
  const second = await scrape()
  t.ok(second.value('sse_events_total')! > events, 'the event counter increased')
  t.ok(second.value('sse_bytes_total')! > 0)
  t.ok(second.value('sse_hub_published_total')! >= 1)

  // Two clients leave: the gauge drops, their ends are counted by reason, their durations observed.
  ticks[0]!.close()
  ticks[1]!.close()
  await until(() => app.sse.stats().streams.open === 2, 'the two streams to end')
  const third = await scrape()
  t.equal(third.value('sse_open_streams', { route: 'GET /ticks' }), 1)
  t.equal(third.value('sse_streams_ended_total', { reason: 'client-gone' }), 2)
  t.equal(third.value('sse_streams_ended_total', { reason: 'overflow' }), 0)
  t.equal(third.value('sse_stream_duration_seconds_count', { route: 'GET /ticks', reason: 'client-gone' }), 2)
  t.equal(third.value('sse_stream_duration_seconds_bucket', { route: 'GET /ticks', reason: 'client-gone', le: '+Inf' }), 2)
})
