// How long to wait before connecting again. A fleet of clients that lost the same server must not
// come back in the same millisecond, and a broken server must not be hit in a loop, so the wait
// grows with each failed attempt, is drawn at random below that ("full jitter"), and is held
// between a floor and a ceiling whatever the server says.

/** The client's resolved reconnection settings, in milliseconds. */
export interface BackoffSettings {
  minRetryDelay: number
  maxRetryDelay: number
  maxRetryAfter: number
}

/**
 * The server's `retry:` (or the `retry` option) made safe to use as the base: at least the
 * floor, so `retry: 0` is no loop, and at most the ceiling, so `retry: 3000000000` neither
 * overflows a timer (Node and browsers fire an overflowing one at once) nor waits for weeks.
 */
export function clampRetry (retry: number, settings: BackoffSettings): number {
  return Math.min(Math.max(retry, settings.minRetryDelay), settings.maxRetryDelay)
}

/**
 * The wait before attempt `attempt` (1 for the first after a healthy connection): a random time
 * between the floor and `base × 2^(attempt − 1)`, capped at `maxRetryDelay`.
 */
export function backoffDelay (attempt: number, base: number, settings: BackoffSettings, random: () => number = Math.random): number {
  // 2^31 is past any ceiling a timer accepts; stopping the exponent there keeps it finite.
  const ceiling = Math.min(settings.maxRetryDelay, base * 2 ** Math.min(attempt - 1, 31))
  const floor = Math.min(settings.minRetryDelay, ceiling)
  return Math.round(floor + random() * (ceiling - floor))
}

/**
 * The wait a `Retry-After` header asks for (RFC 9110 §10.2.3: seconds, or an HTTP date), held
 * between the floor and `maxRetryAfter`, plus up to a fifth more at random so that clients
 * told the same date do not return together. `undefined` when absent or unreadable.
 */
export function retryAfterDelay (header: string | null, settings: BackoffSettings, now: number = Date.now(), random: () => number = Math.random): number | undefined {
  if (header === null) return undefined
  const text = header.trim()
  let ms: number
  if (/^\d+$/.test(text)) {
    ms = Number(text) * 1000
  } else {
    // Each of the three HTTP-date forms starts with the day's name; Date.parse alone would
    // also take "-5" or "2" as dates.
    const date = /^[a-z]{3}/i.test(text) ? Date.parse(text) : Number.NaN
    if (Number.isNaN(date)) return undefined
    ms = date - now
  }
  const wait = Math.min(Math.max(ms, settings.minRetryDelay), settings.maxRetryAfter)
  return Math.min(Math.round(wait * (1 + random() / 5)), settings.maxRetryAfter)
}
