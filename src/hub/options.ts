// The `hub` plugin option: its type, defaults, and the check that fails `register`.
import { invalidOption } from '../errors.js'
import { checkInteger, checkOneOf } from '../options.js'

/** What a subscriber's queue does when its client falls too far behind. */
export type OverflowPolicy =
  /** End that client's stream; the client reconnects with `Last-Event-ID` and replays. */
  | 'close'
  /** Drop that client's oldest queued event to make room: lossy, but the stream stays up. */
  | 'drop-oldest'

/** Options of the broadcast hub (`register(ssePlugin, { hub })`). */
export interface HubOptions {
  /**
   * A Redis URL (`redis://host:port/db`) to share topics between app instances through Redis
   * Streams. Without it, topics live in this process's memory.
   * @defaultValue undefined (in memory)
   */
  redis?: string | undefined
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
   * Prefix of the Redis keys (one stream per topic: prefix + topic name).
   * @defaultValue 'sse:'
   */
  keyPrefix?: string
  /**
   * Milliseconds a Redis command may take before `publish` rejects.
   * @defaultValue 5000
   */
  redisTimeout?: number
}

export interface ResolvedHubOptions {
  redis: string | undefined
  retain: number
  maxAge: number | undefined
  queueSize: number
  onOverflow: OverflowPolicy
  keyPrefix: string
  redisTimeout: number
}

export const hubDefaults: ResolvedHubOptions = {
  redis: undefined,
  retain: 1000,
  maxAge: undefined,
  queueSize: 1000,
  onOverflow: 'close',
  keyPrefix: 'sse:',
  redisTimeout: 5000
}

const overflowPolicies: readonly OverflowPolicy[] = ['close', 'drop-oldest']

export function resolveHubOptions (options: HubOptions | undefined): ResolvedHubOptions {
  if (options === undefined) return hubDefaults
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw invalidOption('hub', 'an object of hub options', options)
  const resolved = { ...hubDefaults }
  for (const [key, value] of Object.entries(options) as Array<[string, unknown]>) {
    if (value === undefined) continue
    const name = `hub.${key}`
    switch (key) {
      case 'redis':
        if (typeof value !== 'string' || !/^rediss?:\/\//.test(value)) throw invalidOption(name, 'a Redis URL like "redis://127.0.0.1:6379"', value)
        resolved.redis = value
        break
      case 'retain':
        resolved.retain = checkInteger(name, value, 1, 2 ** 31 - 1)
        break
      case 'maxAge':
        resolved.maxAge = checkInteger(name, value, 1, Number.MAX_SAFE_INTEGER)
        break
      case 'queueSize':
        resolved.queueSize = checkInteger(name, value, 1, 2 ** 31 - 1)
        break
      case 'redisTimeout':
        resolved.redisTimeout = checkInteger(name, value, 1, 2 ** 31 - 1)
        break
      case 'onOverflow':
        resolved.onOverflow = checkOneOf(name, value, overflowPolicies)
        break
      case 'keyPrefix':
        if (typeof value !== 'string') throw invalidOption(name, 'a string', value)
        resolved.keyPrefix = value
        break
      default:
        throw invalidOption(name, `one of the known hub options (${Object.keys(hubDefaults).join(', ')})`, key)
    }
  }
  return resolved
}
