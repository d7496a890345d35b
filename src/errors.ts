// One catalogue of the plugin's errors, in Fastify's shape: a stable `code` per condition, the
// `statusCode` Fastify's error handler answers with, and a message that says what to fix. Each
// code is raised by exactly one function below, so grepping a code finds the one place. The
// event errors also carry their facts as data.
//
// To add a code: a row in ERROR_CODES, one function here that raises it, and a row in the
// README's "Errors" table (test/errors.test.ts checks all three agree).

/** Every code the server side raises, with the HTTP status it answers a request with. */
export const ERROR_CODES = {
  FST_SSE_INVALID_OPTION: 500,
  FST_SSE_REDIS_CLIENT_MISSING: 500,
  FST_SSE_INVALID_SOURCE: 500,
  FST_SSE_REPLY_SENT: 500,
  FST_SSE_NOT_AN_EVENT: 500,
  FST_SSE_UNKNOWN_EVENT: 500,
  FST_SSE_INVALID_EVENT: 500,
  FST_SSE_INVALID_FIELD: 500,
  FST_SSE_UNSERIALIZABLE: 500,
  FST_SSE_SOURCE_FAILED: 500,
  FST_SSE_INVALID_PUBLISH: 500,
  FST_SSE_HUB_UNAVAILABLE: 503,
  FST_SSE_HUB_OUTCOME_UNKNOWN: 504,
  FST_SSE_HUB_CLOSED: 500,
  FST_SSE_TOO_MANY_STREAMS: 503,
  FST_SSE_NOT_READY: 500
} as const satisfies Record<`FST_SSE_${string}`, number>

export type SseErrorCode = keyof typeof ERROR_CODES

// The package ships an ESM and a CommonJS build, and an app may load both (or two copies): each
// has its own classes, so a plain `instanceof` would miss the other's errors. Brands from the
// global symbol registry are shared by every copy; `instanceof` and isSseError() check them.
const SSE_ERROR = Symbol.for('fastify-typed-sse.SseError')
const INVALID_EVENT_ERROR = Symbol.for('fastify-typed-sse.InvalidEventError')
// @fastify/error marks its errors with this symbol, so `err instanceof FastifyError` (from
// `@fastify/error`) holds for ours too.
const FASTIFY_ERROR = Symbol.for('fastify-error-generic')

function branded (value: unknown, brand: symbol): boolean {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true
}

/**
 * An error of this plugin. Match on `code` (see the README's table). `instanceof SseError` works
 * across the ESM and CommonJS builds; so does {@link isSseError}, which also checks the code.
 */
export class SseError extends Error {
  static override [Symbol.hasInstance] (value: unknown): boolean {
    return branded(value, SSE_ERROR)
  }

  readonly code: SseErrorCode
  /** The HTTP status Fastify answers with when this error ends a request before the stream starts. */
  readonly statusCode: number
  /** Response headers that go with `statusCode` (Fastify's default error handler sends them). */
  readonly headers?: Record<string, string>

  /** @internal Errors come from the catalogue's functions, one per code. */
  constructor (code: SseErrorCode, message: string, cause?: unknown, headers?: Record<string, string>) {
    super(message, cause === undefined ? undefined : { cause })
    this.name = 'SseError'
    this.code = code
    this.statusCode = ERROR_CODES[code]
    if (headers !== undefined) this.headers = headers
  }

  /** As Fastify's errors print: `SseError [FST_SSE_…]: message`. */
  override toString (): string {
    return `${this.name} [${this.code}]: ${this.message}`
  }
}
for (const brand of [SSE_ERROR, FASTIFY_ERROR]) Object.defineProperty(SseError.prototype, brand, { value: true })

/**
 * True when `value` is an error of this plugin (from any of its builds or copies), and, with
 * `code`, one with that code.
 */
export function isSseError (value: unknown, code?: SseErrorCode): value is SseError {
  return branded(value, SSE_ERROR) && (code === undefined || (value as SseError).code === code)
}

/** `FST_SSE_INVALID_EVENT`: an event's data did not pass the schema of its name. */
export class InvalidEventError extends SseError {
  static override [Symbol.hasInstance] (value: unknown): boolean {
    return branded(value, INVALID_EVENT_ERROR)
  }

  /** The event name (`message` for unnamed events). */
  readonly event: string
  /** JSON pointer into `data` where the check failed (`''` for `data` itself). */
  readonly path: string
  /** What the schema expected there. */
  readonly reason: string

  /** @internal */
  constructor (event: string, path: string, reason: string) {
    super('FST_SSE_INVALID_EVENT',
      `fastify-typed-sse: event "${event}" has invalid data at "${path === '' ? '/' : path}": ${reason}`)
    this.name = 'InvalidEventError'
    this.event = event
    this.path = path
    this.reason = reason
  }
}
Object.defineProperty(InvalidEventError.prototype, INVALID_EVENT_ERROR, { value: true })

/** Data that failed the schema of its event name. */
export function invalidEvent (event: string, path: string, reason: string): InvalidEventError {
  return new InvalidEventError(event, path, reason)
}

function sseError (code: SseErrorCode, message: string, cause?: unknown, headers?: Record<string, string>): SseError {
  return new SseError(code, message, cause, headers)
}

/** A plugin, route, topic or `reply.sse()` option has a wrong value. Thrown at `register` (or at the call). */
export function invalidOption (option: string, expected: string, got: unknown): SseError {
  return optionError(`option "${option}" must be ${expected}, got ${describe(got)}`)
}

