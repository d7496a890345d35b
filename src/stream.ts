// One response's loop: pull an event, check and encode it, batch it, write it; heartbeats; what
// ends the stream. Disconnect, backpressure and heartbeat live here and nowhere else.
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify'
import { Connection, type ConnectionOwner } from './connection.js'
import { encodeFrame, HEARTBEAT } from './wire.js'
import { invalidSource, replySent, sourceFailed, type SseError, type SseErrorCode } from './errors.js'
import type { EventIterable, EventMap, SseContext, SseSource, UntypedEvent } from './events.js'
import { eventEncoderOf, type EventEncoder } from './encoder.js'
import type { ResolvedStreamOptions } from './options.js'
import type { StreamRegistry, TrackedStream } from './registry.js'
import {
  END_REASON, invalidEventChannel, sourceErrorChannel, streamEndChannel, streamStartChannel, type SseStreamEndReason
} from './diagnostics.js'
import { ATTACH_SINK, canPush, type FrameSink } from './sink.js'
import { type Beating, startHeartbeat, stopHeartbeat } from './heartbeat.js'

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
 * Events pulled per turn of the event loop, however small: with `highWaterMark` bytes, the
 * stream's share of a turn. Events of the usual tens of bytes and up reach `highWaterMark` first;
 * this bounds sources whose events are tiny, skipped or encode to nothing.
 */
export const PULLS_PER_TURN = 1024

/**
 * What an `error` event says for each code: fixed text, so nothing from the data, the source or
 * its errors (a value, a `toJSON` that throws with a connection string) reaches the client. The
 * full error is logged.
 */
export const ERROR_EVENT_MESSAGES = {
  FST_SSE_INVALID_EVENT: 'an invalid event was not sent',
  FST_SSE_NOT_AN_EVENT: 'a value that is not an event was not sent',
  FST_SSE_UNKNOWN_EVENT: 'an event whose name is not in the event map was not sent',
  FST_SSE_INVALID_FIELD: 'an event whose event name, id, retry or comment is invalid was not sent',
  FST_SSE_UNSERIALIZABLE: 'an event whose data could not be serialized was not sent',
  FST_SSE_SOURCE_FAILED: 'the event source failed'
} as const satisfies Partial<Record<SseErrorCode, string>>

/**
 * Starts a stream on `reply`. Resolves once the response has started (or the stream ended before
 * it could: the server is closing, the client left), not when the stream ends: an idle stream
 * then holds nothing of the handler's or of Fastify's request and reply. Rejects only before the
 * response has started (a limit is reached, the source could not be opened, or it threw before
 * its first event and before it waited on anything), so Fastify's error handler answers with a
 * normal HTTP error.
 */
export function startStream (
  request: FastifyRequest,
  reply: FastifyReply,
  source: SseSource<UntypedEvent>,
  events: EventMap | undefined,
  options: ResolvedStreamOptions,
  registry: StreamRegistry
): Promise<void> {
  // Not an async function: one that awaited start() would keep its own frame and promise alive
  // for the whole life of the stream (idle streams count their bytes).
  let stream: SseStream
  try {
    if (reply.sent || reply.raw.headersSent) throw replySent()
    // A map given to reply.sse() is checked at its first call (a route's, when it is declared).
    const { method, url } = request.routeOptions
    const encode = eventEncoderOf(events, options.validate, () => ({ option: 'events', where: `reply.sse() in route ${String(method)} ${url ?? ''}` }))
    stream = new SseStream(request, reply, encode, options, registry)
  } catch (err) {
    return Promise.reject(err)
  }
  return stream.start(source)
}

const STOPPED = Symbol('stopped')

export class SseStream implements TrackedStream, FrameSink, Beating, ConnectionOwner {
  // The batch is `measured` (whose UTF-8 size is `measuredBytes`) followed by `unmeasured`.
  // Measuring every frame would cost more than encoding it; UTF-8 takes 1 to 3 bytes per
  // UTF-16 unit, so the unmeasured part is measured only once it could reach highWaterMark.
  private measured = ''
  private measuredBytes = 0
  private unmeasured = ''
  private flushScheduled = false
  private lastWrite = 0
  private beating = false
  private iterator: Iterator<unknown> | AsyncIterator<unknown> | undefined
  private iterating = false
  private running = false
  /** True while the loop waits on the source's next(): a pushing source may then hand frames over (sink.ts). */
  private pulling = false
  private stopped = false
  /** Settles a start that is waiting on the source function when the stream is stopped. */
  private interrupt: ((value: typeof STOPPED) => void) | undefined
  private cleanup: Promise<void> | undefined
  private readonly log: FastifyBaseLogger
  private readonly conn: Connection
  // Observability (stats(), diagnostics channels, the end log line): plain fields, counted here.
  /** `METHOD url-pattern`, set when the response starts: the stream then counts as open. */
  route: string | undefined
  /** Events sent (the source's; not heartbeats, `retry:` or error events). */
  events = 0
  /** Bytes written (UTF-8). */
  bytes = 0
  private openedAt = 0
  /** Why it ends, when the stream decides it; unset, the client left (or stalled). */
  private reason: SseStreamEndReason | undefined
  /** Until the stream runs: then the response is ours, and Fastify's reply is not kept. */
  private reply: FastifyReply | undefined

