// The client's errors, each with a stable code to match on and the facts as data. Kept apart
// from the server's catalogue (src/errors.ts) so a browser bundle holds only what it uses.

export type SseClientErrorCode =
  /** An event's data failed the schema of its name (or a JSON schema's data was not JSON). */
  | 'FST_SSE_CLIENT_INVALID_EVENT'
  /** An event name that is not in the event map. */
  | 'FST_SSE_CLIENT_UNKNOWN_EVENT'
  /** The server sent an `error` event (its `error-event` policies) and `error` is not in the map. */
  | 'FST_SSE_CLIENT_SERVER_ERROR'
  /**
   * The response was not `200` with `Content-Type: text/event-stream`. Retried when the status
   * says "try again later" (408, 429, 500, 502, 503, 504); anything else ends the iteration.
   */
  | 'FST_SSE_CLIENT_BAD_RESPONSE'
  /** An option of `sseClient()` has a wrong value. */
  | 'FST_SSE_CLIENT_INVALID_OPTION'
  /** `fetch` failed or the connection broke (the cause is `cause`). Retried. */
  | 'FST_SSE_CLIENT_NETWORK_ERROR'
  /** No byte arrived for `heartbeatTimeout` ms: the connection is presumed dead. Retried. */
  | 'FST_SSE_CLIENT_HEARTBEAT_TIMEOUT'
  /** An event (or a line) grew past `maxEventSize` characters. Not retried. */
  | 'FST_SSE_CLIENT_EVENT_TOO_LARGE'
  /** The request could not be made: `headers()` threw, or a header has a value fetch refuses. Not retried. */
  | 'FST_SSE_CLIENT_INVALID_REQUEST'
  /** `validate` is on but the validator's code could not be loaded (a missing bundle chunk). Not retried. */
  | 'FST_SSE_CLIENT_VALIDATOR_UNAVAILABLE'

/** What the client reports. Fields that do not apply to a code are `undefined`. */
export class SseClientError extends Error {
  readonly code: SseClientErrorCode
  /** The event name (`message` for unnamed events), for the event errors. */
  readonly event: string | undefined
  /** JSON pointer into `data` where the schema check failed (`''` for `data` itself). */
  readonly path: string | undefined
  /** What the schema expected there, or why the data could not be decoded. */
  readonly reason: string | undefined
  /** The event's raw `data` text, for the event errors. */
  readonly data: string | undefined
  /** The HTTP status, for `FST_SSE_CLIENT_BAD_RESPONSE`. */
  readonly status: number | undefined

  /** `message` says what happened and what to do; the package's name is put before it. */
  constructor (code: SseClientErrorCode, message: string, facts: {
    event?: string, path?: string, reason?: string, data?: string, status?: number, cause?: unknown
  } = {}) {
    super(`fastify-typed-sse/client: ${message}`, facts.cause === undefined ? undefined : { cause: facts.cause })
    this.name = 'SseClientError'
    this.code = code
    this.event = facts.event
    this.path = facts.path
    this.reason = facts.reason
    this.data = facts.data
    this.status = facts.status
  }
}

export function invalidEvent (event: string, path: string, reason: string, data: string): SseClientError {
  return new SseClientError('FST_SSE_CLIENT_INVALID_EVENT',
    `event "${event}" has invalid data at "${path === '' ? '/' : path}": ${reason}`,
    { event, path, reason, data })
}

export function unknownEvent (event: string, known: readonly string[], data: string): SseClientError {
  return new SseClientError('FST_SSE_CLIENT_UNKNOWN_EVENT',
    `event "${event}" is not in the event map (known: ${known.map(k => `"${k}"`).join(', ')})`,
    { event, data })
}

/** The server's `error` event: `{ code, message, event?, path? }` (see `SseErrorData`). */
export function serverError (data: string): SseClientError {
  let facts: Record<string, unknown> = {}
  try {
    const parsed: unknown = JSON.parse(data)
    if (typeof parsed === 'object' && parsed !== null) facts = parsed as Record<string, unknown>
  } catch {
    // Not the plugin's JSON: the raw text is the message.
    facts = { message: data }
  }
  const text = (key: string): string | undefined => typeof facts[key] === 'string' ? facts[key] : undefined
  const code = text('code')
  const message = text('message') ?? data
  return new SseClientError('FST_SSE_CLIENT_SERVER_ERROR',
    `the server sent an error event${code === undefined ? '' : ` (${code})`}: ${message}`,
    { event: text('event') ?? 'error', path: text('path'), reason: code, data })
}

export function badResponse (status: number, contentType: string | null): SseClientError {
  const problem = status !== 200
    ? `status ${status}`
    : `Content-Type ${contentType === null ? '(none)' : JSON.stringify(contentType)}`
  return new SseClientError('FST_SSE_CLIENT_BAD_RESPONSE',
    `expected a 200 text/event-stream response, got ${problem}`,
    { status })
}

export function invalidOption (option: string, expected: string): SseClientError {
  return new SseClientError('FST_SSE_CLIENT_INVALID_OPTION',
    `option "${option}" must be ${expected}`)
}

export function networkError (cause: unknown): SseClientError {
  return new SseClientError('FST_SSE_CLIENT_NETWORK_ERROR',
    `the connection failed: ${messageOf(cause)}`, { cause })
}

export function heartbeatTimeout (ms: number): SseClientError {
  return new SseClientError('FST_SSE_CLIENT_HEARTBEAT_TIMEOUT',
    `no data for ${ms} ms; the connection is presumed dead (raise \`heartbeatTimeout\` above the server's heartbeat interval, or set it to 0 to turn this off)`)
}

export function eventTooLarge (size: number, max: number): SseClientError {
  return new SseClientError('FST_SSE_CLIENT_EVENT_TOO_LARGE',
    `an event or line reached ${size} characters, over \`maxEventSize\` (${max}); raise the option if the server really sends events this large`)
}

export function invalidRequest (cause: unknown): SseClientError {
  return new SseClientError('FST_SSE_CLIENT_INVALID_REQUEST',
    `the request could not be made: ${messageOf(cause)}`, { cause })
}

export function validatorUnavailable (cause: unknown): SseClientError {
  return new SseClientError('FST_SSE_CLIENT_VALIDATOR_UNAVAILABLE',
    `the schema validator could not be loaded (serve the bundle's validator chunk, or pass validate: false): ${messageOf(cause)}`, { cause })
}

function messageOf (cause: unknown): string {
  // undici puts the reason of a failed fetch ("connect ECONNREFUSED …") in its cause.
  const inner = (cause as { cause?: { message?: unknown } } | null)?.cause?.message
  const outer = cause instanceof Error ? cause.message : String(cause)
  return typeof inner === 'string' && inner !== '' ? `${outer} (${inner})` : outer
}
