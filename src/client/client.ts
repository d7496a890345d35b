// The connection loop: fetch, check the response, parse the stream, decode and check each event,
// and reconnect with `Last-Event-ID` after a backoff. Uses only what browsers and Node 20 both
// have (fetch, streams, TextDecoder, AbortController, performance.now).
import type { EventMap } from '../events.js'
import { backoffDelay, clampRetry, retryAfterDelay } from './backoff.js'
import { createDecoder, type Decoder } from './decode.js'
import { badResponse, eventTooLarge, heartbeatTimeout, networkError, SseClientError } from './errors.js'
import { resolveOptions, type ClientSettings } from './options.js'
import { createParser, type Frame, type Parser } from './parse.js'
import { buildRequest } from './request.js'
import type { ClientEvent, FetchLike, SseClient, SseClientOptions, SseClientStatus, UntypedClientEvent } from './types.js'
import { startWatchdog } from './watchdog.js'

/**
 * A connection that delivered an event, or stayed open this long, was healthy: the next
 * reconnect starts the backoff again from its first attempt.
 */
const HEALTHY_AFTER = 5000

/**
 * Statuses that say "try again later": a request timeout, too many requests, and the errors a
 * server or its proxy gives while it restarts or is overloaded. Retried with the backoff (or
 * the response's `Retry-After`); any other status would fail the same way again.
 */
const RETRYABLE = new Set([408, 429, 500, 502, 503, 504])

/**
 * Opens a Server-Sent Events stream with `fetch` and yields its events, typed and checked by
 * `events` (the same map the server uses). Iterating connects; `break`, `return` or aborting
 * `signal` closes the connection. When the stream ends, the network fails, the connection falls
 * silent (`heartbeatTimeout`) or the server answers "try again later", it reconnects after a
 * backoff (exponential, with jitter, based on the server's `retry:`), sending `Last-Event-ID`.
 * `client.status` (and `onStatus`) tells where it is.
 *
 * Errors (thrown by the iterator, which closes the connection), all `SseClientError`s:
 * - `FST_SSE_CLIENT_BAD_RESPONSE`: not a `200` `text/event-stream` response, with a status that
 *   retrying would not change; a `204` ends the iteration quietly instead (the server's way of
 *   saying "do not reconnect").
 * - `FST_SSE_CLIENT_INVALID_EVENT`, `FST_SSE_CLIENT_UNKNOWN_EVENT`, `FST_SSE_CLIENT_SERVER_ERROR`:
 *   unless `onInvalidEvent` is given, which receives them while the stream goes on.
 * - `FST_SSE_CLIENT_EVENT_TOO_LARGE`, `FST_SSE_CLIENT_INVALID_REQUEST`,
 *   `FST_SSE_CLIENT_VALIDATOR_UNAVAILABLE`; and with `reconnect: false`, the failures that are
 *   otherwise retried (`FST_SSE_CLIENT_NETWORK_ERROR`, `FST_SSE_CLIENT_HEARTBEAT_TIMEOUT`, a
 *   retryable `FST_SSE_CLIENT_BAD_RESPONSE`).
 *
 * An error thrown by one of your callbacks ends the iteration as it is.
 *
 * @example
 * for await (const ev of sseClient('/clock', { events: { tick: Type.Object({ now: Type.String() }) } })) {
 *   if (ev.event === 'tick') console.log(ev.data.now)
 * }
 */
export function sseClient<const M extends EventMap> (url: string | URL, options: SseClientOptions<M> & { events: M }): SseClient<ClientEvent<M>>
export function sseClient (url: string | URL, options?: SseClientOptions & { events?: undefined }): SseClient<UntypedClientEvent>
export function sseClient (url: string | URL, options: SseClientOptions = {}): SseClient<UntypedClientEvent> {
  const settings = resolveOptions(options)
  const state: ClientState = { lastEventId: options.lastEventId, status: { state: 'closed', reason: 'initial' } }
  return {
    get lastEventId () { return state.lastEventId },
    get status () { return state.status },
    [Symbol.asyncIterator]: () => run(url, options, settings, state)
  }
}