  constructor (
    // Kept for the diagnostics channels, which hand it to their subscribers.
    private readonly request: FastifyRequest,
    reply: FastifyReply,
    private readonly encode: EventEncoder,
    private readonly options: ResolvedStreamOptions,
    private readonly registry: StreamRegistry
  ) {
    this.log = request.log
    this.reply = reply
    registry.admit(this, request, options.maxStreams)
    this.conn = new Connection(request, reply, options, this)
  }

  // Whatever the loop is awaiting, a disconnect stops the stream now: the source's signal
  // aborts (the Connection's), and stop() abandons the pending pull and calls return().
  connectionClosed (): void {
    this.stop()
  }

  connectionDrained (): void {
    this.flush()
  }

  async start (source: SseSource<UntypedEvent>): Promise<void> {
    const { conn } = this
    // During fastify.close() the source is not even called: the client gets an empty stream
    // and reconnects (to another instance, or to this one once it is back).
    if (this.registry.closing || conn.closed) return this.endEarly()
    const context: SseContext = {
      get signal () { return conn.signal },
      lastEventId: conn.lastEventId
    }
    let first: Promise<IteratorResult<unknown>>
    try {
      const made = typeof source === 'function' ? source(context) : source
      const iterable = isPromiseLike(made) ? await this.unlessStopped(made) : made
      if (iterable === STOPPED) return this.endEarly()
      this.iterator = iteratorOf(iterable)
      if (canPush(this.iterator)) this.iterator[ATTACH_SINK](this)
      this.iterating = true
      first = Promise.resolve(this.iterator.next())
    } catch (err) {
      this.conn.abort(asError(err))
      this.stop()
      throw err
    }

    // Wait for the first event for at most one turn of the event loop. A source that fails at
    // once (a missing record, a bad parameter) still gets a proper HTTP status; a source that is
    // waiting on I/O or a timer gets its headers now, so the client's `open` fires without delay.
    const early = await Promise.race([
      first.then(result => ({ result }), (error: unknown) => ({ error })),
      new Promise<undefined>(resolve => setImmediate(resolve, undefined))
    ])
    if (this.stopped) return this.endEarly()
    if (early !== undefined && 'error' in early) {
      this.iterating = false
      this.conn.abort(asError(early.error))
      this.stop()
      throw early.error
    }
    try {
      this.conn.open()
    } catch (err) {
      this.stop()
      throw err
    }
    this.opened()
    this.reply = undefined
    // The stream runs on its own from here, and this promise settles: the loop's own promise
    // then has no listener, and the handler's (which Fastify waits on) no longer lasts as long
    // as the stream (idle streams count their bytes).
    // run() catches everything itself; a .catch() would add a promise and a reaction per stream.
    // eslint-disable-next-line no-void
    void this.run(early?.result ?? first)
  }

  /**
   * Waits for the source function, unless the stream is stopped first (the client left, or
   * the server is closing). What the function gives later is then closed at once.
   */
  private unlessStopped<T> (made: PromiseLike<T>): Promise<T | typeof STOPPED> {
    const stopped = new Promise<typeof STOPPED>(resolve => { this.interrupt = resolve })
    return Promise.race([made, stopped]).then(result => {
      this.interrupt = undefined
      if (result === STOPPED) {
        Promise.resolve(made).then(late => iteratorOf(late as EventIterable<unknown>).return?.()).catch((err: unknown) => {
          // Often the AbortError of the signal that told it to stop: not worth more than debug.
          this.log.debug({ err }, 'fastify-typed-sse: a source that was still starting failed or threw while closing after its stream had ended')
        })
      }
      return result
    })
  }

  /**
   * Ends a stream that never ran: the server is closing, or the client left while the source
   * was starting. An open connection gets an empty stream, so an EventSource reconnects.
   */
  private endEarly (): void {
    this.reason ??= this.registry.closing ? 'server-closing' : 'client-gone'
    const { reply } = this
    if (reply === undefined) {
      // (Only a stream that already runs has no reply left; close() ends it with end().)
    } else if (!this.conn.closed && !reply.sent) {
      this.conn.open()
      this.opened()
      this.conn.end()
    } else if (!reply.sent) {
      // Nobody to answer; Fastify must not try to send anything either.
      reply.hijack()
    }
    this.reply = undefined
    this.stop()
  }

