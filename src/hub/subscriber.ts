// One subscriber: an async iterator that reply.sse() pulls like any source, over one topic or
// several merged in one stream. For each topic it joins the live feed first and then replays from
// the client's position, so nothing published meanwhile is missed; ids at or below what the
// client already has are skipped, so nothing comes twice. How frames are identified (a topic's
// own ids, or one position per topic) is the IdFormat's business (see format.ts).
import type { FastifyBaseLogger } from 'fastify'
import { ENCODED, type EncodedFrame } from '../wire.js'
import { isSseError } from '../errors.js'
import { parseId, START, type Entry, type Follow, type HubBackend, type LiveListener } from './backend.js'
import type { OverflowPolicy } from '../options.js'
import { decodedOf, type EventDecoder, type TopicEvent } from './filter.js'
import type { HubResetData } from './reset.js'
import { END_REASON, hubOverflowChannel, hubReplayChannel, hubResetChannel, type SseStreamEndReason } from '../diagnostics.js'
import type { HubCounters } from '../stats.js'
import { ATTACH_SINK, type FrameSink, type PushingIterator } from '../sink.js'

/** Where a client without a position in a topic starts it. */
export type StartPolicy =
  /** At the newest event: it gets what is published from now on. */
  | 'newest'
  /** At the oldest retained event: it first gets every event the topic still retains. */
  | 'oldest'

/** Where one topic resumes, read from the client's Last-Event-ID. */
export type Resume =
  /**
   * After `position` (a topic's id, or START); `shown` is what the client sent, for a reset;
   * `strict`: from START, events dropped before the oldest retained one are a gap (a reset).
   */
  | { kind: 'after', position: string, shown: string, strict?: boolean }
  /** Where `StartPolicy` says (a first connection, or a topic the client's id does not cover). */
  | { kind: 'policy' }
  /** Nothing to resume from: a malformed or forged id. */
  | { kind: 'invalid', shown: string }

/** Where the client is in one topic: an id (or START), and the same as numbers. */
export interface Position {
  readonly position: string
  readonly key: IdKey
}

/** Every topic's position, in the subscriber's order. */
export type Positions = readonly Position[]

/** How a subscriber's frames say where the client is. */
export interface IdFormat {
  /** Where each topic resumes (in the order of the subscriber's topics). */
  resume (lastEventId: string | undefined): Resume[]
  /** The frame of an entry of topic `topic`. `positions` gives every topic's position. */
  entry (entry: Entry, topic: number, positions: Positions): EncodedFrame
  /** The `reset` frame of topic `topic`, whose position has moved to its newest event. */
  reset (data: HubResetData, topic: number, positions: Positions): EncodedFrame
  /** An id-only frame that gives the client its position without dispatching anything, if needed. */
  opening (positions: Positions): EncodedFrame | undefined
}

export interface SubscribedTopic {
  name: string
  filter: ((event: TopicEvent) => unknown) | undefined
  decode: EventDecoder
}

export interface SubscriberOptions {
  backend: HubBackend
  topics: readonly SubscribedTopic[]
  from: StartPolicy
  ids: IdFormat
  queueSize: number
  onOverflow: OverflowPolicy
  log: FastifyBaseLogger
  /** The hub's set of live subscribers, so close() can end them. */
  subscribers: Set<Subscriber>
  /** The hub's counters (stats). */
  counters: HubCounters
}

// Entries fetched per replay read; replay is pulled page by page, so a slow client's
// backpressure slows its replay too instead of buffering the whole log.
const PAGE = 256
// Backoff while the store is unreachable (the stream stays open; heartbeats keep going).
const RETRY_MIN_MS = 100
const RETRY_MAX_MS = 2000

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined }
// Shared empty arrays, never pushed to (every idle subscriber would otherwise hold its own).
const NO_FRAMES: EncodedFrame[] = []
const NO_ENTRIES: Entry[] = []
// Events passed over without a frame (filtered out, or already sent) before the event loop gets a
// turn: a replay of a long log that a filter leaves out entirely must not hold the process.
const SKIP_BUDGET = 256

/** A live entry waiting for the stream to take it. */
interface Queued {
  cursor: Cursor
  entry: Entry
  /** The newest entry of the same topic filtered out after it: the position moves there once it is sent. */
  advanceTo?: Entry
}

