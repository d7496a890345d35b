// One subscriber of a topic: an async iterator that reply.sse() pulls like any source. It joins
// the live feed first and then replays from Last-Event-ID, so nothing published meanwhile is
// missed; ids at or below what the client already has are skipped, so nothing comes twice.
import type { FastifyBaseLogger } from 'fastify'
import { encodedFrame, encodeFrame, type EncodedFrame } from '../wire.js'
import { isSseError } from '../errors.js'
import { compareIds, type Entry, type Follow, type HubBackend, type LiveListener } from './backend.js'
import type { OverflowPolicy } from '../options.js'
import { HUB_RESET_EVENT, type HubResetData } from './reset.js'

export interface SubscriberOptions {
  backend: HubBackend
  topic: string
  lastEventId: string | undefined
  queueSize: number
  onOverflow: OverflowPolicy
  log: FastifyBaseLogger
  /** The hub's set of live subscribers, so close() can end them. */
  subscribers: Set<Subscriber>
}

// Entries fetched per replay read; replay is pulled page by page, so a slow client's
// backpressure slows its replay too instead of buffering the whole log.
const PAGE = 256
// Backoff while the store is unreachable (the stream stays open; heartbeats keep going).
const RETRY_MIN_MS = 100
const RETRY_MAX_MS = 2000

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined }

export class Subscriber implements AsyncIterableIterator<EncodedFrame> {
  private state: 'attaching' | 'replaying' | 'live' | 'ended' = 'attaching'
  /** Frames to send before the live queue: the opening id, a replay page, a reset. */
  private readonly pending: EncodedFrame[] = []
  /** Live entries not yet taken by the stream; bounded by queueSize. */
  private live: Entry[] = []
  /** The newest id at attach time: replay covers up to it, the live feed everything after. */
  private head: string | undefined
  /** The id the client has (or is being sent): replay resumes after it, live skips up to it. */
  private last: string | undefined
  private feed: Follow | undefined
  private waiter: (() => void) | undefined
  /** Wakes a retry's backoff pause early (on end). */
  private sleeper: (() => void) | undefined
  private timer: NodeJS.Timeout | undefined
  private readonly options: SubscriberOptions
  private readonly listener: LiveListener = {
    entry: entry => this.receive(entry),
    deleted: () => {
      // The topic is gone: end the stream. The client reconnects, and what it then finds (an
      // empty topic, or whatever the app answers) is up to the route.
      this.options.log.debug({ topic: this.options.topic }, 'fastify-typed-sse: the topic was deleted; its subscriber\'s stream ends')
      this.end()
    }
  }

  constructor (options: SubscriberOptions) {
    this.options = options
    // No signal listener: when the client goes, reply.sse() calls return(), which ends this.
    options.subscribers.add(this)
  }

  /**
   * Joins the live feed before the response starts, so an event published once the client is
   * connected is never missed. If the store is unreachable, the stream still opens and keeps
   * trying: a browser's EventSource treats an HTTP error as final, a quiet stream is not.
   */
  async open (): Promise<void> {
    try {
      await this.attach()
    } catch (err) {
      if (!isUnavailable(err)) {
        this.end()
        throw err
      }
      this.options.log.debug({ err, topic: this.options.topic }, 'fastify-typed-sse: a subscriber waits for the hub\'s store')
      this.retry(() => this.attach()).then(() => this.wakeUp(), () => this.wakeUp())
    }
  }

  [Symbol.asyncIterator] (): this {
    return this
  }

  async next (): Promise<IteratorResult<EncodedFrame>> {
    for (;;) {
      if (this.state === 'ended') return DONE
      const early = this.pending.shift()
      if (early !== undefined) return { done: false, value: early }
      if (this.state === 'replaying') {
        await this.replayPage()
        continue
      }
      if (this.state === 'live') {
        const entry = this.live.shift()
        if (entry !== undefined) {
          if (this.last !== undefined && compareIds(entry.id, this.last) <= 0) continue
          this.last = entry.id
          return { done: false, value: entry.frame }
        }
      }
      await new Promise<void>(resolve => { this.waiter = resolve })
    }
  }

