// One response's loop: pull an event, check and encode it, batch it, write it; heartbeats; what
// ends the stream. Disconnect, backpressure and heartbeat live here and nowhere else.
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify'
import { Connection } from './connection.js'
import { encodeFrame, HEARTBEAT } from './wire.js'
import { invalidSource, replySent, type SseError } from './errors.js'
import type { EventIterable, EventMap, SseContext, SseSource, UntypedEvent } from './events.js'
import { createEventEncoder, type EventEncoder } from './encoder.js'
import type { ResolvedStreamOptions } from './options.js'

/** The streams a plugin instance has open, so `fastify.close()` can end them. */
export type OpenStreams = Set<SseStream>

/** The JSON sent as `data` of an `error` event under the `error-event` policies. */
export interface SseErrorData {
  code: string
  message: string
  /** For an invalid event: its name. */
  event?: string
  /** For an invalid event: where in its data the schema check failed. */
  path?: string
}

type Pull = IteratorResult<unknown> | PromiseLike<IteratorResult<unknown>>

/**
 * Starts a stream on `reply`. Resolves when the stream has ended. Rejects only before the
 * response has started (the source could not be opened, or threw before its first event and
 * before it waited on anything), so Fastify's error handler answers with a normal HTTP error.
 */
export async function startStream (
  request: FastifyRequest,
  reply: FastifyReply,
  source: SseSource<UntypedEvent>,
  events: EventMap | undefined,
  options: ResolvedStreamOptions,
  open: OpenStreams
): Promise<void> {
  if (reply.sent || reply.raw.headersSent) throw replySent()
  // A map given to reply.sse() is checked at its first call (a route's, when it is declared).
  const { method, url } = request.routeOptions
  const encode = createEventEncoder({ events, validate: options.validate, origin: { option: 'events', where: `reply.sse() in route ${String(method)} ${url ?? ''}` } })
  const conn = new Connection(request, reply, options.maxLastEventIdLength)
  const context: SseContext = {
    get signal () { return conn.signal },
    lastEventId: conn.lastEventId
  }

  let iterator: Iterator<unknown> | AsyncIterator<unknown>
  let first: Promise<IteratorResult<unknown>>
  try {
    const iterable = typeof source === 'function' ? await source(context) : source
    iterator = iteratorOf(iterable)
    first = Promise.resolve(iterator.next())
  } catch (err) {
    conn.abort(asError(err))
    throw err
  }

  // Wait for the first event for at most one turn of the event loop. A source that fails at
  // once (a missing record, a bad parameter) still gets a proper HTTP status; a source that is
  // waiting on I/O or a timer gets its headers now, so the client's `open` fires without delay.
  const early = await Promise.race([
    first.then(result => ({ result }), (error: unknown) => ({ error })),
    new Promise<undefined>(resolve => setImmediate(resolve, undefined))
  ])
  if (early !== undefined && 'error' in early) {
    conn.abort(asError(early.error))
    throw early.error
  }
  const stream = new SseStream(request.log, conn, iterator, encode, options, open)
  if (conn.closed) {
    stream.stop()
    return
  }
  return stream.run(early?.result ?? first)
}

export class SseStream {
  private batch = ''
  private flushScheduled = false
  private lastWrite = 0
  private heartbeat: NodeJS.Timeout | undefined
  private iterating = true
  private stopped = false
  private cleanup: Promise<void> | undefined

  constructor (
    private readonly log: FastifyBaseLogger,
    private readonly conn: Connection,
    private readonly iterator: Iterator<unknown> | AsyncIterator<unknown>,
    private readonly encode: EventEncoder,
    private readonly options: ResolvedStreamOptions,
    private readonly open: OpenStreams
  ) {
    // Whatever the loop is awaiting, a disconnect stops the stream now: the source's signal
    // aborts (the Connection's), and stop() abandons the pending pull and calls return().
    conn.onclose = () => this.stop()
    conn.ondrain = () => this.flush()
  }

  async run (pending: Pull): Promise<void> {
    const { conn, options } = this
    try {
      conn.open()
    } catch (err) {
      this.stop()
      throw err
    }
    this.open.add(this)
    this.lastWrite = Date.now()
    if (options.retry !== undefined) this.push(encodeFrame({ retry: options.retry }))
    if (options.heartbeatInterval > 0) this.armHeartbeat(options.heartbeatInterval)
    let next: Pull | undefined = pending
    try {
      while (!conn.closed) {
        // Backpressure: with a full batch and a socket that has not drained, stop pulling. The
        // source is not asked for more until the client takes what it has.
        if (this.batch.length >= options.highWaterMark) {
          if (conn.needsDrain) await conn.drained()
          this.flush()
          continue
        }
        let result: IteratorResult<unknown>
        try {
          result = await (next ?? this.iterator.next())
          next = undefined
        } catch (err) {
          if (!conn.closed) this.sourceFailed(err)
          return
        }
        if (conn.closed) return
        if (result.done === true) {
          this.iterating = false
          return
        }
        const frame = this.encode(result.value as UntypedEvent)
        if (typeof frame === 'string') this.push(frame)
        else if (!this.invalidEvent(frame)) return
      }
    } finally {
      this.end()
    }
  }