// The one place FST_SSE_INVALID_OPTION is raised; other wordings of a bad option come through it.
function optionError (problem: string, cause?: unknown): SseError {
  return sseError('FST_SSE_INVALID_OPTION', `fastify-typed-sse: ${problem}`, cause)
}

/** `hub.redis` is set but the `ioredis` package is not installed. */
export function missingRedisClient (cause: unknown): SseError {
  return sseError('FST_SSE_REDIS_CLIENT_MISSING',
    'fastify-typed-sse: option "hub.redis" needs the ioredis package next to the plugin: npm install ioredis', cause)
}

/** `reply.sse()` got something that is not a source. */
export function invalidSource (got: unknown): SseError {
  return sseError('FST_SSE_INVALID_SOURCE',
    `fastify-typed-sse: reply.sse() needs an async iterable, an iterable or a function returning one, got ${describe(got)}`)
}

export function replySent (): SseError {
  return sseError('FST_SSE_REPLY_SENT',
    'fastify-typed-sse: reply.sse() was called on a reply that was already sent or hijacked')
}

/** A source yielded something that is not an event object. */
export function notAnEvent (got: unknown): SseError {
  return sseError('FST_SSE_NOT_AN_EVENT',
    `fastify-typed-sse: a source must yield objects like { event?, data, id?, retry?, comment? }, got ${describe(got)}`)
}

/** The event name is not in the route's event map. */
export function unknownEvent (event: string, known: readonly string[]): SseError & { event: string } {
  return Object.assign(sseError('FST_SSE_UNKNOWN_EVENT',
    `fastify-typed-sse: event "${event}" is not in the event map (known: ${known.map(k => `"${k}"`).join(', ')})`), { event })
}

/** A frame field would break the framing (CR, LF or NUL) or is out of range. */
export function invalidField (field: 'event' | 'id' | 'retry' | 'comment', problem: string): SseError {
  return sseError('FST_SSE_INVALID_FIELD', `fastify-typed-sse: field "${field}" ${problem}`)
}

/** Data that passed its schema (or had none) but cannot be written as JSON: a BigInt, a cycle. */
export function unserializable (event: string, cause: unknown): SseError & { event: string } {
  const reason = cause instanceof Error ? cause.message : String(cause)
  return Object.assign(sseError('FST_SSE_UNSERIALIZABLE', `fastify-typed-sse: event "${event}" could not be serialized: ${reason}`, cause), { event })
}

/**
 * The source threw after the response had started, so no HTTP status can say so: logged, with
 * the source's error as `cause` (loggers such as pino print its message and stack).
 */
export function sourceFailed (cause: unknown): SseError {
  return sseError('FST_SSE_SOURCE_FAILED',
    'fastify-typed-sse: the event source threw after the stream started; catch what you expect inside the source, or choose what happens with onSourceError',
    cause)
}

/** `topic.publish()` got something that is not an event with data, or one carrying its own id. */
export function invalidPublish (got: unknown, problem = 'needs an event like { event, data }'): SseError {
  return sseError('FST_SSE_INVALID_PUBLISH', `fastify-typed-sse: topic.publish() ${problem}, got ${describe(got)}`)
}

/**
 * The hub's store (Redis) could not take the command: it was never sent (Redis is away) or Redis
 * refused it. Nothing was changed: a publish stored and sent nothing, so a retry is safe.
 */
export function hubUnavailable (what: string, cause: unknown): SseError {
  const reason = cause instanceof Error ? cause.message : String(cause)
  return sseError('FST_SSE_HUB_UNAVAILABLE',
    `fastify-typed-sse: ${what}: Redis is unavailable (${reason}); nothing was stored or changed, so it is safe to retry once Redis is back`,
    cause)
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
  return sseError('FST_SSE_HUB_OUTCOME_UNKNOWN',
    `fastify-typed-sse: ${what}: Redis did not answer (${reason}) after the command was sent: it may have taken effect, or Redis may still run it. ${advice}`,
    cause)
}

/** The hub was used after `fastify.close()`. */
export function hubClosed (): SseError {
  return sseError('FST_SSE_HUB_CLOSED',
    'fastify-typed-sse: the hub is closed (fastify.close() was called); publish and subscribe before closing')
}

function describe (value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value)
  if (typeof value === 'function') return 'a function'
  if (Array.isArray(value)) return 'an array'
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`
}

/**
 * A `maxStreams` limit is reached. Answers the request with 503 and `Retry-After` before the
 * stream starts (so before its source is called).
 */
export function tooManyStreams (scope: 'the app' | 'this route', limit: number, retryAfterSeconds: number): SseError {
  return sseError('FST_SSE_TOO_MANY_STREAMS',
    `fastify-typed-sse: ${scope} already has ${limit} open streams (maxStreams); retry later, or raise maxStreams if the server has room`,
    undefined, { 'retry-after': String(retryAfterSeconds) })
}

/** An event map holds a schema the validator cannot check: registration fails, naming the key. */
export function invalidSchema (option: string, problem: string, cause: unknown): SseError {
  return optionError(`option "${option}" must be a schema the validator can check, but ${problem}`, cause)
}

/** Something that needs every route was called before `app.ready()`, when routes may still come. */
export function notReady (what: string): SseError {
  return sseError('FST_SSE_NOT_READY',
    `fastify-typed-sse: ${what} was called before the app was ready; call it after await app.ready() (or in a route handler), once every route is known`)
}
