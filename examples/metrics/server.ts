// Streams as Prometheus metrics: `npm run example:metrics`, then open a few streams and scrape:
//   curl -N http://localhost:3000/ticks &      (a stream of a tick a second)
//   curl -N http://localhost:3000/news &       (a hub topic, published to every 2 s)
//   curl http://localhost:3000/metrics
// No page: what it shows is the /metrics text a Prometheus server scrapes.
//
// Two sources, as you would wire them in your app:
// - `app.sse.stats()`, read once per scrape: open streams per route, totals of events, bytes and
//   ends by reason, the hub's subscribers, queues, overflows, resets, Redis state and lag. Totals
//   that only grow are exported as counters (set to the snapshot's value at each scrape).
// - the `fastify-typed-sse:stream:end` diagnostics channel: each stream's duration, observed
//   into a histogram as it ends (a snapshot cannot give a distribution).
import Fastify, { type FastifyServerOptions } from 'fastify'
import { Type } from '@sinclair/typebox'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { setTimeout as sleep } from 'node:timers/promises'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import ssePlugin, { SSE_CHANNELS, type SseStats, type SseStreamEndMessage } from 'fastify-typed-sse'

const tickEvents = { tick: Type.Object({ n: Type.Integer({ minimum: 0 }) }) }
const newsEvents = { news: Type.Object({ text: Type.String() }) }

export interface MetricsOptions {
  logger?: FastifyServerOptions['logger']
  /** Milliseconds between ticks of /ticks, and between news items (twice that). */
  intervalMs?: number
  /** Redis URL for the hub; in memory without it. */
  redis?: string | undefined
}

export async function buildMetrics ({ logger = process.env.NODE_ENV !== 'test', intervalMs = 1000, redis = process.env.REDIS_URL }: MetricsOptions = {}) {
  const app = Fastify({ logger })
  await app.register(ssePlugin, { hub: { redis } })

  app.get('/ticks', { sse: { events: tickEvents } }, async function * (_request, _reply, { signal }) {
    for (let n = 0; ; n++) {
      yield { event: 'tick', data: { n } }
      await sleep(intervalMs, undefined, { signal })
    }
  })
  const news = app.sse.topic('news', { events: newsEvents })
  app.get('/news', (_request, reply) => reply.sse(news.subscribe()))
  const publisher = setInterval(() => {
    news.publish({ event: 'news', data: { text: `at ${new Date().toISOString()}` } }).catch((err: unknown) => app.log.warn({ err }, 'a news item was not published'))
  }, intervalMs * 2)
  publisher.unref()
  app.addHook('onClose', async () => clearInterval(publisher))

  // A registry of its own (not prom-client's global one), so two apps in one process (tests)
  // do not share metrics. Add `collectDefaultMetrics({ register })` for the process's own.
  const register = new Registry()
  const metrics = sseMetrics(register)
  // Each stream's duration, from the channel: one observation as each stream ends.
  const onEnd = (message: unknown): void => {
    const { route, reason, durationMs } = message as SseStreamEndMessage
    metrics.duration.observe({ route, reason }, durationMs / 1000)
  }
  subscribe(SSE_CHANNELS.streamEnd, onEnd)
  app.addHook('onClose', async () => { unsubscribe(SSE_CHANNELS.streamEnd, onEnd) })

  app.get('/metrics', async (_request, reply) => {
    metrics.update(app.sse.stats())
    return await reply.type(register.contentType).send(await register.metrics())
  })
  return app
}

/** The metrics, and how a stats() snapshot sets them. */
function sseMetrics (register: Registry) {
  const registers = [register]
  const gauge = (name: string, help: string, labelNames: string[] = []) => new Gauge({ name, help, labelNames, registers })
  const counter = (name: string, help: string, labelNames: string[] = []) => new Counter({ name, help, labelNames, registers })
  const open = gauge('sse_open_streams', 'Streams open now, by route', ['route'])
  const events = counter('sse_events_total', 'Events sent')
  const bytes = counter('sse_bytes_total', 'Bytes written to streams')
  const invalid = counter('sse_invalid_events_total', 'Events not sent because they were invalid')
  const sourceErrors = counter('sse_source_errors_total', 'Sources that threw after their stream started')
  const ended = counter('sse_streams_ended_total', 'Streams ended, by reason', ['reason'])
  const subscribers = gauge('sse_hub_subscribers', 'Hub subscribers in this process, by topic', ['topic'])
  const longestQueue = gauge('sse_hub_longest_queue', 'Events queued for the slowest hub subscriber')
  const published = counter('sse_hub_published_total', 'Events published to the hub from this process')
  const overflows = counter('sse_hub_overflows_total', 'Events that found a subscriber\'s queue full')
  const resets = counter('sse_hub_resets_total', 'Reset events sent to clients that could not resume')
  const backendUp = gauge('sse_hub_backend_up', '1 when the hub\'s store is reachable, else 0')
  const lagMax = gauge('sse_hub_lag_max_seconds', 'Largest publish-to-fan-out lag over the last 10 to 20 s (Redis)')
  const duration = new Histogram({
    name: 'sse_stream_duration_seconds',
    help: 'How long streams lasted, by route and end reason',
    labelNames: ['route', 'reason'],
    buckets: [0.1, 1, 10, 60, 300, 1800, 3600, 4 * 3600],
    registers
  })

  /** A counter set to a total that only grows (a snapshot's), rather than incremented. */
  const total = (metric: Counter, value: number, labels: Record<string, string> = {}): void => {
    metric.remove(labels)
    metric.inc(labels, value)
  }

  return {
    duration,
    update (stats: SseStats): void {
      const { streams, hub } = stats
      // Reset first: a route (or topic) with nothing open any more must drop to 0, not stay.
      open.reset()
      for (const [route, count] of Object.entries(streams.openByRoute)) open.set({ route }, count)
      total(events, streams.events)
      total(bytes, streams.bytes)
      total(invalid, streams.invalidEvents)
      total(sourceErrors, streams.sourceErrors)
      for (const [reason, count] of Object.entries(streams.ended)) total(ended, count, { reason })
      // One label per topic: fine for a few rooms, not for a topic per user (use a total then).
      subscribers.reset()
      for (const [topic, count] of Object.entries(hub.subscribersByTopic)) subscribers.set({ topic }, count)
      longestQueue.set(hub.longestQueue)
      total(published, hub.published)
      total(overflows, hub.overflows)
      total(resets, hub.resets)
      backendUp.set(hub.state === 'up' ? 1 : 0)
      lagMax.set((hub.lag?.maxMs ?? 0) / 1000)
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const app = await buildMetrics()
  await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? 'localhost' })
}