  async return (): Promise<IteratorResult<EncodedFrame>> {
    this.end()
    return DONE
  }

  /** Leaves the feed and wakes the stream, which then ends. Safe to call more than once. */
  end (): void {
    if (this.state === 'ended') return
    this.state = 'ended'
    this.feed?.stop()
    this.feed = undefined
    clearTimeout(this.timer)
    this.live = []
    this.options.subscribers.delete(this)
    this.sleeper?.()
    this.wakeUp()
  }

  private async attach (): Promise<void> {
    const { backend, topic, lastEventId } = this.options
    const feed = await backend.follow(topic, this.listener)
    if (this.state === 'ended') {
      feed.stop()
      return
    }
    this.feed = feed
    this.head = feed.head
    if (lastEventId === undefined) {
      // An id-only frame sets the browser's last event id without dispatching anything, so even
      // a client that saw no event yet resumes from here when it reconnects.
      if (feed.head !== undefined) this.pending.push(encodedFrame(encodeFrame({ id: feed.head })))
      this.state = 'live'
    } else {
      this.last = lastEventId
      this.state = lastEventId === feed.head ? 'live' : 'replaying'
    }
  }

  private async replayPage (): Promise<void> {
    const after = this.last!
    const result = await this.retry(() => this.options.backend.read(this.options.topic, after, PAGE))
    if (result === undefined || this.state !== 'replaying') return
    if (!result.continuous) {
      this.pending.push(resetFrame({ reason: result.reason, lastEventId: this.options.lastEventId ?? after }, this.head))
      // After a reset the client starts over from the head; live entries all come after it.
      this.last = undefined
      this.state = 'live'
      return
    }
    for (const entry of result.entries) {
      // Past the head, the live queue has it (and `last` keeps it from coming twice).
      if (this.head === undefined || compareIds(entry.id, this.head) > 0) {
        this.state = 'live'
        return
      }
      this.pending.push(entry.frame)
      this.last = entry.id
    }
    if (result.entries.length < PAGE || this.last === this.head) this.state = 'live'
  }

  private receive (entry: Entry): void {
    if (this.state === 'ended') return
    if (this.live.length >= this.options.queueSize) {
      if (this.options.onOverflow === 'close') {
        this.options.log.warn({ topic: this.options.topic, queueSize: this.options.queueSize },
          'fastify-typed-sse: a subscriber fell behind; its stream ends and its client replays on reconnect')
        this.end()
        return
      }
      this.live.shift()
    }
    this.live.push(entry)
    this.wakeUp()
  }

  /** Runs `action` until it succeeds, waiting out an unreachable store; undefined once ended. */
  private async retry<T> (action: () => Promise<T>): Promise<T | undefined> {
    let delay = RETRY_MIN_MS
    for (;;) {
      if (this.state === 'ended') return undefined
      try {
        return await action()
      } catch (err) {
        if (!isUnavailable(err)) {
          this.options.log.error({ err, topic: this.options.topic }, 'fastify-typed-sse: a hub subscriber failed')
          this.end()
          return undefined
        }
      }
      await new Promise<void>(resolve => {
        this.sleeper = resolve
        this.timer = setTimeout(resolve, delay)
      })
      clearTimeout(this.timer)
      this.sleeper = undefined
      delay = Math.min(delay * 2, RETRY_MAX_MS)
    }
  }

  private wakeUp (): void {
    const waiter = this.waiter
    this.waiter = undefined
    waiter?.()
  }
}

function isUnavailable (err: unknown): boolean {
  return isSseError(err, 'FST_SSE_HUB_UNAVAILABLE')
}

function resetFrame (data: HubResetData, head: string | undefined): EncodedFrame {
  // `id:` moves the client's last event id to the head (or clears it when the topic is empty),
  // so its next reconnect resumes from here instead of asking for the lost id again.
  return encodedFrame(encodeFrame({ event: HUB_RESET_EVENT, data: JSON.stringify(data), id: head ?? '' }, true))
}