interface ClientState {
  lastEventId: string | undefined
  status: SseClientStatus
}

/** How a connection ended, when the iteration does not end with an error. */
type Outcome =
  /** The caller's signal aborted, or the server answered 204. */
  | { stop: 'aborted' | 'ended' }
  /** Connect again (unless `reconnect: false`); `error` is undefined for a clean end. */
  | { stop?: undefined, error: SseClientError | undefined, retryAfter?: number | undefined, healthy: boolean }

/** What one iteration shares between its connections. */
interface Iteration {
  url: string | URL
  options: SseClientOptions
  settings: ClientSettings
  state: ClientState
  fetch: FetchLike
  decoder: Promise<Decoder>
  parser: Parser
  /** Frames the parser found in the latest chunk, not yet yielded. */
  frames: Frame[]
  /** The size that went over `maxEventSize`, once it did. */
  tooLarge: number | undefined
  aborted (): boolean
}

async function * run (url: string | URL, options: SseClientOptions, settings: ClientSettings, state: ClientState): AsyncGenerator<UntypedClientEvent> {
  const { signal } = options
  const setStatus = (status: SseClientStatus): void => {
    state.status = status
    options.onStatus?.(status)
  }
  // The server's `retry:` replaces the option for the rest of the iteration, as in EventSource.
  let base = settings.retry
  const it: Iteration = {
    url,
    options,
    settings,
    state,
    fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    // Loaded while the first request is on its way. A failure is seen when the stream opens.
    decoder: createDecoder(settings.events, settings.validate),
    parser: createParser(settings.maxEventSize, {
      onFrame: (frame) => it.frames.push(frame),
      onRetry: (ms) => { base = ms },
      onComment: (text) => options.onComment?.(text),
      onTooLarge: (size) => { it.tooLarge = size }
    }),
    frames: [],
    tooLarge: undefined,
    // A function, not a narrowed property: the signal may abort during any await.
    aborted: () => signal?.aborted === true
  }
  it.decoder.catch(() => undefined)
  let closed: SseClientStatus | undefined
  let attempt = 0
  try {
    while (!it.aborted()) {
      setStatus({ state: 'connecting', attempt })
      const outcome = yield * connect(it, setStatus)
      if (outcome.stop !== undefined) {
        closed = { state: 'closed', reason: outcome.stop }
        return
      }
      if (!settings.reconnect) {
        if (outcome.error !== undefined) throw outcome.error
        closed = { state: 'closed', reason: 'ended' }
        return
      }
      attempt = outcome.healthy ? 1 : attempt + 1
      const delay = outcome.retryAfter ?? backoffDelay(attempt, clampRetry(base, settings), settings)
      const lastEventId = state.lastEventId === '' ? undefined : state.lastEventId
      const info = { attempt, delay, at: Date.now() + delay, lastEventId, error: outcome.error }
      setStatus({ state: 'reconnecting', ...info })
      options.onReconnect?.(info)
      if (!await sleep(delay, signal)) break
    }
    closed = { state: 'closed', reason: 'aborted' }
  } catch (error) {
    closed = { state: 'closed', reason: 'error', error }
    throw error
  } finally {
    // No status was set when the caller left the loop at a `yield`.
    setStatus(closed ?? { state: 'closed', reason: it.aborted() ? 'aborted' : 'done' })
  }
}

