// Opens an SSE route of an app under test and collects its events, typed by the same map as
// the server: the first N, up to a named event, or whatever arrives before a time-out.
import type { FastifyInstance } from 'fastify'
import { sseClient, type ClientEvent, type SseClient, type SseClientOptions, type UntypedClientEvent } from '../client/index.js'
import type { EventMap } from '../events.js'
import { appUrl } from './address.js'
import { nodeFetch } from './fetch.js'

/** Why collecting stopped. */
export type CollectEnd =
  /** `count` events arrived. */
  | 'count'
  /** The event named by `until` arrived. */
  | 'until'
  /** `timeout` milliseconds passed. */
  | 'timeout'
  /** The server ended the stream. */
  | 'end'

/** Options of `collectEvents()`; the client options it passes on are those of `sseClient()`. */
export interface CollectOptions<M extends EventMap = EventMap>
  extends Pick<SseClientOptions<M>, 'events' | 'headers' | 'method' | 'body' | 'lastEventId' | 'validate' | 'onInvalidEvent' | 'fetch'> {
  /** Stop after this many events. */
  count?: number | undefined
  /**
   * Stop at the first event with this name (or for which the function returns true); that
   * event is the last one collected.
   */
  until?: (keyof M & string) | ((event: ClientEvent<M>) => boolean) | undefined
  /**
   * Milliseconds to wait in all. With `count` or `until`, running out of time is an error;
   * without them, it is how collecting ends (along with the server ending the stream).
   * @defaultValue 5000
   */
  timeout?: number | undefined
}

export interface Collected<E> {
  /** The events, in order. */
  events: E[]
  /** The last event id received: pass it as `lastEventId` to test a resume. */
  lastEventId: string | undefined
  endedBy: CollectEnd
}

/** Collecting ended before `count` events or the `until` event. */
export class CollectError<E = unknown> extends Error {
  readonly code = 'FST_SSE_TESTING_INCOMPLETE'
  /** What did arrive. */
  readonly events: E[]
  readonly endedBy: CollectEnd

  constructor (message: string, events: E[], endedBy: CollectEnd) {
    super(message)
    this.name = 'CollectError'
    this.events = events
    this.endedBy = endedBy
  }
}

const DEFAULT_TIMEOUT = 5000

/**
 * Opens `path` on `target` (an app, started on a loopback port if it is not listening, or a
 * base URL) and collects its events; then closes the connection. It does not reconnect: the
 * server ending the stream ends the collection. Rejects with `CollectError`
 * (`FST_SSE_TESTING_INCOMPLETE`) when `count` or `until` is not reached, and with the client's
 * `SseClientError` for a bad response or an invalid event.
 *
 * @example
 * const { events, lastEventId } = await collectEvents(app, '/clock', { events: clockEvents, count: 3 })
 * const resumed = await collectEvents(app, '/clock', { events: clockEvents, lastEventId, until: 'end' })
 */
export async function collectEvents<const M extends EventMap> (target: FastifyInstance | string | URL, path: string, options: CollectOptions<M> & { events: M }): Promise<Collected<ClientEvent<M>>>
export async function collectEvents (target: FastifyInstance | string | URL, path: string, options?: CollectOptions & { events?: undefined }): Promise<Collected<UntypedClientEvent>>
export async function collectEvents (target: FastifyInstance | string | URL, path: string, options: CollectOptions = {}): Promise<Collected<UntypedClientEvent>> {
  const { count, until, timeout = DEFAULT_TIMEOUT, ...clientOptions } = options
  if (count !== undefined && (!Number.isInteger(count) || count < 1)) throw invalid('count', 'a positive integer', count)
  if (timeout !== undefined && (!Number.isInteger(timeout) || timeout < 0)) throw invalid('timeout', 'a non-negative integer of milliseconds', timeout)
  if (until !== undefined && typeof until !== 'string' && typeof until !== 'function') throw invalid('until', 'an event name or a function', until)
  const base = typeof target === 'string' || target instanceof URL ? target : await appUrl(target)
  const url = new URL(path, base)
  const stop = typeof until === 'string' ? (event: UntypedClientEvent) => event.event === until : until

  const controller = new AbortController()
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    controller.abort()
  }, timeout)
  // A map or none, known only at run time here: the overloads type the caller's side.
  const client: SseClient<UntypedClientEvent> = sseClient(url, {
    fetch: nodeFetch, ...clientOptions, signal: controller.signal, reconnect: false
  } as SseClientOptions & { events: EventMap })
  const events: UntypedClientEvent[] = []
  let endedBy: CollectEnd | undefined
  try {
    for await (const event of client) {
      events.push(event)
      if (count !== undefined && events.length >= count) endedBy = 'count'
      else if (stop?.(event) === true) endedBy = 'until'
      if (endedBy !== undefined) break
    }
  } finally {
    clearTimeout(timer)
    controller.abort()
  }
  endedBy ??= timedOut ? 'timeout' : 'end'
  if ((count !== undefined || until !== undefined) && (endedBy === 'timeout' || endedBy === 'end')) {
    const wanted = count !== undefined ? `${count} event${count === 1 ? '' : 's'}` : typeof until === 'string' ? `an event "${until}"` : 'the `until` event'
    const why = endedBy === 'end' ? 'the server ended the stream' : `${timeout} ms passed`
    const got = events.length === 0 ? 'nothing' : `${events.length} (${events.map(e => e.event).join(', ')})`
    throw new CollectError(`fastify-typed-sse/testing: expected ${wanted} from ${url.pathname}, got ${got} before ${why}`, events, endedBy)
  }
  return { events, lastEventId: client.lastEventId, endedBy }
}

function invalid (option: string, expected: string, got: unknown): TypeError {
  return new TypeError(`fastify-typed-sse/testing: option "${option}" must be ${expected}, got ${JSON.stringify(got)}`)
}
