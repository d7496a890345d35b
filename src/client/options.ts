// The client's options, checked when `sseClient()` is called (a wrong value fails there, naming
// the option, rather than at the first reconnect) and resolved with their documented defaults.
import type { EventMap } from '../events.js'
import { invalidOption } from './errors.js'
import type { BackoffSettings } from './backoff.js'
import type { SseClientOptions } from './types.js'

/** Browsers wait about this long before reconnecting; so does the client until told `retry:`. */
const DEFAULT_RETRY = 3000
/** A server's `retry: 0` gets this, not a loop. */
const DEFAULT_MIN_RETRY_DELAY = 500
/** The cap of the backoff: a client of a server that is down tries twice a minute. */
const DEFAULT_MAX_RETRY_DELAY = 30_000
/** A `Retry-After` asking for more than five minutes gets five. */
const DEFAULT_MAX_RETRY_AFTER = 300_000
/** Two heartbeats of the server's default 20 s interval, and then some. */
const DEFAULT_HEARTBEAT_TIMEOUT = 45_000
/** 1 MiB: far above an event a page renders, far below what hurts a tab. */
const DEFAULT_MAX_EVENT_SIZE = 1_048_576
/** Timers take a signed 32-bit number of milliseconds; above it they fire at once. */
const MAX_TIMER = 2 ** 31 - 1

const CALLBACKS = ['fetch', 'onInvalidEvent', 'onOpen', 'onReconnect', 'onComment', 'onStatus'] as const

export interface ClientSettings extends BackoffSettings {
  events: EventMap | undefined
  retry: number
  reconnect: boolean
  validate: boolean
  heartbeatTimeout: number
  maxEventSize: number
}

export function resolveOptions (options: SseClientOptions): ClientSettings {
  if (typeof options !== 'object' || options === null) throw invalidOption('options', 'an object')
  const { events, fetch, body, reconnect = true } = options
  if (events !== undefined && (typeof events !== 'object' || events === null)) {
    throw invalidOption('events', 'an object of TypeBox schemas')
  }
  if (typeof reconnect !== 'boolean') throw invalidOption('reconnect', 'a boolean')
  for (const name of CALLBACKS) {
    if (options[name] !== undefined && typeof options[name] !== 'function') throw invalidOption(name, 'a function')
  }
  if (fetch === undefined && typeof globalThis.fetch !== 'function') {
    throw invalidOption('fetch', 'given where there is no global fetch')
  }
  if (reconnect && typeof ReadableStream === 'function' && body instanceof ReadableStream) {
    throw invalidOption('body', 'readable more than once to be sent again on reconnect (a string, URLSearchParams, Blob or FormData), or reconnect must be false')
  }
  const settings: ClientSettings = {
    events,
    reconnect,
    validate: options.validate !== false,
    retry: milliseconds('retry', options.retry, DEFAULT_RETRY),
    minRetryDelay: milliseconds('minRetryDelay', options.minRetryDelay, DEFAULT_MIN_RETRY_DELAY),
    maxRetryDelay: milliseconds('maxRetryDelay', options.maxRetryDelay, DEFAULT_MAX_RETRY_DELAY),
    maxRetryAfter: milliseconds('maxRetryAfter', options.maxRetryAfter, DEFAULT_MAX_RETRY_AFTER),
    heartbeatTimeout: milliseconds('heartbeatTimeout', options.heartbeatTimeout, DEFAULT_HEARTBEAT_TIMEOUT),
    maxEventSize: integer('maxEventSize', options.maxEventSize, DEFAULT_MAX_EVENT_SIZE, 1, Number.MAX_SAFE_INTEGER, 'a positive integer of characters')
  }
  if (settings.minRetryDelay > settings.maxRetryDelay) {
    throw invalidOption('minRetryDelay', `at most maxRetryDelay (${settings.maxRetryDelay})`)
  }
  return settings
}

function milliseconds (name: string, value: number | undefined, fallback: number): number {
  return integer(name, value, fallback, 0, MAX_TIMER, `an integer of milliseconds from 0 to ${MAX_TIMER}`)
}

function integer (name: string, value: number | undefined, fallback: number, min: number, max: number, expected: string): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw invalidOption(name, expected)
  return value
}