  private async run (pending: Pull | undefined): Promise<void> {
    const { conn, options } = this
    this.running = true
    this.lastWrite = Date.now()
    if (options.retry !== undefined) this.push(encodeFrame({ retry: options.retry }))
    if (options.heartbeatInterval > 0) {
      this.beating = true
      startHeartbeat(this, options.heartbeatInterval)
    }
    let next: Pull | undefined = pending
    // The loop's frame is kept while it waits on the source: it must not keep the last event alive.
    pending = undefined
    let result: IteratorResult<unknown> | undefined
    // Pulls since the loop last let the event loop turn.
    let pulls = 0
    try {
      while (!conn.closed) {
        if (this.batchFull()) {
          // Backpressure: with a full batch and a socket that has not drained, stop pulling. The
          // source is not asked for more until the client takes what it has.
          pulls = 0
          if (conn.needsDrain) {
            await conn.drained()
          } else {
            this.writeBatch()
            await nextTurn()
          }
          continue
        }
        if (pulls === PULLS_PER_TURN) {
          pulls = 0
          this.flush()
          await nextTurn()
          continue
        }
        try {
          const pull = next ?? this.iterator!.next()
          result = undefined
          this.pulling = true
          result = await pull
          next = undefined
        } catch (err) {
          if (!conn.closed) this.sourceFailed(err)
          return
        } finally {
          this.pulling = false
        }
        pulls++
        if (conn.closed) return
        if (result.done === true) {
          this.iterating = false
          // A hub subscriber says why it ended (overflow, topic deleted).
          this.reason ??= (this.iterator as { [END_REASON]?: SseStreamEndReason })[END_REASON] ?? 'source-done'
          return
        }
        const frame = this.encode(result.value as UntypedEvent)
        if (typeof frame === 'string') {
          this.push(frame)
          this.events++
        } else if (!this.invalidEvent(frame)) {
          this.reason ??= 'invalid-event'
          return
        }
      }
    } catch (err) {
      // Nothing awaits the loop once it runs (start() has settled), so nothing may escape it: a
      // source whose next() gives something other than a result object fails like a throwing one.
      if (!conn.closed) this.sourceFailed(err)
    } finally {
      try {
        this.end()
      } catch (err) {
        this.log.error({ err }, 'fastify-typed-sse: a stream could not be ended cleanly')
      }
    }
  }

  /** Ends the stream from outside (server closing); resolves once the source has cleaned up and the response is over. */
  close (): Promise<void> {
    this.reason ??= 'server-closing'
    try {
      if (this.running) this.end()
      else this.endEarly()
    } catch (err) {
      // Headers that cannot be written (a hook set an invalid one): drop it rather than fail close().
      this.log.error({ err }, 'fastify-typed-sse: a stream could not be ended cleanly at close; its connection was dropped')
      this.stop()
      this.conn.destroy()
    }
    return Promise.all([this.cleanup, this.conn.finished()]).then(() => undefined)
  }

  /** Drops the connection if its response could not finish (the client does not read). */
  destroy (): void {
    this.conn.destroy()
  }

  /**
   * Stops pulling: clears the heartbeat, counts the stream out, and calls the source's return()
   * so its `finally` runs (at once if it awaits something that honours the signal).
   */
  stop (): void {
    if (this.stopped) return
    this.stopped = true
    if (this.beating) stopHeartbeat(this, this.options.heartbeatInterval)
    this.registry.release(this)
    if (this.route !== undefined) this.ended()
    this.conn.abort(new Error('the stream was stopped'))
    this.interrupt?.(STOPPED)
    if (this.iterating && typeof this.iterator?.return === 'function') {
      this.iterating = false
      const iterator = this.iterator
      this.cleanup = Promise.resolve()
        .then(() => iterator.return?.())
        .then(() => undefined, (err: unknown) => {
          this.log.error({ err }, 'fastify-typed-sse: the source threw while cleaning up')
        })
    }
  }

  /** The response has started: the stream counts as open (stats), and the channel is told. */
  private opened (): void {
    const { request } = this
    const route = routeName(request)
    this.route = route
    this.openedAt = Date.now()
    if (streamStartChannel.hasSubscribers) streamStartChannel.publish({ request, route, lastEventId: this.conn.lastEventId })
  }