  /** Ends the stream from outside (server closing); resolves once the source has cleaned up. */
  close (): Promise<void> {
    this.end()
    return this.cleanup ?? Promise.resolve()
  }

  /**
   * Stops pulling: clears the heartbeat, forgets the stream, and calls the source's return()
   * so its `finally` runs (at once if it awaits something that honours the signal).
   */
  stop (): void {
    if (this.stopped) return
    this.stopped = true
    clearTimeout(this.heartbeat)
    this.open.delete(this)
    this.conn.abort(new Error('the stream was stopped'))
    if (this.iterating && typeof this.iterator.return === 'function') {
      this.iterating = false
      this.cleanup = Promise.resolve()
        .then(() => this.iterator.return?.())
        .then(() => undefined, (err: unknown) => {
          this.log.error({ err }, 'fastify-typed-sse: the source threw while cleaning up')
        })
    }
  }

  private end (): void {
    if (!this.conn.closed) {
      this.writeBatch()
      this.conn.end()
    }
    this.stop()
  }

  private push (frame: string): void {
    if (frame === '') return
    this.batch += frame
    // Everything the source yields before the event loop turns goes out in one write.
    if (!this.flushScheduled) {
      this.flushScheduled = true
      scheduleFlush(this)
    }
  }

  /** Called once per turn of the event loop for a stream that has batched something. */
  scheduledFlush (): void {
    this.flushScheduled = false
    this.flush()
  }

  /** Writes the batch unless the socket is still draining; then the drain writes it. */
  private flush (): void {
    if (!this.conn.needsDrain) this.writeBatch()
  }

  private writeBatch (): void {
    if (this.batch === '' || this.conn.closed) return
    this.conn.write(this.batch)
    this.batch = ''
    this.lastWrite = Date.now()
  }

  private armHeartbeat (delay: number): void {
    this.heartbeat = setTimeout(() => {
      if (this.conn.closed) return
      const interval = this.options.heartbeatInterval
      const idle = Date.now() - this.lastWrite
      if (idle >= interval) {
        // A heartbeat only matters on a quiet line; a draining socket is not quiet.
        if (this.batch === '' && !this.conn.needsDrain) this.conn.write(HEARTBEAT)
        this.lastWrite = Date.now()
        this.armHeartbeat(interval)
      } else {
        this.armHeartbeat(interval - idle)
      }
    }, delay)
    this.heartbeat.unref()
  }

  /** Applies the invalid-event policy. Returns false when the stream must end. */
  private invalidEvent (error: SseError): boolean {
    const policy = this.options.onInvalidEvent
    this.log.error({ err: error }, 'fastify-typed-sse: an invalid event was not sent')
    if (policy === 'close') return false
    if (policy === 'error-event') {
      const data: SseErrorData = { code: error.code, message: error.message }
      if ('event' in error) data.event = error.event as string
      if ('path' in error) data.path = error.path as string
      this.push(errorFrame(data))
    }
    return true
  }

  private sourceFailed (err: unknown): void {
    this.iterating = false
    this.log.error({ err }, 'fastify-typed-sse: the source threw after the stream started')
    if (this.options.onSourceError === 'error-event') {
      this.push(errorFrame({ code: 'FST_SSE_SOURCE_FAILED', message: 'the event source failed' }))
    }
  }
}

// One setImmediate per turn for every stream with a batch, not one per stream: a broadcast to
// thousands of subscribers then costs one timer and one loop over their writes.
let dirty: SseStream[] = []
function scheduleFlush (stream: SseStream): void {
  if (dirty.push(stream) === 1) setImmediate(flushAll)
}
function flushAll (): void {
  const streams = dirty
  dirty = []
  for (const stream of streams) stream.scheduledFlush()
}

function errorFrame (data: SseErrorData): string {
  return encodeFrame({ event: 'error', data: JSON.stringify(data) }, true)
}

function iteratorOf (iterable: EventIterable<unknown>): Iterator<unknown> | AsyncIterator<unknown> {
  if (iterable !== null && typeof iterable === 'object') {
    if (Symbol.asyncIterator in iterable) return iterable[Symbol.asyncIterator]()
    if (Symbol.iterator in iterable && typeof iterable !== 'string') return iterable[Symbol.iterator]()
  }
  throw invalidSource(iterable)
}

function asError (value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value))
}
