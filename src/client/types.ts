// Types only: the events the client yields, typed from the same event map as the server, and
// the client's options.
import type { EventMap, StaticOf } from '../events.js'
import type { SseClientError } from './errors.js'

/**
 * One received event of an event map, a union discriminated by `event`. Unnamed events (the
 * ones `EventSource.onmessage` receives) come as `event: 'message'`, as in the browser.
 */
export type ClientEvent<M extends EventMap> = {
  [K in keyof M & string]: {
    event: K
    data: StaticOf<M[K]>
    /** The frame's own `id`, if it had one. */
    id: string | undefined
  }
}[keyof M & string]

/** An event received without an event map: JSON data parsed, anything else the raw text. */
export interface UntypedClientEvent {
  event: string
  data: unknown
  id: string | undefined
}

/** Told to `onReconnect` before the client waits and connects again. */
export interface ReconnectInfo {
  /** 1 for the first reconnect after a connection opened, then 2, 3… while attempts fail. */
  attempt: number
  /** Milliseconds the client waits first: the server's latest `retry:`, else the `retry` option. */
  delay: number
  /** What the next request sends as `Last-Event-ID`. */
  lastEventId: string | undefined
  /** Why: the network error, or `undefined` when the server ended the stream. */
  error: unknown
}

/** A `fetch` the client can use: the global one, or a wrapper with the same call shape. */
export type FetchLike = (input: string | URL, init: RequestInit) => Promise<Response>

/** Options of `sseClient()`. */
export interface SseClientOptions<M extends EventMap = EventMap> {
  /**
   * The same event map as the server's. With it, events are typed and each event's data is
   * checked against the schema of its name; without it, events are untyped.
   */
  events?: M
  /** Aborting it closes the connection and ends the iteration (without an error). */
  signal?: AbortSignal | undefined
  /**
   * Request headers, sent on every connection. A function is called before each one, so a
   * reconnect can send a fresh token. `Accept` and `Last-Event-ID` are set by the client.
   */
  headers?: HeadersInit | (() => HeadersInit | PromiseLike<HeadersInit>) | undefined
  /** `fetch`'s `credentials`; `'include'` sends cookies to another origin. */
  credentials?: RequestCredentials | undefined
  /**
   * The HTTP method. Note that a body is sent again on every reconnect, so it must be one that
   * can be read more than once (a string, `URLSearchParams`, a `Blob`, `FormData`).
   * @defaultValue 'GET'
   */
  method?: string | undefined
  /** The request body, for a method other than GET. */
  body?: BodyInit | undefined
  /** The `fetch` to use (a test double, an instrumented one). @defaultValue globalThis.fetch */
  fetch?: FetchLike | undefined
  /** Sent as `Last-Event-ID` on the first connection, to resume from a known event. */
  lastEventId?: string | undefined
  /**
   * Milliseconds to wait before reconnecting until the server sends `retry:`.
   * @defaultValue 3000
   */
  retry?: number | undefined
  /**
   * Reconnect when the server ends the stream or the network fails. `false` ends the
   * iteration when the stream ends, and throws a network error instead of retrying it.
   * @defaultValue true
   */
  reconnect?: boolean | undefined
  /**
   * Check each event's data against its schema. `false` still decodes the data by the schema
   * (raw text for `type: 'string'`, JSON otherwise).
   * @defaultValue true
   */
  validate?: boolean | undefined
  /**
   * Called with an event that failed its schema, had an unknown name, or was the server's
   * `error` event; the event is then skipped and the stream goes on. Without it, the iterator
   * throws that error and the connection closes.
   */
  onInvalidEvent?: ((error: SseClientError) => void) | undefined
  /** Called when a connection opens with a valid response. */
  onOpen?: ((response: Response) => void) | undefined
  /** Called before each reconnect, with the delay and the id it will send. */
  onReconnect?: ((info: ReconnectInfo) => void) | undefined
}

/** What `sseClient()` returns: iterate it to connect; each iteration is one live stream. */
export interface SseClient<E> extends AsyncIterable<E> {
  /**
   * The last event id received (what a reconnect sends as `Last-Event-ID`). A new iteration of
   * the same client resumes from it.
   */
  readonly lastEventId: string | undefined
}
