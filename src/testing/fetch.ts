// A `fetch` over node:http with a fresh connection per request. Node's global fetch keeps a
// connection pool, and after an aborted stream it opens a spare connection that holds
// `app.close()` for the pool's keep-alive (about 4 s); a test closes its app right after
// reading a stream, so the helper uses a connection of its own that ends with the request.
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { Readable } from 'node:stream'
import type { FetchLike } from '../client/index.js'

/** Statuses whose responses have no body (the Response constructor refuses one). */
const NULL_BODY = new Set([101, 103, 204, 205, 304])

export const nodeFetch: FetchLike = async (input, init) => {
  const url = new URL(input)
  const headers = new Headers(init.headers)
  let body: Uint8Array | undefined
  if (init.body !== undefined && init.body !== null) {
    // Response turns any BodyInit into bytes and names its type (form data, URLSearchParams).
    const wrapped = new Response(init.body)
    body = new Uint8Array(await wrapped.arrayBuffer())
    const type = wrapped.headers.get('content-type')
    if (type !== null && !headers.has('content-type')) headers.set('content-type', type)
  }
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest
  return new Promise<Response>((resolve, reject) => {
    const request = send(url, {
      method: init.method ?? 'GET',
      headers: Object.fromEntries(headers),
      agent: false,
      ...(init.signal === undefined || init.signal === null ? {} : { signal: init.signal })
    })
    request.once('error', reject)
    request.once('response', (response: IncomingMessage) => {
      const status = response.statusCode ?? 0
      const responseHeaders = new Headers()
      for (const [name, value] of Object.entries(response.headers)) {
        for (const one of Array.isArray(value) ? value : [value]) if (one !== undefined) responseHeaders.append(name, one)
      }
      const stream = NULL_BODY.has(status) ? null : Readable.toWeb(response) as unknown as ReadableStream<Uint8Array>
      if (stream === null) response.resume()
      resolve(new Response(stream, { status, statusText: response.statusMessage ?? '', headers: responseHeaders }))
    })
    request.end(body)
  })
}
