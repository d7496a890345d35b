// One catalogue of the plugin's errors. Each has a stable `code` to match on and a message that
// says what to fix; the event errors also carry their facts as data.

export type SseErrorCode =
  | 'FST_SSE_INVALID_OPTION'
  | 'FST_SSE_INVALID_EVENT'
  | 'FST_SSE_UNKNOWN_EVENT'
  | 'FST_SSE_INVALID_FIELD'
  | 'FST_SSE_INVALID_SOURCE'
  | 'FST_SSE_REPLY_SENT'
  | 'FST_SSE_SOURCE_FAILED'
  | 'FST_SSE_UNSERIALIZABLE'
  | 'FST_SSE_HUB_UNAVAILABLE'
  | 'FST_SSE_HUB_OUTCOME_UNKNOWN'
  | 'FST_SSE_HUB_CLOSED'
  | 'FST_SSE_NOT_READY'

export class SseError extends Error {
  readonly code: SseErrorCode
  /** HTTP status when this error answers a request before the stream starts. */
  readonly statusCode: number

  constructor (code: SseErrorCode, message: string, options?: { cause?: unknown, statusCode?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'SseError'
    this.code = code
    this.statusCode = options?.statusCode ?? 500
  }
}

/** A plugin or `reply.sse()` option has a wrong value. Thrown at `register` (or at the call). */
export function invalidOption (option: string, expected: string, got: unknown): SseError {
  return new SseError('FST_SSE_INVALID_OPTION',
    `fastify-typed-sse: option "${option}" must be ${expected}, got ${describe(got)}`)
}

/** An event did not pass the schema of its name. */
export class InvalidEventError extends SseError {
  /** The event name (`message` for unnamed events). */
  readonly event: string
  /** JSON pointer into `data` where the check failed (`''` for `data` itself). */
  readonly path: string
  /** What the schema expected there. */
  readonly reason: string

  constructor (event: string, path: string, reason: string) {
    super('FST_SSE_INVALID_EVENT',
      `fastify-typed-sse: event "${event}" has invalid data at "${path === '' ? '/' : path}": ${reason}`)
    this.name = 'InvalidEventError'
    this.event = event
    this.path = path
    this.reason = reason
  }
}

/** The event name is not in the route's event map. */
export function unknownEvent (event: string, known: readonly string[]): SseError {
  return new SseError('FST_SSE_UNKNOWN_EVENT',
    `fastify-typed-sse: event "${event}" is not in the event map (known: ${known.map(k => `"${k}"`).join(', ')})`)
}

/** A frame field would break the framing (CR, LF or NUL) or is out of range. */
export function invalidField (field: 'event' | 'id' | 'retry' | 'comment', problem: string): SseError {
  return new SseError('FST_SSE_INVALID_FIELD', `fastify-typed-sse: field "${field}" ${problem}`)
}

export function invalidSource (got: unknown): SseError {
  return new SseError('FST_SSE_INVALID_SOURCE',
    `fastify-typed-sse: reply.sse() needs an async iterable, an iterable or a function returning one, got ${describe(got)}`)
}

export function replySent (): SseError {
  return new SseError('FST_SSE_REPLY_SENT',
    'fastify-typed-sse: reply.sse() was called on a reply that was already sent or hijacked')
}

function describe (value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value)
  if (typeof value === 'function') return 'a function'
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`
}

/** Data that passed its schema (or had none) but cannot be written as JSON: a BigInt, a cycle. */
export function unserializable (event: string, cause: unknown): SseError {
  const reason = cause instanceof Error ? cause.message : String(cause)
  return new SseError('FST_SSE_UNSERIALIZABLE', `fastify-typed-sse: event "${event}" could not be serialized: ${reason}`, { cause })
}

/** A source yielded something that is not an event object. */
export function notAnEvent (got: unknown): SseError {
  return new SseError('FST_SSE_INVALID_EVENT',
    `fastify-typed-sse: a source must yield objects like { event?, data, id?, retry?, comment? }, got ${describe(got)}`)
}

/**
 * The hub's store (Redis) could not take the command: it was never sent (Redis is away) or Redis
 * refused it. Nothing was changed: a publish stored and sent nothing, so a retry is safe.
 */
export function hubUnavailable (what: string, cause: unknown): SseError {
  const reason = cause instanceof Error ? cause.message : String(cause)
  return new SseError('FST_SSE_HUB_UNAVAILABLE',
    `fastify-typed-sse: ${what}: Redis is unavailable (${reason}); nothing was stored or changed, so it is safe to retry once Redis is back`,
    { cause, statusCode: 503 })
}

/**
 * A command reached Redis (or was on its way) and no answer came: a timeout (`redisTimeout`) or
 * a connection lost after sending. Redis may still run it, so a publish may be stored and sent.
 * 504: like a gateway whose upstream did not answer in time, the outcome is unknown.
 * `retry` says what a retry does: `keyed` (a publish with an idempotency key), `unkeyed`, or
 * `idempotent` (a command that is safe to repeat).
 */
export function hubOutcomeUnknown (what: string, cause: unknown, retry: 'keyed' | 'unkeyed' | 'idempotent'): SseError {
  const reason = cause instanceof Error ? cause.message : String(cause)
  const advice = {
    keyed: 'Retry with the same idempotencyKey: the event is stored once, and the retry resolves with its id.',
    unkeyed: 'A retry may store it twice: publish with an idempotencyKey to retry safely.',
    idempotent: 'Doing it again is safe.'
  }[retry]
  return new SseError('FST_SSE_HUB_OUTCOME_UNKNOWN',
    `fastify-typed-sse: ${what}: Redis did not answer (${reason}) after the command was sent: it may have taken effect, or Redis may still run it. ${advice}`,
    { cause, statusCode: 504 })
}

/** The hub was used after `fastify.close()`. */
export function hubClosed (): SseError {
  return new SseError('FST_SSE_HUB_CLOSED',
    'fastify-typed-sse: the hub is closed (fastify.close() was called); publish and subscribe before closing')
}

/** `topic.publish()` got something that is not an event with data, or one carrying its own id. */
export function invalidPublish (got: unknown, problem = 'needs an event like { event, data }'): SseError {
  return new SseError('FST_SSE_INVALID_EVENT', `fastify-typed-sse: topic.publish() ${problem}, got ${describe(got)}`)
}

/** `hub.redis` is set but the `ioredis` package is not installed. */
export function missingRedisClient (cause: unknown): SseError {
  return new SseError('FST_SSE_INVALID_OPTION',
    'fastify-typed-sse: option "hub.redis" needs the ioredis package next to the plugin: npm install ioredis', { cause })
}

/** Something that needs every route was called before `app.ready()`, when routes may still come. */
export function notReady (what: string): SseError {
  return new SseError('FST_SSE_NOT_READY',
    `fastify-typed-sse: ${what} was called before the app was ready; call it after await app.ready() (or in a route handler), once every route is known`)
}
