// The HTTP edge of one stream: the response headers for HTTP/1.1 and HTTP/2, the id the client
// resumes from, one AbortSignal for "the client went away", and writes that respect drain.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { hasBreakOrNul } from './wire.js'

export class Connection {
  readonly lastEventId: string | undefined
  /** True after a write the socket could not take at once, until it drains. */
  needsDrain = false
  /** Called when the socket has drained. */
  ondrain: (() => void) | undefined
  /** Called once when the stream is over, whoever ended it. */
  onclose: (() => void) | undefined
  // Made on first use of `signal`: an AbortController with its EventTarget is over a kilobyte,
  // and sources that never read the signal (hub subscriptions, arrays) do not pay for it.
  private controller: AbortController | undefined
  private closedBy: Error | undefined
  private readonly raw: FastifyReply['raw']
  private drainWaiter: (() => void) | undefined
  private readonly onClose: () => void
  private readonly onDrain: () => void

  constructor (private readonly request: FastifyRequest, private readonly reply: FastifyReply, maxLastEventIdLength: number) {
    this.raw = reply.raw
    this.lastEventId = readLastEventId(request, maxLastEventIdLength)
    this.onClose = () => this.abort(new Error('the client closed the connection'))
    this.onDrain = () => {
      this.needsDrain = false
      this.wake()
      this.ondrain?.()
    }
    // 'close' on the response fires when the socket (or HTTP/2 stream) goes away, and also after
    // we end the response ourselves; either way the stream is over.
    this.raw.once('close', this.onClose)
    this.raw.on('drain', this.onDrain)
    if (this.raw.destroyed) this.onClose()
  }

  /** Aborts when the client goes away or the stream ends. */
  get signal (): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController()
      if (this.closedBy !== undefined) this.controller.abort(this.closedBy)
    }
    return this.controller.signal
  }

  get closed (): boolean {
    return this.closedBy !== undefined
  }

  /** Bytes the socket holds that the client has not taken yet. */
  get buffered (): number {
    return this.raw.writableLength
  }

  /** Takes the response over from Fastify and sends the headers at once, so `open` fires. */
  open (): void {
    const headers: Record<string, string | number | string[]> = {}
    // Headers set earlier by hooks (CORS, cookies, request ids) go out with ours.
    for (const [name, value] of Object.entries(this.reply.getHeaders())) {
      if (value !== undefined) headers[name] = value
    }
    headers['content-type'] = 'text/event-stream; charset=utf-8'
    // no-transform keeps proxies that compress or rewrite bodies from buffering the stream.
    headers['cache-control'] = 'no-cache, no-transform'
    // nginx buffers proxied responses unless told not to.
    headers['x-accel-buffering'] = 'no'
    // Connection-specific headers are forbidden in HTTP/2 (RFC 9113 §8.2.2). On HTTP/1.1 the
    // header is only said out loud when Node will keep the connection: a client that sent
    // `Connection: close` gets its socket closed when the stream ends.
    if (this.request.raw.httpVersionMajor < 2 && (this.raw as { shouldKeepAlive?: boolean }).shouldKeepAlive !== false) {
      headers.connection = 'keep-alive'
    } else {
      delete headers.connection
    }
    this.reply.hijack()
    this.raw.writeHead(200, headers)
    this.raw.flushHeaders()
  }

  write (chunk: string): void {
    if (!this.raw.write(chunk)) this.needsDrain = true
  }

  /** Resolves when the socket has room again or the connection is gone. */
  drained (): Promise<void> {
    return new Promise(resolve => {
      if (this.closed) resolve()
      else this.drainWaiter = resolve
    })
  }

  /** Ends the response cleanly (the chunked terminator on HTTP/1.1, END_STREAM on HTTP/2). */
  end (): void {
    if (!this.raw.writableEnded) this.raw.end()
    this.abort(new Error('the stream ended'))
  }

  /** Marks the stream as over: aborts the signal, wakes a pending drain wait, drops listeners, tells onclose. */
  abort (reason: Error): void {
    if (this.closed) return
    this.closedBy = reason
    this.raw.removeListener('close', this.onClose)
    this.raw.removeListener('drain', this.onDrain)
    this.controller?.abort(reason)
    this.wake()
    this.onclose?.()
  }

  private wake (): void {
    const waiter = this.drainWaiter
    this.drainWaiter = undefined
    waiter?.()
  }
}

/**
 * The id to resume from: the `Last-Event-ID` header a browser sends when it reconnects, or a
 * `lastEventId` query parameter for polyfills and first connections that cannot set headers.
 * Too long, or holding CR/LF/NUL, it is ignored: it came from the client and is not trusted.
 */
function readLastEventId (request: FastifyRequest, maxLength: number): string | undefined {
  const header = request.headers['last-event-id']
  const query = (request.query as Record<string, unknown> | undefined)?.lastEventId
  const id = typeof header === 'string' ? header : typeof query === 'string' ? query : undefined
  if (id === undefined || id === '') return undefined
  if (id.length > maxLength || hasBreakOrNul(id)) {
    request.log.warn({ length: id.length, maxLength }, 'fastify-typed-sse: ignored an invalid or too long Last-Event-ID')
    return undefined
  }
  return id
}
