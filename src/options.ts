// Every option of the plugin (the streams' and the hub's): types, defaults, and the one check that
// fails `register` (or the route declaration, or the call) with a message naming the option.
import { invalidOption } from './errors.js'
import type { EventMap } from './events.js'

/** What to do with an event whose data fails its schema (or whose name or fields are invalid). */
export type InvalidEventPolicy =
  /** Log it and leave it out; the stream goes on. */
  | 'skip'
  /** Log it and send an `error` event in its place (see `SseErrorData`); the stream goes on. */
  | 'error-event'
  /** Log it and end the stream. */
  | 'close'

/** What to do when the source throws after the response has started. */
export type SourceErrorPolicy =
  /** Log it and end the stream; the browser reconnects with `Last-Event-ID`. */
  | 'close'
  /** Log it, send an `error` event saying the stream failed, then end the stream. */
  | 'error-event'

/** A pino level for the line logged when a stream ends, or `false` (or `'silent'`) for none. */
export type EndLogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' | false

/** Options of one stream; set as plugin defaults at `register` or per call of `reply.sse()`. */
export interface SseStreamOptions {
  /**
   * Milliseconds of silence after which a `:` comment line is sent, so proxies and load
   * balancers keep the stream open. Real events postpone it. `0` turns heartbeats off.
   * @defaultValue 20_000
   */
  heartbeatInterval?: number
  /**
   * Reconnection delay in milliseconds sent as `retry:` when the stream opens.
   * @defaultValue undefined (the browser's own, about 3 s)
   */
  retry?: number | undefined
  /**
   * Bytes (UTF-8, as sent) of events batched into one write. While the socket still holds an
   * unsent batch, the next one fills up to this size and then the source is no longer pulled, so
   * memory per slow client stays near twice this figure.
   *
   * It is also the stream's share of each turn of the event loop: after batching this many
   * bytes, or after pulling 1 024 events however small (events that are skipped or encode to
   * nothing count too), the stream writes what it has and lets every other stream, timer and
   * request have a turn before it pulls again. A source that never awaits cannot keep the
   * process to itself, and a large write per turn keeps throughput near what the socket takes.
   * @defaultValue 65_536
   */
  highWaterMark?: number
  /**
   * Check each event's data against its schema. `false` still uses the compiled serializers.
   * @defaultValue true
   */
  validate?: boolean
  /** @defaultValue 'skip' */
  onInvalidEvent?: InvalidEventPolicy
  /** @defaultValue 'close' */
  onSourceError?: SourceErrorPolicy
  /**
   * Longest `Last-Event-ID` accepted, in characters; a longer one is ignored (logged).
   * @defaultValue 256
   */
  maxLastEventIdLength?: number
  /**
   * Milliseconds a client may take nothing while data waits for it. When the socket has data it
   * could not send and none of it has gone out for this long, the connection is closed (logged
   * at `warn`), the source's signal aborts and its `finally` runs, so a stalled client does not
   * hold memory and a file descriptor for ever. Progress is seen per write: a client that reads
   * slowly but steadily keeps its stream. `0` turns it off.
   * @defaultValue 30_000
   */
  writeTimeout?: number
  /**
   * Most streams open at once. At `register`: in this plugin instance, all routes together. On a
   * route (`sse` option) or a `reply.sse()` call: on that route (method and URL pattern), on top
   * of the instance's limit. A request beyond a limit is answered `503` with `Retry-After: 5`
   * (`FST_SSE_TOO_MANY_STREAMS`) before its source is called. A stream counts from the moment
   * `reply.sse()` is called (its source may still be starting) until it ends or its client
   * leaves.
   * @defaultValue undefined (no limit)
   */
  maxStreams?: number | undefined
  /**
   * Level of the one line logged on `request.log` when a stream that started ends: `stream
   * ended` with `{ reason, durationMs, events, bytes }` (see `SseStreamEndMessage`), so it
   * carries the request id like Fastify's `request completed`. `false` or `'silent'`: no line.
   * (Not `logLevel`, which is Fastify's route option and sets the level of the request's logger,
   * which this line still obeys.)
   * @defaultValue 'info'
   */
  endLogLevel?: EndLogLevel
}

