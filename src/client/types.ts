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

/** Told to `onReconnect`, and part of the `reconnecting` status, before the client waits. */
export interface ReconnectInfo {
  /**
   * 1 for the first reconnect after a healthy connection, then 2, 3… while connections fail. A
   * connection is healthy once it delivered an event or stayed open for 5 s; one that the server
   * ends at once, or a 500, does not reset the count, so the wait keeps growing.
   */
  attempt: number
  /** Milliseconds the client waits before connecting (see the `retry` option). */
  delay: number
  /** When it will connect, as a `Date.now()` time: `at - Date.now()` is the time left. */
  at: number
  /** What the next request sends as `Last-Event-ID`. */
  lastEventId: string | undefined
  /**
   * Why: a network failure (`FST_SSE_CLIENT_NETWORK_ERROR`), a silent connection
   * (`FST_SSE_CLIENT_HEARTBEAT_TIMEOUT`), a "try again later" status
   * (`FST_SSE_CLIENT_BAD_RESPONSE` with its `status`), or `undefined` when the server ended the
   * stream.
   */
  error: SseClientError | undefined
}

/** Why a client is `closed`. */
export type ClosedReason =
  /** Not iterated yet. */
  | 'initial'
  /** The caller left the loop (`break`, `return`, or a throw in the loop's body). */
  | 'done'
  /** The `signal` aborted. */
  | 'aborted'
  /** The server said not to reconnect: a `204`, or the stream ended with `reconnect: false`. */
  | 'ended'
  /** The iterator threw `error`. */
  | 'error'

/**
 * Where the client is, for a page to show ("connecting…", "reconnecting in 3 s"). Read it from
 * `client.status`, or follow it with `onStatus`.
 */
export type SseClientStatus =
  /** A request is on its way; `attempt` is 0 for the first connection, then as in `reconnecting`. */
  | { state: 'connecting', attempt: number }
  /** The server answered with a stream; events flow. */
  | { state: 'open' }
  /** The connection ended or failed; the client waits `delay` ms, until `at`, then connects. */
  | ({ state: 'reconnecting' } & ReconnectInfo)
  /**
   * Not connected and not going to be. `error` is set for `reason: 'error'`: an
   * `SseClientError`, unless one of your own callbacks threw it.
   */
  | { state: 'closed', reason: ClosedReason, error?: unknown }

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
  /**
   * Sent as `Last-Event-ID` on the first connection, to resume from a known event. An id that a
   * header cannot carry (a character above U+00FF, a control character, or spaces at its ends)
   * is sent as a `lastEventId` query parameter instead, which the plugin reads too.
   */
  lastEventId?: string | undefined
  /**
   * The base of the reconnection delay, in milliseconds, until the server sends `retry:` (which
   * then takes its place). The wait before attempt n is drawn at random between
   * `minRetryDelay` and `retry × 2^(n−1)`, at most `maxRetryDelay`; it starts again from
   * attempt 1 after a healthy connection (see `ReconnectInfo.attempt`).
   * @defaultValue 3000
   */
  retry?: number | undefined
  /**
   * The shortest wait before reconnecting, in milliseconds. The server's `retry:` is raised to
   * it, so `retry: 0` cannot make a reconnect loop.
   * @defaultValue 500
   */
  minRetryDelay?: number | undefined
  /**
   * The longest wait before reconnecting, in milliseconds (the cap of the backoff). The
   * server's `retry:` is lowered to it.
   * @defaultValue 30000
   */
  maxRetryDelay?: number | undefined
  /**
   * The longest wait a `Retry-After` header (on a 408, 429, 500, 502, 503 or 504) can ask for,
   * in milliseconds. The client waits what the header says, plus up to a fifth at random.
   * @defaultValue 300000
   */
  maxRetryAfter?: number | undefined
  /**
   * Reconnect when the server ends the stream, the network fails, the connection falls silent,
   * or the server answers 408, 429, 500, 502, 503 or 504. `false` ends the iteration when the
   * stream ends, and throws those failures instead of retrying them.
   * @defaultValue true
   */
  reconnect?: boolean | undefined
  /**
   * Milliseconds without a byte from the server (events or comments) after which the
   * connection is presumed dead: it is closed and the client reconnects with `Last-Event-ID`
   * (or throws `FST_SSE_CLIENT_HEARTBEAT_TIMEOUT` with `reconnect: false`). It covers the wait
   * for the response too. The default fits the server's default heartbeat (every 20 s) with
   * room for one lost; set it above your server's `heartbeatInterval`, or `0` for a server
   * that sends no heartbeat.
   * @defaultValue 45000
   */
  heartbeatTimeout?: number | undefined
  /**
   * The largest event the client holds, in characters (UTF-16 code units: bytes, for ASCII
   * text): the data of the event being read plus the line being read. A server that sends more
   * without ending the event gets `FST_SSE_CLIENT_EVENT_TOO_LARGE`, so the memory a stream can
   * take stays bounded.
   * @defaultValue 1048576 (1 MiB)
   */
  maxEventSize?: number | undefined
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
  /** Called with each comment line's text (`: ping` gives `'ping'`; a bare heartbeat `''`). */
  onComment?: ((text: string) => void) | undefined
  /** Called with each new status (also readable at any time as `client.status`). */
  onStatus?: ((status: SseClientStatus) => void) | undefined
}

/** What `sseClient()` returns: iterate it to connect; each iteration is one live stream. */
export interface SseClient<E> extends AsyncIterable<E> {
  /**
   * The last event id received (what a reconnect sends as `Last-Event-ID`). A new iteration of
   * the same client resumes from it.
   */
  readonly lastEventId: string | undefined
  /** Where the latest iteration is: connecting, open, reconnecting (and when), or closed (and why). */
  readonly status: SseClientStatus
}
