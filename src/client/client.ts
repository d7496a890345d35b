// The connection loop: fetch, check the response, parse the stream with eventsource-parser,
// decode and check each event, and reconnect after `retry` with `Last-Event-ID`. Uses only
// what browsers and Node 20 both have (fetch, streams, TextDecoder, AbortController).
import { createParser, type EventSourceMessage } from 'eventsource-parser'
import type { EventMap } from '../events.js'
import { createDecoder } from './decode.js'
import { badResponse, invalidOption, SseClientError } from './errors.js'
import type { ClientEvent, FetchLike, SseClient, SseClientOptions, UntypedClientEvent } from './types.js'

/** Browsers wait about this long before reconnecting; so does the client until told `retry:`. */
const DEFAULT_RETRY = 3000

/**
 * Opens a Server-Sent Events stream with `fetch` and yields its events, typed and checked by
 * `events` (the same map the server uses). Iterating connects; `break`, `return` or aborting
 * `signal` closes the connection. When the stream ends or the network fails it reconnects after
 * the server's `retry:` (or the `retry` option), sending `Last-Event-ID`.
 *
 * Errors (thrown by the iterator, which closes the connection):
 * - `FST_SSE_CLIENT_BAD_RESPONSE`: not a `200` `text/event-stream` response. Not retried, as
 *   `EventSource` does not either; a `204` ends the iteration quietly instead (the server's way
 *   of saying "do not reconnect").
 * - `FST_SSE_CLIENT_INVALID_EVENT`, `FST_SSE_CLIENT_UNKNOWN_EVENT`, `FST_SSE_CLIENT_SERVER_ERROR`:
 *   unless `onInvalidEvent` is given, which receives them while the stream goes on.
 *
 * @example
 * for await (const ev of sseClient('/clock', { events: { tick: Type.Object({ now: Type.String() }) } })) {
 *   if (ev.event === 'tick') console.log(ev.data.now)
 * }
 */
export function sseClient<const M extends EventMap> (url: string | URL, options: SseClientOptions<M> & { events: M }): SseClient<ClientEvent<M>>
export function sseClient (url: string | URL, options?: SseClientOptions & { events?: undefined }): SseClient<UntypedClientEvent>
export function sseClient (url: string | URL, options: SseClientOptions = {}): SseClient<UntypedClientEvent> {
  checkOptions(options)
  const state = { lastEventId: options.lastEventId }
  return {
    get lastEventId () { return state.lastEventId },
    [Symbol.asyncIterator]: () => connect(url, options, state)
  }
}

async function * connect (url: string | URL, options: SseClientOptions, state: { lastEventId: string | undefined }): AsyncGenerator<UntypedClientEvent> {
  const { signal, onInvalidEvent } = options
  // A function, not a narrowed property: the signal may abort during any await below.
  const aborted = (): boolean => signal?.aborted === true
  const fetchImpl: FetchLike = options.fetch ?? ((input, init) => globalThis.fetch(input, init))
  const decode = createDecoder(options.events, options.validate ?? true)
  let retry = options.retry ?? DEFAULT_RETRY
  let attempt = 0
  const frames: EventSourceMessage[] = []
  const parser = createParser({
    onEvent: (frame) => frames.push(frame),
    onRetry: (ms) => { retry = ms }
  })

  while (!aborted()) {
    // One controller per connection, so leaving the loop (break, throw, abort) cancels the
    // request and its body without touching the caller's signal.
    const controller = new AbortController()
    const onAbort = (): void => controller.abort(signal?.reason)
    signal?.addEventListener('abort', onAbort, { once: true })
    let failed = false
    let failure: unknown
    try {
      let response: Response
      try {
        response = await fetchImpl(url, await requestInit(options, state.lastEventId, controller.signal))
      } catch (err) {
        if (aborted()) return
        throw new NetworkError(err)
      }
      if (response.status === 204) return
      const contentType = response.headers.get('content-type')
      if (response.status !== 200 || !isEventStream(contentType) || response.body === null) {
        // Free the connection; the body is not ours to read.
        await response.body?.cancel().catch(() => undefined)
        throw badResponse(response.status, contentType)
      }
      attempt = 0
      options.onOpen?.(response)
      const reader = response.body.getReader()
      const text = new TextDecoder()
      parser.reset()
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>
        try {
          chunk = await reader.read()
        } catch (err) {
          if (aborted()) return
          throw new NetworkError(err)
        }
        if (chunk.done) break
        parser.feed(text.decode(chunk.value, { stream: true }))
        while (frames.length > 0) {
          const frame = frames.shift() as EventSourceMessage
          // An `id:` field sets the id to resume from; frames without one keep the last (WHATWG).
          if (frame.id !== undefined) state.lastEventId = frame.id
          const event = decode(frame)
          if (event instanceof SseClientError) {
            if (onInvalidEvent === undefined) throw event
            onInvalidEvent(event)
            continue
          }
          yield event
          if (aborted()) return
        }
      }
    } catch (err) {
      if (!(err instanceof NetworkError)) throw err
      failed = true
      failure = err.cause
    } finally {
      signal?.removeEventListener('abort', onAbort)
      controller.abort()
      frames.length = 0
    }
    // The stream ended or the network failed: reconnect, as EventSource does.
    if (options.reconnect === false) {
      if (failed) throw failure
      return
    }
    attempt++
    options.onReconnect?.({ attempt, delay: retry, lastEventId: nonEmpty(state.lastEventId), error: failure })
    if (!await sleep(retry, signal)) return
  }
}

/** Marks a failure of the network, which is retried, apart from errors that end the iteration. */
class NetworkError extends Error {
  constructor (cause: unknown) {
    super('network error', { cause })
  }
}

async function requestInit (options: SseClientOptions, lastEventId: string | undefined, signal: AbortSignal): Promise<RequestInit> {
  const given = typeof options.headers === 'function' ? await options.headers() : options.headers
  const headers = new Headers(given)
  headers.set('accept', 'text/event-stream')
  // An empty id (`id:` with no value) means "no id": nothing to resume from.
  const id = nonEmpty(lastEventId)
  if (id !== undefined) headers.set('last-event-id', id)
  else headers.delete('last-event-id')
  const init: RequestInit = { headers, signal, cache: 'no-store' }
  if (options.credentials !== undefined) init.credentials = options.credentials
  if (options.method !== undefined) init.method = options.method
  if (options.body !== undefined) init.body = options.body
  return init
}

function isEventStream (contentType: string | null): boolean {
  return contentType !== null && contentType.split(';')[0]?.trim().toLowerCase() === 'text/event-stream'
}

function nonEmpty (id: string | undefined): string | undefined {
  return id === '' ? undefined : id
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

function checkOptions (options: SseClientOptions): void {
  if (typeof options !== 'object' || options === null) throw invalidOption('options', 'an object')
  const { events, retry, fetch } = options
  if (events !== undefined && (typeof events !== 'object' || events === null)) {
    throw invalidOption('events', 'an object of TypeBox schemas')
  }
  if (retry !== undefined && (typeof retry !== 'number' || !Number.isInteger(retry) || retry < 0)) {
    throw invalidOption('retry', 'a non-negative integer of milliseconds')
  }
  if (fetch === undefined && typeof globalThis.fetch !== 'function') {
    throw invalidOption('fetch', 'given where there is no global fetch')
  }
}