/** One topic of a subscriber, and its follower of the topic's live feed. */
class Cursor implements LiveListener {
  feed: Follow | undefined
  /** The newest id at attach time: replay covers up to it, the live feed everything after. */
  head: string | undefined
  /**
   * The client's position: the id of the last event of this topic it has been sent or has no
   * need of (filtered out), or START. Replay resumes after it; live entries up to it are skipped.
   */
  position = START
  /** The position as numbers, to order live entries against it without parsing ids per event. */
  key: IdKey = START_KEY
  state: 'attaching' | 'replaying' | 'live' = 'attaching'
  /** From START: whether events dropped before the oldest retained one mean a gap (a reset). */
  strict = false
  /** What the client sent for this topic, quoted in a reset. */
  shown = ''
  /** The replay page being sent, and whether the log holds more after it. */
  page: Entry[] = NO_ENTRIES
  more = true
  /** Its newest queued live entry, which takes the position past later filtered-out ones. */
  lastQueued: Queued | undefined
  /** A live entry filtered out while the topic still replays: the position once the replay is done. */
  pendingAdvance: Entry | undefined

  constructor (readonly index: number, readonly topic: SubscribedTopic, private readonly subscriber: Subscriber) {}

  // The feed's listener is the cursor itself: no closures per subscriber and topic.
  entry (entry: Entry): void {
    this.subscriber.receive(this, entry)
  }

  deleted (): void {
    this.subscriber.topicDeleted(this)
  }

  /** Moves the position to an id (or START), or to an entry's id. */
  moveTo (position: string | Entry): void {
    if (typeof position === 'string') {
      this.position = position
      this.key = parseId(position) ?? START_KEY
    } else {
      this.position = position.id
      this.key = keyOf(position)
    }
  }

  /** True when `entry` comes after the position. */
  isAfter (entry: Entry): boolean {
    return compareKeys(keyOf(entry), this.key) > 0
  }
}

export class Subscriber implements AsyncIterableIterator<EncodedFrame>, PushingIterator {
  private state: 'attaching' | 'replaying' | 'live' | 'ended' = 'attaching'
  /** Frames to send before anything else: the opening id, a reset. */
  private pending: EncodedFrame[] = NO_FRAMES
  /** Live entries of every topic not yet taken by the stream, in arrival order; at most queueSize. */
  private live: Queued[] = []
  private readonly cursors: Cursor[]
  private waiter: (() => void) | undefined
  /** Resolves a next() that found nothing to send (see next()). */
  private parked: ((result: Promise<IteratorResult<EncodedFrame>>) => void) | undefined
  /** Wakes a retry's backoff pause early (on end). */
  private sleeper: (() => void) | undefined
  private timer: NodeJS.Timeout | undefined
  /** Set once a filter has failed, so a broken filter logs once per subscriber, not per event. */
  private filterFailed = false
  /** Steps since the last frame or the last turn of the event loop (see SKIP_BUDGET). */
  private skipped = 0
  private readonly options: SubscriberOptions
  /** Why it ended, when the stream should not say "source done": read by stream.ts. */
  [END_REASON]: SseStreamEndReason | undefined
  /** The stream reading this subscriber, once it runs: live events go to it straight when it can take them. */
  private sink: FrameSink | undefined

  /** What the client sent as its Last-Event-ID. */
  private readonly lastEventId: string | undefined

  constructor (options: SubscriberOptions, lastEventId: string | undefined) {
    this.lastEventId = lastEventId
    this.options = options
    this.cursors = options.topics.map((topic, index) => new Cursor(index, topic, this))
    // No signal listener: when the client goes, reply.sse() calls return(), which ends this.
    options.subscribers.add(this)
  }