/** Options of `reply.sse()`: the stream options plus the event map that types and checks it. */
export interface SseReplyOptions<M extends EventMap = EventMap> extends SseStreamOptions {
  /** Event names mapped to TypeBox schemas of their data. Without it, events are untyped. */
  events?: M
}

export interface ResolvedStreamOptions {
  heartbeatInterval: number
  retry: number | undefined
  highWaterMark: number
  validate: boolean
  onInvalidEvent: InvalidEventPolicy
  onSourceError: SourceErrorPolicy
  maxLastEventIdLength: number
  writeTimeout: number
  maxStreams: number | undefined
  endLogLevel: Exclude<EndLogLevel, 'silent'>
}

export const defaults: ResolvedStreamOptions = {
  heartbeatInterval: 20_000,
  retry: undefined,
  highWaterMark: 64 * 1024,
  validate: true,
  onInvalidEvent: 'skip',
  onSourceError: 'close',
  maxLastEventIdLength: 256,
  writeTimeout: 30_000,
  maxStreams: undefined,
  endLogLevel: 'info'
}

/** What a subscriber's queue does when its client falls too far behind. */
export type OverflowPolicy =
  /** End that client's stream; the client reconnects with `Last-Event-ID` and replays. */
  | 'close'
  /** Drop that client's oldest queued event to make room: lossy, but the stream stays up. */
  | 'drop-oldest'

/**
 * An ioredis client, given to `hub.redis` for its settings: a `Redis` (one server, a Sentinel
 * set-up, TLS options) or a `Cluster`. Only its shape is named here, so the plugin's types do
 * not need ioredis installed.
 */
export interface RedisClientLike {
  readonly isCluster: boolean
  /** The hub opens its own connections with these settings (`duplicate`); it never uses or closes this client. */
  duplicate (...args: never[]): unknown
  readonly options: object
}

/** Options of the broadcast hub (`register(ssePlugin, { hub })`). */
export interface HubOptions {
  /**
   * Shares topics between app instances through Redis Streams. Either a URL (`redis://host:port/db`,
   * `rediss://` for TLS), or an ioredis client whose settings the hub copies: `new Redis({ sentinels,
   * name })` for Sentinel, `new Redis(url, { tls })` for TLS with options, `new Cluster(nodes)` for
   * Redis Cluster. The hub opens its own connections from it (`duplicate()`) and closes them on
   * `fastify.close()`; the client itself stays yours, unused by the hub: create it with
   * `lazyConnect: true` if it has no other use, and close it yourself. Without `redis`, topics
   * live in this process's memory.
   * @defaultValue undefined (in memory)
   */
  redis?: string | RedisClientLike | undefined
  /**
   * Events kept per topic for replay to reconnecting clients.
   * @defaultValue 1000
   */
  retain?: number
  /**
   * Milliseconds after which an event is no longer replayed (and is dropped), on top of `retain`.
   * @defaultValue undefined (no age limit)
   */
  maxAge?: number | undefined
  /**
   * Events each subscriber may have queued, waiting for its connection to take them.
   * @defaultValue 1000
   */
  queueSize?: number
  /** @defaultValue 'close' */
  onOverflow?: OverflowPolicy
  /**
   * Prefix of the Redis keys. A topic is one stream, `prefix{name}`: the braces make the name a
   * hash tag, so on Redis Cluster a topic's keys share a slot. Hence no `{` or `}` here.
   * @defaultValue 'sse:'
   */
  keyPrefix?: string
  /**
   * Milliseconds a Redis command may take before `publish` rejects. A publish that times out
   * rejects with `FST_SSE_HUB_OUTCOME_UNKNOWN`: Redis may still store it.
   * @defaultValue 5000
   */
  redisTimeout?: number
  /**
   * Milliseconds a topic is kept once idle: with no publish, and no subscriber on any instance,
   * for this long, its retained events are dropped (on Redis: the stream key's TTL, refreshed
   * by every publish and, while it has subscribers, by the instances that serve them). A client
   * resuming from an id of a dropped topic gets a `reset`. `undefined`: topics are kept until
   * `topic.delete()`.
   * @defaultValue 86_400_000 (one day)
   */
  topicTtl?: number | undefined
  /**
   * Milliseconds a publish's `idempotencyKey` is remembered, counted from the publish that
   * stored the event: a publish with the same key on the same topic within it stores nothing
   * and resolves with the first id. Make it longer than your longest retry.
   * @defaultValue 120_000 (two minutes, like NATS JetStream's duplicate window)
   */
  idempotencyWindow?: number
}

