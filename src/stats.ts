// What `fastify.sse.stats()` returns, and the counters behind it. The hot paths only increment
// numbers (per event: one on the stream itself); everything else (open streams per route,
// subscribers per topic, the longest queue) is computed when stats() is called, by walking the
// live streams and subscribers once, without copying them.
import { STREAM_END_REASONS, type SseStreamEndReason } from './diagnostics.js'

/** `fastify.sse.stats()`: a snapshot of this plugin instance's streams and hub. */
export interface SseStats {
  streams: SseStreamStats
  hub: SseHubStats
}

/** `fastify.sse.stats()`. */
export interface SseStatsApi {
  /**
   * A snapshot of this plugin instance's streams and hub, computed on call: counters since
   * register, and what is open now. Cheap enough to scrape every second with thousands of
   * streams (one walk over the open streams and subscribers, no copies).
   */
  stats (): SseStats
}

/** The streams of this plugin instance (every route, `reply.sse()` and `sse` option alike). */
export interface SseStreamStats {
  /** Streams whose response has started and not yet ended. */
  open: number
  /** `open`, per route (`METHOD url-pattern`, like `GET /rooms/:room`); routes with none are left out. */
  openByRoute: Record<string, number>
  /** Events sent since the plugin was registered, by ended and open streams (see `SseStreamEndMessage.events`). */
  events: number
  /** Bytes written since the plugin was registered (UTF-8, heartbeats included, HTTP framing not). */
  bytes: number
  /** Events not sent because they were invalid (whatever the `onInvalidEvent` policy). */
  invalidEvents: number
  /** Sources that threw after their stream started. */
  sourceErrors: number
  /** Streams ended, by reason; every reason is present (0 when none). */
  ended: Record<SseStreamEndReason, number>
}

/** State of the hub's store. */
export type HubBackendState =
  /** Reachable (always, in memory). */
  | 'up'
  /** Redis is unreachable: publishes reject, subscribers wait for it (their streams stay open). */
  | 'down'
  /** The hub is closed (`fastify.close()`). */
  | 'closed'

/** The broadcast hub of this plugin instance, as this process sees it. */
export interface SseHubStats {
  backend: 'memory' | 'redis'
  state: HubBackendState
  /** Topics with at least one subscriber in this process. */
  topics: number
  /** Subscribers in this process (a stream of several topics is one subscriber). */
  subscribers: number
  /** Subscribers per topic (a stream of several topics counts in each). */
  subscribersByTopic: Record<string, number>
  /** Events queued for the slowest subscriber (its client is that far behind); 0 without subscribers. */
  longestQueue: number
  /** Events published from this process (a repeated `idempotencyKey` counts again). */
  published: number
  /** Events that found a subscriber's queue full (each ended a stream, or dropped an event). */
  overflows: number
  /** `reset` events sent: clients whose position could not be resumed. */
  resets: number
  /** On Redis, how long entries take from their publish to this process's fan-out; undefined in memory. */
  lag: SseHubLag | undefined
}

/**
 * Time from publish to local fan-out, measured from the event id's timestamp (milliseconds of
 * Redis's clock when it stored the event) to this process's clock when its reader hands the
 * event to its subscribers. Includes any skew between the two clocks; after an outage, events
 * caught up show the outage's length.
 */
export interface SseHubLag {
  /** Of the last event fanned out; undefined before the first. */
  lastMs: number | undefined
  /** The largest over the last 10 to 20 seconds (0 when no event came in that time). */
  maxMs: number
  /** Events fanned out since the plugin was registered. */
  count: number
  /** Sum of their lags: with `count`, gives the mean over any interval (as a Prometheus summary does). */
  totalMs: number
}

/** Counters of a plugin instance's streams, kept by its registry. */
export class StreamCounters {
  invalidEvents = 0
  sourceErrors = 0
  /** Events and bytes of the streams that have ended (open ones are added at snapshot). */
  events = 0
  bytes = 0
  readonly ended = Object.fromEntries(STREAM_END_REASONS.map(reason => [reason, 0])) as Record<SseStreamEndReason, number>

  recordEnd (reason: SseStreamEndReason, events: number, bytes: number): void {
    this.ended[reason]++
    this.events += events
    this.bytes += bytes
  }
}

/** Counters of a hub. */
export class HubCounters {
  published = 0
  overflows = 0
  resets = 0
}

// The window of `maxMs`: the current bucket and the one before it.
const LAG_BUCKET_MS = 10_000

/** Measures the lag of entries fanned out (see SseHubLag). */
export class LagMeter {
  private last: number | undefined
  private count = 0
  private total = 0
  private bucket = 0
  private bucketMax = 0
  private previousMax = 0

  /** An entry with this id is being fanned out now. */
  record (id: string): void {
    const now = Date.now()
    // The id is `<milliseconds>-<sequence>`: parseInt stops at the dash.
    const lag = Math.max(0, now - parseInt(id, 10))
    this.last = lag
    this.count++
    this.total += lag
    this.roll(now)
    if (lag > this.bucketMax) this.bucketMax = lag
  }

  snapshot (): SseHubLag {
    this.roll(Date.now())
    return { lastMs: this.last, maxMs: Math.max(this.bucketMax, this.previousMax), count: this.count, totalMs: this.total }
  }

  private roll (now: number): void {
    const bucket = Math.floor(now / LAG_BUCKET_MS)
    if (bucket === this.bucket) return
    this.previousMax = bucket === this.bucket + 1 ? this.bucketMax : 0
    this.bucketMax = 0
    this.bucket = bucket
  }
}

/** An object for counts by name: no prototype, so a topic named `__proto__` is just a key. */
export function counts (): Record<string, number> {
  return Object.create(null) as Record<string, number>
}