/** One connection: yields its events, returns how it ended, throws what ends the iteration. */
async function * connect (it: Iteration, setStatus: (status: SseClientStatus) => void): AsyncGenerator<UntypedClientEvent, Outcome> {
  const { options, settings, state, frames } = it
  // One controller per connection, so ending it (watchdog, break, throw, abort) cancels the
  // request and its body without touching the caller's signal.
  const controller = new AbortController()
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined
  // Also cancels the reader: a `fetch` option that ignores the signal must not hold us.
  const close = (): void => {
    controller.abort()
    reader?.cancel().catch(() => undefined)
  }
  const closing = new Promise<never>((_resolve, reject) => {
    controller.signal.addEventListener('abort', () => reject(new Error('closed')), { once: true })
  })
  closing.catch(() => undefined)
  options.signal?.addEventListener('abort', close, { once: true })
  let timedOut = false
  const watchdog = settings.heartbeatTimeout > 0
    ? startWatchdog(settings.heartbeatTimeout, () => { timedOut = true; close() })
    : undefined
  let openedAt: number | undefined
  let delivered = false
  const healthy = (): boolean => delivered || (openedAt !== undefined && performance.now() - openedAt >= HEALTHY_AFTER)
  // The network failed, the watchdog closed the connection, or the caller aborted.
  const failed = (cause: unknown): Outcome => it.aborted()
    ? { stop: 'aborted' }
    : { error: timedOut ? heartbeatTimeout(settings.heartbeatTimeout) : networkError(cause), healthy: healthy() }
  try {
    const { input, init } = await buildRequest(it.url, options, state.lastEventId, controller.signal)
    watchdog?.waiting()
    let response: Response
    try {
      response = await Promise.race([it.fetch(input, init), closing])
    } catch (err) {
      return failed(err)
    }
    watchdog?.idle()
    if (response.status === 204) return { stop: 'ended' }
    const contentType = response.headers.get('content-type')
    if (response.status !== 200 || !isEventStream(contentType) || response.body === null) {
      const error = badResponse(response.status, contentType)
      if (!RETRYABLE.has(response.status)) throw error
      return { error, retryAfter: retryAfterDelay(response.headers.get('retry-after'), settings), healthy: false }
    }
    openedAt = performance.now()
    setStatus({ state: 'open' })
    options.onOpen?.(response)
    const decode = await it.decoder
    reader = response.body.getReader()
    const text = new TextDecoder()
    it.parser.reset()
    for (;;) {
      watchdog?.waiting()
      let chunk: ReadableStreamReadResult<Uint8Array>
      try {
        chunk = await reader.read()
      } catch (err) {
        return failed(err)
      }
      watchdog?.idle()
      // A cancelled reader reads as done too; only a real end is a clean one.
      if (chunk.done) return controller.signal.aborted ? failed(undefined) : { error: undefined, healthy: healthy() }
      if (!it.parser.feed(text.decode(chunk.value, { stream: true }))) throw eventTooLarge(it.tooLarge ?? 0, settings.maxEventSize)
      while (frames.length > 0) {
        const frame = frames.shift() as Frame
        // An `id:` field sets the id to resume from; frames without one keep the last (WHATWG).
        if (frame.id !== undefined) state.lastEventId = frame.id
        if (frame.data === undefined) continue
        const event = decode({ event: frame.event, data: frame.data, id: frame.id })
        if (event instanceof SseClientError) {
          if (options.onInvalidEvent === undefined) throw event
          options.onInvalidEvent(event)
          continue
        }
        delivered = true
        yield event
        if (it.aborted()) return { stop: 'aborted' }
      }
    }
  } finally {
    watchdog?.stop()
    options.signal?.removeEventListener('abort', close)
    close()
    frames.length = 0
  }
}

function isEventStream (contentType: string | null): boolean {
  return contentType !== null && contentType.split(';')[0]?.trim().toLowerCase() === 'text/event-stream'
}

/** Resolves true after `ms`, or false at once when `signal` aborts. */
function sleep (ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  return new Promise(resolve => {
    if (signal?.aborted === true) {
      resolve(false)
      return
    }
    const onAbort = (): void => {
      clearTimeout(timer)
      resolve(false)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve(true)
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
