// The HTTP edge of one stream: the response headers for HTTP/1.1 and HTTP/2, the id the client
// resumes from, one AbortSignal for "the client went away", writes that respect drain, and the
// write timeout that drops a client that takes nothing.
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify'
import { hasBreakOrNul } from './wire.js'

export interface ConnectionOptions {
  maxLastEventIdLength: number
  /** Milliseconds without progress, while data waits, before the connection is dropped; 0: never. */
  writeTimeout: number
}

/** What a connection tells the stream it carries. */
export interface ConnectionOwner {
  /** The socket has drained. */
  connectionDrained (): void
  /** The stream is over, whoever ended it; called once. */
  connectionClosed (): void
}

// The response's listeners are shared by every connection and find theirs on the response: a
// pair of closures per stream would cost more than the property.
const CONNECTION = Symbol('fastify-typed-sse.connection')
type Response = FastifyReply['raw'] & { [CONNECTION]?: Connection }
function onResponseClose (this: Response): void {
  this[CONNECTION]?.responseClosedEvent()
}
function onResponseDrain (this: Response): void {
  this[CONNECTION]?.responseDrained()
}

export class Connection {
  readonly lastEventId: string | undefined
  /** True after a write the socket could not take at once, until it drains. */
  needsDrain = false
  /** True once the write timeout dropped the connection (a stream end's reason). */
  stalled = false
  // Made on first use of `signal`: an AbortController with its EventTarget is over a kilobyte,
  // and sources that never read the signal (hub subscriptions, arrays) do not pay for it.
  private controller: AbortController | undefined
  private closedBy: Error | undefined
  private readonly raw: Response
  private drainWaiter: (() => void) | undefined
  /** True once the response has emitted 'close': all sent (HTTP/2: the stream closed) or dropped. */
  private responseClosed = false
  private closeWaiter: (() => void) | undefined
  private readonly writeTimeout: number
  // One timer per connection, made on the first write that has to wait and refreshed after.
  private stallTimer: NodeJS.Timeout | undefined
  /** Bytes waiting in the response when the stall timer was (re)armed. */
  private pendingAtArm = 0

  /** Until open(): once the response is ours, Fastify's request and reply are not kept (idle streams count their bytes). */
  private reply: FastifyReply | undefined
  private readonly log: FastifyBaseLogger

  constructor (request: FastifyRequest, reply: FastifyReply, options: ConnectionOptions, private readonly owner: ConnectionOwner) {
    this.reply = reply
    this.log = request.log
    this.raw = reply.raw
    this.writeTimeout = options.writeTimeout
    this.lastEventId = readLastEventId(request, options.maxLastEventIdLength)
    this.raw[CONNECTION] = this
    // 'close' on the response fires when the socket (or HTTP/2 stream) goes away, and also after
    // we end the response ourselves, once it is all sent; either way the stream is over.
    this.raw.once('close', onResponseClose)
    this.raw.on('drain', onResponseDrain)
    if (this.raw.destroyed) {
      // Gone before the stream started: closed, with nobody to tell yet (the stream checks `closed`).
      this.responseClosed = true
      this.closedBy = new Error('the client closed the connection')
      this.raw.removeListener('drain', onResponseDrain)
    }
  }

  /** The response emitted 'close'. */
  responseClosedEvent (): void {
    this.responseClosed = true
    this.closeWaiter?.()
    this.abort(new Error('the client closed the connection'))
  }

