// A raw TCP client: sends a hand-written HTTP/1.1 request and exposes the exact bytes received,
// so tests can assert whole frames and headers rather than what a client library makes of them.
import { connect, type Socket } from 'node:net'
import { createParser, type EventSourceMessage } from 'eventsource-parser'

export interface RawResponse {
  socket: Socket
  /** The status line and headers, lower-cased names. */
  status: number
  headers: Record<string, string>
  /** The body so far, with HTTP/1.1 chunked framing removed. */
  body (): string
  /** Events parsed from the body so far by eventsource-parser. */
  events: EventSourceMessage[]
  /** Resolves when the body satisfies `predicate` (10 s at most). */
  waitFor (predicate: (body: string) => boolean, what?: string): Promise<string>
  /** True once the zero-size chunk that ends a chunked response has arrived. */
  terminated (): boolean
  /** Resolves when the server ends or closes the connection. */
  ended: Promise<void>
  close (): void
}

/**
 * `options.encoding` is how the request head is turned into bytes: UTF-8 (as browsers send
 * non-ASCII header values), or `latin1` for one byte per character (as Node's fetch does).
 */
export async function rawGet (port: number, path: string, headers: Record<string, string> = {}, options: { encoding?: BufferEncoding } = {}): Promise<RawResponse> {
  const socket = connect({ port, host: '127.0.0.1' })
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  const head = Object.entries({ host: `127.0.0.1:${port}`, accept: 'text/event-stream', ...headers })
    .map(([name, value]) => `${name}: ${value}\r\n`).join('')
  socket.write(`GET ${path} HTTP/1.1\r\n${head}\r\n`, options.encoding ?? 'utf8')

  let raw = Buffer.alloc(0)
  let body = ''
  let headerDone = false
  let status = 0
  const responseHeaders: Record<string, string> = {}
  const events: EventSourceMessage[] = []
  const parser = createParser({ onEvent: event => events.push(event) })
  const waiters = new Set<() => void>()
  let ended = false
  let terminated = false
  let chunkedBuffer = Buffer.alloc(0)
  const decoder = new TextDecoder()

  const onBodyBytes = (bytes: Buffer): void => {
    const text = decoder.decode(bytes, { stream: true })
    body += text
    parser.feed(text)
  }
  // De-chunks as bytes arrive; the chunked framing itself is checked by these parse steps.
  const onChunked = (): void => {
    for (;;) {
      const lineEnd = chunkedBuffer.indexOf('\r\n')
      if (lineEnd === -1) return
      const size = parseInt(chunkedBuffer.subarray(0, lineEnd).toString(), 16)
      if (Number.isNaN(size)) throw new Error('bad chunk size line')
      if (chunkedBuffer.length < lineEnd + 2 + size + 2) return
      onBodyBytes(chunkedBuffer.subarray(lineEnd + 2, lineEnd + 2 + size))
      chunkedBuffer = chunkedBuffer.subarray(lineEnd + 2 + size + 2)
      if (size === 0) {
        terminated = true
        socket.end()
      }
    }
  }
  const notify = (): void => { for (const waiter of [...waiters]) waiter() }

  let resolveHeaders: () => void
  const headersReady = new Promise<void>(resolve => { resolveHeaders = resolve })
  socket.on('data', (data: Buffer) => {
    if (!headerDone) {
      raw = Buffer.concat([raw, data])
      const end = raw.indexOf('\r\n\r\n')
      if (end === -1) return
      const lines = raw.subarray(0, end).toString('latin1').split('\r\n')
      status = Number(lines[0]?.split(' ')[1])
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':')
        responseHeaders[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
      }
      headerDone = true
      data = raw.subarray(end + 4)
      resolveHeaders()
    }
    if (responseHeaders['transfer-encoding'] === 'chunked') {
      chunkedBuffer = Buffer.concat([chunkedBuffer, data])
      onChunked()
    } else {
      onBodyBytes(data)
    }
    notify()
  })
  const endedPromise = new Promise<void>(resolve => socket.once('close', () => { ended = true; notify(); resolve() }))
  // A reset after the server ends the stream is expected; 'close' above reports the end.
  socket.on('error', () => {})
  await Promise.race([headersReady, endedPromise])

  return {
    socket,
    status,
    headers: responseHeaders,
    body: () => body,
    terminated: () => terminated,
    events,
    ended: endedPromise,
    close: () => socket.destroy(),
    waitFor (predicate, what = 'body') {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => { waiters.delete(check); reject(new Error(`timed out waiting for ${what}; body so far: ${JSON.stringify(body)}`)) }, 10_000)
        const check = (): void => {
          if (predicate(body)) { clearTimeout(timer); waiters.delete(check); resolve(body) } else if (ended) { clearTimeout(timer); waiters.delete(check); reject(new Error(`connection ended before ${what}; body: ${JSON.stringify(body)}`)) }
        }
        waiters.add(check)
        check()
      })
    }
  }
}