  /**
   * Joins the live feeds before the response starts, so an event published once the client is
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
      this.options.log.debug({ err, topics: this.names() }, 'fastify-typed-sse: a subscriber waits for the hub\'s store')
      this.retry(() => this.attach()).then(() => this.wakeUp(), () => this.wakeUp())
    }
  }

  [Symbol.asyncIterator] (): this {
    return this
  }

  [ATTACH_SINK] (sink: FrameSink): void {
    this.sink = sink
  }

  next (): Promise<IteratorResult<EncodedFrame>> {
    // Caught up with nothing to send: wait on a plain promise, which wakeUp() resolves with the
    // pull, rather than in the pull's own suspended frame (every idle subscriber holds one).
    if (this.state === 'live' && this.pending.length === 0 && this.live.length === 0 && this.parked === undefined && this.waiter === undefined) {
      return new Promise(resolve => { this.parked = resolve })
    }
    return this.pull()
  }

  private async pull (): Promise<IteratorResult<EncodedFrame>> {
    this.skipped = 0
    for (;;) {
      if (this.state === 'ended') return DONE
      if (++this.skipped > SKIP_BUDGET) {
        this.skipped = 0
        await new Promise(resolve => setImmediate(resolve))
        continue
      }
      const early = this.pending.shift()
      if (early !== undefined) {
        // An emptied array keeps its grown backing store: an idle subscriber would hold it.
        if (this.pending.length === 0) this.pending = NO_FRAMES
        return { done: false, value: early }
      }
      if (this.state === 'replaying') {
        const frame = await this.replayStep()
        // (The step awaits: the subscriber may have ended meanwhile.)
        if (frame !== undefined && (this.state as string) !== 'ended') return { done: false, value: frame }
        continue
      }
      if (this.state === 'live') {
        const frame = this.takeLive()
        if (frame !== undefined) return { done: false, value: frame }
        if (this.live.length > 0) continue
      }
      await new Promise<void>(resolve => { this.waiter = resolve })
    }
  }

  /** For stats(): events waiting for the stream to take them. */
  get queued (): number {
    return this.live.length
  }

  /** For stats(): its topics, not copied. */
  get topics (): ReadonlyArray<{ readonly topic: SubscribedTopic }> {
    return this.cursors
  }

  async return (): Promise<IteratorResult<EncodedFrame>> {
    this.end()
    return DONE
  }

  /** Leaves the feeds and wakes the stream, which then ends. Safe to call more than once. */
  end (): void {
    if (this.state === 'ended') return
    this.state = 'ended'
    for (const cursor of this.cursors) {
      cursor.feed?.stop()
      cursor.feed = undefined
      cursor.page = NO_ENTRIES
    }
    clearTimeout(this.timer)
    this.live = []
    this.sink = undefined
    this.options.subscribers.delete(this)
    this.sleeper?.()
    this.wakeUp()
  }

  /** Follows every topic not followed yet; once all are, sets where each starts. */
  private async attach (): Promise<void> {
    const { backend } = this.options
    const waiting = this.cursors.filter(cursor => cursor.feed === undefined)
    const results = await Promise.allSettled(waiting.map(async cursor => {
      const feed = await backend.follow(cursor.topic.name, cursor)
      if (this.state === 'ended') {
        feed.stop()
        return
      }
      cursor.feed = feed
      cursor.head = feed.head
    }))
    const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected')
    if (failed !== undefined) throw failed.reason
    if (this.state === 'ended') return
    this.start()
  }

  private start (): void {
    const { ids, from } = this.options
    const { lastEventId } = this
    const resumes = ids.resume(lastEventId)
    let atPolicy = false
    const invalid: Cursor[] = []
    for (const cursor of this.cursors) {
      const resume: Resume = resumes[cursor.index] ?? { kind: 'policy' }
      if (resume.kind === 'invalid') {
        cursor.shown = resume.shown
        cursor.moveTo(cursor.head ?? START)
        invalid.push(cursor)
        continue
      }
      if (resume.kind === 'policy') {
        if (from === 'oldest') {
          this.replayFrom(cursor, START, START, false)
        } else {
          atPolicy = true
          cursor.moveTo(cursor.head ?? START)
          cursor.strict = true
          this.caughtUp(cursor)
        }
        continue
      }
      this.replayFrom(cursor, resume.position, resume.shown, resume.strict ?? false)
    }
    // Once every other topic has its position: each reset's id holds them.
    for (const cursor of invalid) this.reset(cursor, 'unknown')
    // A client that has no position in some topic is told where it starts, so that its next
    // reconnection resumes that topic from here even if no event of it comes first.
    if (atPolicy) {
      const opening = ids.opening(this.cursors)
      if (opening !== undefined) this.sendFirst(opening)
    }
    this.state = this.cursors.some(cursor => cursor.state === 'replaying') ? 'replaying' : 'live'
  }

  private replayFrom (cursor: Cursor, position: string, shown: string, strict: boolean): void {
    cursor.moveTo(position)
    cursor.shown = shown
    cursor.strict = strict
    // Nothing to replay: at the newest id, or from START on a topic with no events yet.
    if (position === cursor.head || (position === START && cursor.head === undefined)) this.caughtUp(cursor)
    else cursor.state = 'replaying'
  }