  /** The response emitted 'drain'. */
  responseDrained (): void {
    this.needsDrain = false
    this.wake()
    this.owner.connectionDrained()
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
    const reply = this.reply!
    const headers: Record<string, string | number | string[]> = {}
    // Headers set earlier by hooks (CORS, cookies, request ids) go out with ours.
    for (const [name, value] of Object.entries(reply.getHeaders())) {
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
    if (reply.request.raw.httpVersionMajor < 2 && (this.raw as { shouldKeepAlive?: boolean }).shouldKeepAlive !== false) {
      headers.connection = 'keep-alive'
    } else {
      delete headers.connection
    }
    reply.hijack()
    this.reply = undefined
    this.raw.writeHead(200, headers)
    this.raw.flushHeaders()
  }

  write (chunk: string): void {
    if (!this.raw.write(chunk) && !this.needsDrain) {
      this.needsDrain = true
      this.watchForStall()
    }
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

  /**
   * Resolves once the response is over: all of it sent (on HTTP/2, its stream closed, which
   * needs the client to have taken it), or the connection gone.
   */
  finished (): Promise<void> {
    if (this.responseClosed) return Promise.resolve()
    return new Promise(resolve => { this.closeWaiter = resolve })
  }

  /** Drops the connection (HTTP/2: the stream) unless the response is over. */
  destroy (): void {
    if (!this.responseClosed) this.raw.destroy()
  }

  /** Marks the stream as over: aborts the signal, wakes a pending drain wait, drops listeners, tells onclose. */
  abort (reason: Error): void {
    if (this.closed) return
    this.closedBy = reason
    clearTimeout(this.stallTimer)
    // The 'close' listener stays: finished() and destroy() need to know when the response is over.
    this.raw.removeListener('drain', onResponseDrain)
    this.controller?.abort(reason)
    this.wake()
    this.owner.connectionClosed()
  }

  /**
   * Arms the write timeout when a write has to wait. Node reports progress per write (a write
   * leaves the response's buffer once the OS has taken all of it), so when the timer fires, fewer
   * bytes waiting than when it was armed means the client is reading: it is armed again. The
   * same bytes still waiting means the client took nothing for the whole period.
   */
  private watchForStall (): void {
    if (this.writeTimeout === 0) return
    this.pendingAtArm = this.raw.writableLength
    if (this.stallTimer === undefined) {
      this.stallTimer = setTimeout(() => this.checkStall(), this.writeTimeout)
      this.stallTimer.unref()
    } else {
      this.stallTimer.refresh()
    }
  }

  private checkStall (): void {
    if (!this.needsDrain || this.closed) return
    const pending = this.raw.writableLength
    if (pending < this.pendingAtArm) {
      this.pendingAtArm = pending
      this.stallTimer!.refresh()
      return
    }
    this.log.warn({ writeTimeout: this.writeTimeout, pending },
      'fastify-typed-sse: the client took nothing for writeTimeout ms while data waited; its connection was closed')
    this.stalled = true
    this.abort(new Error(`the client took nothing for ${this.writeTimeout} ms (writeTimeout)`))
    this.raw.destroy()
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
  const id = typeof header === 'string' ? headerText(header) : typeof query === 'string' ? query : undefined
  if (id === undefined || id === '') return undefined
  if (id.length > maxLength || hasBreakOrNul(id)) {
    request.log.warn({ length: id.length, maxLength }, 'fastify-typed-sse: ignored an invalid or too long Last-Event-ID')
    return undefined
  }
  return id
}

const NOT_ASCII = /[\u0080-\uffff]/
const NOT_LATIN1 = /[\u0100-\uffff]/
const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * A header value as the text the client meant. Browsers send `Last-Event-ID` as UTF-8 (the id
 * was UTF-8 on the wire when they got it), but Node hands header values over one byte per
 * character (Latin-1), on HTTP/1.1 and HTTP/2 alike: `€42` arrives as `â\x82¬42`. The bytes are
 * all there, so they are decoded again as UTF-8, and the header then agrees with the query
 * parameter. Bytes that are not valid UTF-8 are kept as Latin-1: that is what a client sending
 * one byte per character meant (Node's own `fetch` sends `é` so), and an id that is not one of
 * ours matches nothing anyway.
 */
function headerText (value: string): string {
  // ASCII reads the same either way; a character above U+00FF means the value is not one byte
  // per character (already decoded), so it is taken as it is.
  if (!NOT_ASCII.test(value) || NOT_LATIN1.test(value)) return value
  try {
    return utf8.decode(Buffer.from(value, 'latin1'))
  } catch {
    // Not UTF-8 (see above): the Latin-1 reading is the client's.
    return value
  }
}
