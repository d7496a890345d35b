// One connection's request: the caller's headers (fresh from `headers()` each time), `Accept`,
// and the id to resume from, as `Last-Event-ID` or, when a header cannot carry it, as the
// `lastEventId` query parameter the plugin also reads.
import { invalidRequest } from './errors.js'
import type { SseClientOptions } from './types.js'

/**
 * What an HTTP header value can carry unchanged: `Headers` refuses characters above U+00FF,
 * servers refuse control characters, and `fetch` strips spaces at the ends. (Characters from
 * U+0080 to U+00FF travel as single bytes, which Node reads back as the same characters.)
 */
const HEADER_SAFE = /^[\x21-\x7e\x80-\xff](?:[\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?$/

export interface Request {
  input: string | URL
  init: RequestInit
}

/**
 * The request of one connection. Throws `FST_SSE_CLIENT_INVALID_REQUEST` when it cannot be made
 * (`headers()` threw, a header value is invalid): retrying would fail the same way.
 */
export async function buildRequest (url: string | URL, options: SseClientOptions, lastEventId: string | undefined, signal: AbortSignal): Promise<Request> {
  let headers: Headers
  let input = url
  try {
    const given = typeof options.headers === 'function' ? await options.headers() : options.headers
    headers = new Headers(given)
    headers.set('accept', 'text/event-stream')
    headers.delete('last-event-id')
    // An empty id (`id:` with no value) means "no id": nothing to resume from.
    if (lastEventId !== undefined && lastEventId !== '') {
      if (HEADER_SAFE.test(lastEventId)) {
        headers.set('last-event-id', lastEventId)
      } else {
        // A relative URL is resolved against the page, as fetch does.
        const target = new URL(url, (globalThis as { location?: { href: string } }).location?.href)
        target.searchParams.set('lastEventId', lastEventId)
        input = target.href
      }
    }
  } catch (err) {
    throw invalidRequest(err)
  }
  const init: RequestInit = { headers, signal, cache: 'no-store' }
  if (options.credentials !== undefined) init.credentials = options.credentials
  if (options.method !== undefined) init.method = options.method
  if (options.body !== undefined) init.body = options.body
  return { input, init }
}