  /** The stream that started is over: counted, told to the channel, and logged in one line. */
  private ended (): void {
    const reason = this.reason ?? (this.conn.stalled ? 'write-timeout' : 'client-gone')
    const { events, bytes } = this
    const durationMs = Date.now() - this.openedAt
    this.registry.counters.recordEnd(reason, events, bytes)
    if (streamEndChannel.hasSubscribers) streamEndChannel.publish({ request: this.request, route: this.route!, reason, durationMs, events, bytes })
    const level = this.options.endLogLevel
    if (level !== false) this.log[level]({ reason, durationMs, events, bytes }, 'stream ended')
  }

  private end (): void {
    if (!this.conn.closed) {
      this.writeBatch()
      this.conn.end()
    }
    this.stop()
  }

  canTake (): boolean {
    return this.pulling && !this.conn.closed && !this.conn.needsDrain && !this.batchFull()
  }

  take (text: string): void {
    this.push(text)
    this.events++
  }

  private push (frame: string): void {
    if (frame === '') return
    this.unmeasured += frame
    // Everything the source yields before the event loop turns goes out in one write.
    if (!this.flushScheduled) {
      this.flushScheduled = true
      scheduleFlush(this)
    }
  }

  /** True once the batch holds highWaterMark bytes (UTF-8, as they will be sent). */
  private batchFull (): boolean {
    const limit = this.options.highWaterMark
    if (this.measuredBytes + 3 * this.unmeasured.length < limit) return false
    this.measuredBytes += Buffer.byteLength(this.unmeasured)
    this.measured += this.unmeasured
    this.unmeasured = ''
    return this.measuredBytes >= limit
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
    if ((this.measured === '' && this.unmeasured === '') || this.conn.closed) return
    this.bytes += this.measuredBytes + Buffer.byteLength(this.unmeasured)
    this.conn.write(this.measured + this.unmeasured)
    this.measured = ''
    this.unmeasured = ''
    this.measuredBytes = 0
    this.lastWrite = Date.now()
  }

  heartbeat (now: number, quietFor: number): void {
    if (this.conn.closed || now - this.lastWrite < quietFor) return
    // A heartbeat only matters on a quiet line; a draining socket is not quiet.
    if (this.measured === '' && this.unmeasured === '' && !this.conn.needsDrain) {
      this.conn.write(HEARTBEAT)
      this.bytes += HEARTBEAT.length
    }
    this.lastWrite = now
  }

  /** Applies the invalid-event policy. Returns false when the stream must end. */
  private invalidEvent (error: SseError): boolean {
    const policy = this.options.onInvalidEvent
    this.log.error({ err: error }, 'fastify-typed-sse: an invalid event was not sent')
    this.registry.counters.invalidEvents++
    if (invalidEventChannel.hasSubscribers) {
      invalidEventChannel.publish({
        request: this.request, route: this.route!, code: error.code, event: 'event' in error ? error.event : undefined, path: 'path' in error ? error.path : undefined, error
      })
    }
    if (policy === 'close') return false
    if (policy === 'error-event') {
      const code = error.code as keyof typeof ERROR_EVENT_MESSAGES
      const data: SseErrorData = { code, message: ERROR_EVENT_MESSAGES[code] ?? ERROR_EVENT_MESSAGES.FST_SSE_INVALID_EVENT }
      if ('event' in error) data.event = error.event as string
      if ('path' in error) data.path = error.path as string
      this.push(errorFrame(data))
    }
    return true
  }

  private sourceFailed (err: unknown): void {
    this.iterating = false
    const error = sourceFailed(err)
    this.log.error({ err: error }, 'fastify-typed-sse: the source threw after the stream started')
    this.reason ??= 'error'
    this.registry.counters.sourceErrors++
    if (sourceErrorChannel.hasSubscribers) sourceErrorChannel.publish({ request: this.request, route: this.route!, error })
    if (this.options.onSourceError === 'error-event') {
      this.push(errorFrame({ code: error.code, message: ERROR_EVENT_MESSAGES.FST_SSE_SOURCE_FAILED }))
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

// `METHOD url-pattern` per route, made once: every stream of the route shares the string.
const routeNames = new WeakMap<object, string>()
function routeName (request: FastifyRequest): string {
  const { config } = request.routeOptions
  let name = config === undefined ? undefined : routeNames.get(config)
  // (A route declared for several methods shares its config: the method must match too.)
  if (name === undefined || !name.startsWith(request.method + ' ')) {
    name = `${request.method} ${request.routeOptions.url ?? '(no route)'}`
    if (config !== undefined) routeNames.set(config, name)
  }
  return name
}

/** Lets the event loop turn: timers, I/O and every other stream run before this one goes on. */
function nextTurn (): Promise<void> {
  return new Promise(resolve => setImmediate(resolve))
}

function isPromiseLike (value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as PromiseLike<unknown>).then === 'function'
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
