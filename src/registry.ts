// The streams of one plugin instance, from the moment `reply.sse()` is called until the stream
// ends: what `maxStreams` counts, and what `fastify.close()` ends. A stream whose source is still
// starting counts too: it holds a socket, and close() must not miss it.
import type { FastifyRequest } from 'fastify'
import { tooManyStreams } from './errors.js'
import { counts, StreamCounters, type SseStreamStats } from './stats.js'

/** A stream as the registry sees it, starting or running. */
export interface TrackedStream {
  /**
   * Ends the stream now (a stream still starting answers with an empty stream and never
   * starts). Resolves once its source has cleaned up and its response is over.
   */
  close (): Promise<void>
  /** Drops the connection if the response has not finished: a client that does not read. */
  destroy (): void
  /** `METHOD url-pattern` once its response has started; undefined before. */
  readonly route: string | undefined
  /** Events sent so far. */
  readonly events: number
  /** Bytes written so far. */
  readonly bytes: number
}

/** The `Retry-After` (seconds) of a 503 when a limit is reached. */
export const RETRY_AFTER_SECONDS = 5

// The key of a route: its config object, which Fastify makes once per route.
const NO_ROUTE = {}

export class StreamRegistry {
  /** True once `fastify.close()` has begun: a stream that starts now ends at once. */
  closing = false
  /** What stats() adds up; streams count their own events and bytes until they end. */
  readonly counters = new StreamCounters()
  private readonly streams = new Map<TrackedStream, object>()
  private readonly perRoute = new WeakMap<object, number>()

  /** `maxStreams` of the plugin instance; undefined for no limit. */
  constructor (private readonly maxStreams: number | undefined) {}

  /**
   * Counts `stream` in, or throws `FST_SSE_TOO_MANY_STREAMS` (503) when the instance or the
   * route (`routeLimit`) is full.
   */
  admit (stream: TrackedStream, request: FastifyRequest, routeLimit: number | undefined): void {
    if (this.maxStreams !== undefined && this.streams.size >= this.maxStreams) {
      throw tooManyStreams('the app', this.maxStreams, RETRY_AFTER_SECONDS)
    }
    const route = request.routeOptions.config ?? NO_ROUTE
    const onRoute = this.perRoute.get(route) ?? 0
    if (routeLimit !== undefined && onRoute >= routeLimit) throw tooManyStreams('this route', routeLimit, RETRY_AFTER_SECONDS)
    this.perRoute.set(route, onRoute + 1)
    this.streams.set(stream, route)
  }

  /** Counts `stream` out: it ended, or its client left. Safe to call more than once. */
  release (stream: TrackedStream): void {
    const route = this.streams.get(stream)
    if (route === undefined) return
    this.streams.delete(stream)
    this.perRoute.set(route, this.perRoute.get(route)! - 1)
  }

  /** The streams part of `fastify.sse.stats()`: walks the live streams once, copying nothing. */
  stats (): SseStreamStats {
    const { counters } = this
    let open = 0
    let events = counters.events
    let bytes = counters.bytes
    const openByRoute = counts()
    for (const stream of this.streams.keys()) {
      const route = stream.route
      if (route === undefined) continue
      open++
      openByRoute[route] = (openByRoute[route] ?? 0) + 1
      events += stream.events
      bytes += stream.bytes
    }
    return {
      open,
      openByRoute,
      events,
      bytes,
      invalidEvents: counters.invalidEvents,
      sourceErrors: counters.sourceErrors,
      ended: { ...counters.ended }
    }
  }

  /**
   * Ends every stream (starting ones included) and waits, at most `grace` ms, for their sources'
   * `finally` blocks and for their responses to reach the socket; then drops the connections of
   * those that have not, so neither a source that ignores its signal nor a client that does not
   * read can hold `fastify.close()`.
   */
  async close (grace: number): Promise<void> {
    this.closing = true
    const streams = [...this.streams.keys()]
    if (streams.length === 0) return
    let timer: NodeJS.Timeout | undefined
    const expired = new Promise<void>(resolve => { timer = setTimeout(resolve, grace) })
    await Promise.race([Promise.all(streams.map(stream => stream.close())), expired])
    clearTimeout(timer)
    for (const stream of streams) stream.destroy()
  }
}
