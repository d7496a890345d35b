// Options, their defaults, and the check that fails `register` with a message naming the option.
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
   * Bytes the socket may hold unsent before the source is no longer pulled. Memory per slow
   * client stays near this figure (plus at most one more batch of the same size while it fills).
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
}

export const defaults: ResolvedStreamOptions = {
  heartbeatInterval: 20_000,
  retry: undefined,
  highWaterMark: 64 * 1024,
  validate: true,
  onInvalidEvent: 'skip',
  onSourceError: 'close',
  maxLastEventIdLength: 256
}

const invalidEventPolicies: readonly InvalidEventPolicy[] = ['skip', 'error-event', 'close']
const sourceErrorPolicies: readonly SourceErrorPolicy[] = ['close', 'error-event']
const streamKeys = new Set<string>(Object.keys(defaults))

/**
 * Merges `options` over `base`, checking each given value. `extraKeys` are keys the caller
 * handles itself (like `events` or `hub`); any other unknown key is a typo and fails.
 */
export function resolveStreamOptions (base: ResolvedStreamOptions, options: object | undefined, extraKeys: readonly string[] = []): ResolvedStreamOptions {
  if (options === undefined) return base
  if (typeof options !== 'object' || options === null) throw invalidOption('options', 'an object', options)
  const resolved = { ...base }
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined && key !== 'retry') continue
    if (!streamKeys.has(key)) {
      if (extraKeys.includes(key)) continue
      throw invalidOption(key, `one of the known options (${[...streamKeys, ...extraKeys].join(', ')})`, key)
    }
    switch (key) {
      case 'heartbeatInterval':
        resolved.heartbeatInterval = checkInteger(key, value, 0, 2 ** 31 - 1)
        break
      case 'retry':
        resolved.retry = value === undefined ? undefined : checkInteger(key, value, 0, Number.MAX_SAFE_INTEGER)
        break
      case 'highWaterMark':
        resolved.highWaterMark = checkInteger(key, value, 1, Number.MAX_SAFE_INTEGER)
        break
      case 'maxLastEventIdLength':
        resolved.maxLastEventIdLength = checkInteger(key, value, 0, Number.MAX_SAFE_INTEGER)
        break
      case 'validate':
        if (typeof value !== 'boolean') throw invalidOption(key, 'a boolean', value)
        resolved.validate = value
        break
      case 'onInvalidEvent':
        resolved.onInvalidEvent = checkOneOf(key, value, invalidEventPolicies)
        break
      case 'onSourceError':
        resolved.onSourceError = checkOneOf(key, value, sourceErrorPolicies)
        break
    }
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
