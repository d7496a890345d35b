// The client's errors, each with a stable code to match on and the facts as data. Kept apart
// from the server's catalogue (src/errors.ts) so a browser bundle holds only what it uses.

export type SseClientErrorCode =
  /** An event's data failed the schema of its name (or a JSON schema's data was not JSON). */
  | 'FST_SSE_CLIENT_INVALID_EVENT'
  /** An event name that is not in the event map. */
  | 'FST_SSE_CLIENT_UNKNOWN_EVENT'
  /** The server sent an `error` event (its `error-event` policies) and `error` is not in the map. */
  | 'FST_SSE_CLIENT_SERVER_ERROR'
  /** The response was not `200` with `Content-Type: text/event-stream`. Not retried. */
  | 'FST_SSE_CLIENT_BAD_RESPONSE'
  /** An option of `sseClient()` has a wrong value. */
  | 'FST_SSE_CLIENT_INVALID_OPTION'

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

  constructor (code: SseClientErrorCode, message: string, facts: {
    event?: string, path?: string, reason?: string, data?: string, status?: number, cause?: unknown
  } = {}) {
    super(message, facts.cause === undefined ? undefined : { cause: facts.cause })
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
    `fastify-typed-sse/client: event "${event}" has invalid data at "${path === '' ? '/' : path}": ${reason}`,
    { event, path, reason, data })
}

export function unknownEvent (event: string, known: readonly string[], data: string): SseClientError {
  return new SseClientError('FST_SSE_CLIENT_UNKNOWN_EVENT',
    `fastify-typed-sse/client: event "${event}" is not in the event map (known: ${known.map(k => `"${k}"`).join(', ')})`,
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
    `fastify-typed-sse/client: the server sent an error event${code === undefined ? '' : ` (${code})`}: ${message}`,
    { event: text('event') ?? 'error', path: text('path'), reason: code, data })
}

export function badResponse (status: number, contentType: string | null): SseClientError {
  const problem = status !== 200
    ? `status ${status}`
    : `Content-Type ${contentType === null ? '(none)' : JSON.stringify(contentType)}`
  return new SseClientError('FST_SSE_CLIENT_BAD_RESPONSE',
    `fastify-typed-sse/client: expected a 200 text/event-stream response, got ${problem}`,
    { status })
}

export function invalidOption (option: string, expected: string): SseClientError {
  return new SseClientError('FST_SSE_CLIENT_INVALID_OPTION',
    `fastify-typed-sse/client: option "${option}" must be ${expected}`)
}