export interface ResolvedHubOptions {
  redis: string | RedisClientLike | undefined
  retain: number
  maxAge: number | undefined
  queueSize: number
  onOverflow: OverflowPolicy
  keyPrefix: string
  redisTimeout: number
  topicTtl: number | undefined
  idempotencyWindow: number
}

export const hubDefaults: ResolvedHubOptions = {
  redis: undefined,
  retain: 1000,
  maxAge: undefined,
  queueSize: 1000,
  onOverflow: 'close',
  keyPrefix: 'sse:',
  redisTimeout: 5000,
  topicTtl: 24 * 60 * 60 * 1000,
  idempotencyWindow: 120_000
}

/** Checks one option's value and returns it, or throws an error naming the option. */
type Check<T> = (name: string, value: unknown) => T

/** How each option of a group is checked; the keys are the group's known options. */
type Spec<T> = { [K in keyof T]-?: Check<T[K]> }

/** Marks an option whose `undefined` is a value of its own (unset), not "keep the default". */
const UNSETTABLE = Symbol('unsettable')
const unsettable = <T>(check: Check<T>): Check<T | undefined> => Object.assign(check, { [UNSETTABLE]: true })

const integer = (min: number, max: number): Check<number> => (name, value) => checkInteger(name, value, min, max)
const oneOf = <T extends string>(allowed: readonly T[]): Check<T> => (name, value) => checkOneOf(name, value, allowed)
const boolean: Check<boolean> = (name, value) => {
  if (typeof value !== 'boolean') throw invalidOption(name, 'a boolean', value)
  return value
}
const redis: Check<string | RedisClientLike> = (name, value) => {
  if (typeof value === 'string' && /^rediss?:\/\//.test(value)) return value
  if (!isRedisClient(value)) throw invalidOption(name, 'a Redis URL like "redis://127.0.0.1:6379", or an ioredis Redis or Cluster client', value)
  // The hub names its keys itself (keyPrefix); a client that would prefix them again would put
  // them where other instances, configured with a URL, do not look.
  const prefix = (value.options as { keyPrefix?: unknown }).keyPrefix
  if (prefix !== undefined && prefix !== '') throw invalidOption(name, 'a client without ioredis\'s keyPrefix option (set hub.keyPrefix instead)', prefix)
  return value
}
const keyPrefix: Check<string> = (name, value) => {
  if (typeof value !== 'string' || /[{}]/.test(value)) throw invalidOption(name, 'a string without "{" or "}" (each topic name is put in braces, as a Redis Cluster hash tag)', value)
  return value
}

function isRedisClient (value: unknown): value is RedisClientLike {
  if (typeof value !== 'object' || value === null) return false
  const client = value as Partial<RedisClientLike>
  return typeof client.isCluster === 'boolean' && typeof client.duplicate === 'function' && typeof client.options === 'object' && client.options !== null
}

const LOG_LEVELS: ReadonlyArray<Exclude<EndLogLevel, false>> = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']
const endLogLevel: Check<Exclude<EndLogLevel, 'silent'>> = (name, value) => {
  if (value === false || value === 'silent') return false
  if (!LOG_LEVELS.includes(value as Exclude<EndLogLevel, false>)) throw invalidOption(name, `one of ${LOG_LEVELS.map(l => `"${l}"`).join(', ')}, or false`, value)
  return value as Exclude<EndLogLevel, 'silent' | false>
}

const streamSpec: Spec<ResolvedStreamOptions> = {
  heartbeatInterval: integer(0, 2 ** 31 - 1),
  retry: unsettable(integer(0, Number.MAX_SAFE_INTEGER)),
  highWaterMark: integer(1, Number.MAX_SAFE_INTEGER),
  validate: boolean,
  onInvalidEvent: oneOf<InvalidEventPolicy>(['skip', 'error-event', 'close']),
  onSourceError: oneOf<SourceErrorPolicy>(['close', 'error-event']),
  maxLastEventIdLength: integer(0, Number.MAX_SAFE_INTEGER),
  writeTimeout: integer(0, 2 ** 31 - 1),
  maxStreams: integer(1, Number.MAX_SAFE_INTEGER),
  endLogLevel
}

const hubSpec: Spec<ResolvedHubOptions> = {
  redis,
  retain: integer(1, 2 ** 31 - 1),
  maxAge: integer(1, Number.MAX_SAFE_INTEGER),
  queueSize: integer(1, 2 ** 31 - 1),
  onOverflow: oneOf<OverflowPolicy>(['close', 'drop-oldest']),
  keyPrefix,
  redisTimeout: integer(1, 2 ** 31 - 1),
  topicTtl: unsettable(integer(1, Number.MAX_SAFE_INTEGER)),
  idempotencyWindow: integer(1, Number.MAX_SAFE_INTEGER)
}

/**
 * Merges `options` over `base`, checking each given value. `extraKeys` are keys the caller
 * handles itself (like `events` or `hub`); any other unknown key is a typo and fails.
 */
export function resolveStreamOptions (base: ResolvedStreamOptions, options: object | undefined, extraKeys: readonly string[] = []): ResolvedStreamOptions {
  return resolve(streamSpec, base, options, { extraKeys })
}

/** The `hub` plugin option, checked, over the defaults. */
export function resolveHubOptions (options: HubOptions | undefined): ResolvedHubOptions {
  return resolve(hubSpec, hubDefaults, options, { prefix: 'hub.', what: 'hub' })
}

/**
 * The one resolver: each given key must be known to `spec`, and its value pass its check.
 * `undefined` leaves the default, except for an unsettable option, where it means "none"
 * (`retry: undefined` sends no `retry:` line even if the plugin's default has one).
 */
function resolve<T extends object> (spec: Spec<T>, base: T, options: object | undefined,
  { extraKeys = [], prefix = '', what = 'options' }: { extraKeys?: readonly string[], prefix?: string, what?: string }): T {
  if (options === undefined) return base
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw invalidOption(what, `an object of ${what === 'options' ? '' : what + ' '}options`, options)
  }
  const resolved = { ...base }
  const known = Object.keys(spec)
  for (const [key, value] of Object.entries(options) as Array<[string, unknown]>) {
    if (extraKeys.includes(key)) continue
    const name = prefix + key
    if (!Object.hasOwn(spec, key)) {
      throw invalidOption(name, `one of the known ${prefix === '' ? '' : what + ' '}options (${[...known, ...extraKeys].join(', ')})`, key)
    }
    const check = spec[key as keyof T]
    if (value === undefined && !(UNSETTABLE in check)) continue
    resolved[key as keyof T] = value === undefined ? undefined as T[keyof T] : check(name, value)
  }
  return resolved
}

/** An integer option within [min, max], or an error naming the option. */
export function checkInteger (key: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidOption(key, `an integer from ${min} to ${max}`, value)
  }
  return value
}

/** One of the allowed strings, or an error naming the option and the choices. */
export function checkOneOf<T extends string> (key: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) throw invalidOption(key, `one of ${allowed.map(a => `"${a}"`).join(', ')}`, value)
  return value as T
}