  /**
   * Sends the next replayed event, or does the next step towards it (reads a page; sends a
   * reset). Topics replay side by side, the lowest id first: ids of different topics are not
   * ordered, but they are times, so events come back roughly in the order they were published.
   */
  private async replayStep (): Promise<EncodedFrame | undefined> {
    for (const cursor of this.cursors) {
      if (cursor.state === 'replaying' && cursor.page.length === 0) {
        await this.readPage(cursor)
        return undefined
      }
    }
    let next: Cursor | undefined
    for (const cursor of this.cursors) {
      if (cursor.state !== 'replaying') continue
      if (next === undefined || compareKeys(keyOf(cursor.page[0]!), keyOf(next.page[0]!)) < 0) next = cursor
    }
    if (next === undefined) {
      this.state = 'live'
      return undefined
    }
    const entry = next.page.shift()!
    next.moveTo(entry)
    if (next.page.length === 0 && !next.more) this.caughtUp(next)
    return this.passes(next, entry) ? this.options.ids.entry(entry, next.index, this.cursors) : undefined
  }

  private async readPage (cursor: Cursor): Promise<void> {
    const after = cursor.position
    const result = await this.retry(() => this.options.backend.read(cursor.topic.name, after, PAGE))
    if (result === undefined || this.state === 'ended' || cursor.state !== 'replaying') return
    if (!result.continuous) {
      this.reset(cursor, result.reason)
      return
    }
    // From the start of a topic the client had seen empty: events it never got were dropped.
    if (after === START && cursor.strict && result.trimmed === true) {
      this.reset(cursor, 'expired')
      return
    }
    const page: Entry[] = []
    const head = cursor.head === undefined ? undefined : parseId(cursor.head) ?? START_KEY
    for (const entry of result.entries) {
      // Past the head, the live queue has it (and the position keeps it from coming twice).
      if (head === undefined || compareKeys(keyOf(entry), head) > 0) {
        cursor.more = false
        break
      }
      page.push(entry)
    }
    if (result.entries.length < PAGE || page.at(-1)?.id === cursor.head) cursor.more = false
    cursor.page = page
    if (hubReplayChannel.hasSubscribers) hubReplayChannel.publish({ topic: cursor.topic.name, count: page.length, after })
    if (page.length === 0) this.caughtUp(cursor)
  }

  /** The topic cannot resume: a `reset`, and it goes on from its newest event. */
  private reset (cursor: Cursor, reason: HubResetData['reason']): void {
    cursor.moveTo(cursor.head ?? START)
    cursor.strict = true
    cursor.page = NO_ENTRIES
    this.caughtUp(cursor)
    const data: HubResetData = { reason, lastEventId: cursor.shown }
    this.options.counters.resets++
    if (hubResetChannel.hasSubscribers) hubResetChannel.publish({ topic: cursor.topic.name, reason, lastEventId: cursor.shown })
    this.sendFirst(this.options.ids.reset(data, cursor.index, this.cursors))
  }

  /** Queues a frame that goes before anything else (an opening id, a reset). */
  private sendFirst (frame: EncodedFrame): void {
    if (this.pending === NO_FRAMES) this.pending = [frame]
    else this.pending.push(frame)
  }

  /** The topic's replay is over: its live entries are next. */
  private caughtUp (cursor: Cursor): void {
    cursor.state = 'live'
    cursor.more = false
    const advance = cursor.pendingAdvance
    cursor.pendingAdvance = undefined
    if (advance !== undefined && cursor.isAfter(advance)) cursor.moveTo(advance)
  }

  private takeLive (): EncodedFrame | undefined {
    const queued = this.live.shift()
    if (queued === undefined) return undefined
    // (As for `pending`: a subscriber that caught up on a backlog does not keep its array's size.)
    if (this.live.length === 0) this.live = []
    const { cursor, entry, advanceTo } = queued
    if (cursor.lastQueued === queued) cursor.lastQueued = undefined
    // (Only a backend breaking its contract would feed an entry at or before the position.)
    if (!cursor.isAfter(entry)) {
      if (advanceTo !== undefined && cursor.isAfter(advanceTo)) cursor.moveTo(advanceTo)
      return undefined
    }
    cursor.moveTo(advanceTo ?? entry)
    return this.options.ids.entry(entry, cursor.index, this.cursors)
  }

  /**
   * The topic is gone: the stream ends. The client reconnects, and what it then finds (an empty
   * topic, or whatever the app answers) is up to the route.
   */
  topicDeleted (cursor: Cursor): void {
    this.options.log.debug({ topic: cursor.topic.name }, 'fastify-typed-sse: the topic was deleted; its subscriber\'s stream ends')
    this[END_REASON] = 'topic-deleted'
    this.end()
  }

  /** A live entry of `cursor`'s topic, from the backend's feed. */
  receive (cursor: Cursor, entry: Entry): void {
    if (this.state === 'ended') return
    if (!this.passes(cursor, entry)) {
      // No queue slot and no write, but the position must move past it in its turn: after the
      // topic's entries still queued, or once its replay is done.
      if (cursor.lastQueued !== undefined) cursor.lastQueued.advanceTo = entry
      else if (cursor.state === 'live') cursor.moveTo(entry)
      else cursor.pendingAdvance = entry
      return
    }
    // The fast path: the stream waits on next() (so nothing of ours is on its way to it), nothing
    // is queued or replaying, and its socket has room: the frame goes into its batch now, with no
    // queue slot, no iterator result and no promise turn. Anything else takes the queue below.
    if ((this.parked !== undefined || this.waiter !== undefined) && this.live.length === 0 && this.pending.length === 0 && this.state === 'live' &&
      cursor.state === 'live' && this.sink?.canTake() === true && cursor.isAfter(entry)) {
      cursor.moveTo(entry)
      this.sink.take(this.options.ids.entry(entry, cursor.index, this.cursors)[ENCODED])
      return
    }
    if (this.live.length >= this.options.queueSize) {
      const { counters, onOverflow, queueSize } = this.options
      counters.overflows++
      if (hubOverflowChannel.hasSubscribers) hubOverflowChannel.publish({ topic: cursor.topic.name, policy: onOverflow, queueSize })
      if (this.options.onOverflow === 'close') {
        this.options.log.warn({ topics: this.names(), queueSize: this.options.queueSize },
          'fastify-typed-sse: a subscriber fell behind; its stream ends and its client replays on reconnect')
        this[END_REASON] = 'overflow'
        this.end()
        return
      }
      const dropped = this.live.shift()!
      if (dropped.cursor.lastQueued === dropped) dropped.cursor.lastQueued = undefined
    }
    const queued: Queued = { cursor, entry }
    cursor.lastQueued = queued
    this.live.push(queued)
    this.wakeUp()
  }

  /** Runs the topic's filter. Only `true` lets the event through: a failing filter fails closed. */
  private passes (cursor: Cursor, entry: Entry): boolean {
    const { filter, name, decode } = cursor.topic
    if (filter === undefined) return true
    let result: unknown
    try {
      const { event, data } = decodedOf(entry, decode)
      result = filter({ topic: name, id: entry.id, event, data })
    } catch (err) {
      this.filterFailure(name, entry.id, err)
      return false
    }
    if (result === true) return true
    if (typeof (result as PromiseLike<unknown> | undefined)?.then === 'function') {
      this.filterFailure(name, entry.id, new TypeError('the filter returned a promise: filters must decide synchronously'))
    }
    return false
  }

  private filterFailure (topic: string, id: string, err: unknown): void {
    if (this.filterFailed) return
    this.filterFailed = true
    this.options.log.error({ err, topic, id }, 'fastify-typed-sse: a subscriber\'s filter failed; the event was not sent (later failures of this subscriber are not logged)')
  }

  private names (): string[] {
    return this.cursors.map(cursor => cursor.topic.name)
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
          this.options.log.error({ err, topics: this.names() }, 'fastify-typed-sse: a hub subscriber failed')
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
    const parked = this.parked
    if (parked !== undefined) {
      this.parked = undefined
      parked(this.pull())
      return
    }
    const waiter = this.waiter
    this.waiter = undefined
    waiter?.()
  }
}

/** An id as numbers: milliseconds, sequence. */
export type IdKey = readonly [number, number]
const START_KEY: IdKey = [0, 0]

/** Negative when `a` comes before `b`. */
function compareKeys (a: IdKey, b: IdKey): number {
  return a[0] !== b[0] ? a[0] - b[0] : a[1] - b[1]
}

/** The entry's id as numbers, parsed once per entry (an entry is shared by every subscriber). */
function keyOf (entry: Entry): IdKey {
  entry.key ??= parseId(entry.id) ?? START_KEY
  return entry.key
}

function isUnavailable (err: unknown): boolean {
  return isSseError(err, 'FST_SSE_HUB_UNAVAILABLE')
}
