// The in-memory backend: one process, no set-up. Each topic is an array of entries, trimmed by
// count on append and by age whenever it is touched. Idle topics are dropped by one timer (unref'd,
// cleared on close) set for the next topic due to expire.
import { hubClosed } from '../errors.js'
import type { HubBackendState } from '../stats.js'
import { type AppendOptions, compareIds, parseId, START, type Entry, type Follow, type HubBackend, toEntry, type LiveListener, type ReadResult } from './backend.js'

interface Log {
  entries: Entry[]
  /** Index of the oldest retained entry; the array is compacted now and then, not on every trim. */
  start: number
  /** The newest id ever assigned, even once trimmed away. */
  head: string | undefined
  /** True once an event was dropped by `retain` or `maxAge`: a replay from START is then partial. */
  trimmed: boolean
  listeners: Set<LiveListener>
  /** When it became idle: its last append or its last listener leaving (ms). */
  idleSince: number
}

export interface MemoryBackendOptions {
  retain: number
  maxAge: number | undefined
  topicTtl: number | undefined
  idempotencyWindow: number
}

// setTimeout's longest delay; a later expiry is waited for in steps.
const MAX_DELAY = 2 ** 31 - 1

/** What an idempotency key stored: the id, until when the key is remembered. */
interface Stored {
  id: string
  until: number
}

/** One follower's feed: an object rather than a closure, since every idle subscriber holds one. */
class MemoryFollow implements Follow {
  readonly head: string | undefined

  constructor (private readonly backend: MemoryBackend, private readonly topic: string, private readonly log: Log, private readonly listener: LiveListener) {
    this.head = log.head
  }

  stop (): void {
    this.backend.unfollow(this.topic, this.log, this.listener)
  }
}

export class MemoryBackend implements HubBackend {
  private readonly logs = new Map<string, Log>()
  /**
   * Idempotency keys by topic and key. Every key lives for the same window from its publish, so
   * the Map's insertion order is also expiry order: pruning only ever looks at the front.
   */
  private readonly stored = new Map<string, Stored>()
  /**
   * Topics without listeners, by name, oldest `idleSince` first (a topic moves to the back when it
   * becomes idle again), so expiry only ever looks at the front. Empty without a topicTtl.
   */
  private readonly idle = new Map<string, Log>()
  private expiry: NodeJS.Timeout | undefined
  private lastMs = 0
  private lastSeq = 0
  private closed = false

  constructor (private readonly options: MemoryBackendOptions) {}

  get state (): HubBackendState {
    return this.closed ? 'closed' : 'up'
  }

  async append (topic: string, frame: string, options?: AppendOptions): Promise<string> {
    if (this.closed) throw hubClosed()
    this.prune()
    // Length first, so no topic and key can spell another pair's entry.
    const key = options?.idempotencyKey === undefined ? undefined : `${topic.length}:${topic}${options.idempotencyKey}`
    const first = key === undefined ? undefined : this.stored.get(key)
    if (first !== undefined && first.until > Date.now()) return first.id
    const log = this.log(topic)
    // Like Redis: milliseconds, and a sequence within the same millisecond (or a clock that went
    // back), so ids keep increasing. One counter for all topics is enough for that.
    const now = Date.now()
    if (now > this.lastMs) {
      this.lastMs = now
      this.lastSeq = 0
    } else {
      this.lastSeq++
    }
    const id = `${this.lastMs}-${this.lastSeq}`
    const entry = toEntry(id, frame)
    log.entries.push(entry)
    log.head = id
    if (log.entries.length - log.start > this.options.retain) {
      log.start = log.entries.length - this.options.retain
      log.trimmed = true
    }
    this.trim(log)
    // Fan out synchronously: each listener only queues the entry, so a slow client costs the
    // others nothing, and a subscriber attaching in between sees it either in the log or live.
    // Live subscribers' filters get the published event as it is; the log keeps only the frame,
    // so retained events cost no more memory than their text (a replay decodes what it filters).
    const live = options?.decoded === undefined || log.listeners.size === 0 ? entry : { ...entry, decoded: options.decoded }
    for (const listener of log.listeners) listener.entry(live)
    if (log.listeners.size === 0) this.becameIdle(topic, log)
    if (key !== undefined) {
      // Deleted first so that a key stored again moves to the back, keeping the Map in expiry order.
      this.stored.delete(key)
      this.stored.set(key, { id, until: Date.now() + this.options.idempotencyWindow })
    }
    return id
  }

  async read (topic: string, after: string, limit: number): Promise<ReadResult> {
    if (this.closed) throw hubClosed()
    // Reading creates nothing: a replay request for a topic that does not exist must not keep one.
    const log = this.logs.get(topic)
    if (after === START) {
      if (log === undefined) return { continuous: true, entries: [], trimmed: false }
      this.trim(log)
      return { continuous: true, entries: log.entries.slice(log.start, log.start + limit), trimmed: log.trimmed }
    }
    if (log === undefined || parseId(after) === undefined || log.head === undefined) return { continuous: false, reason: 'unknown' }
    this.trim(log)
    if (after === log.head) return { continuous: true, entries: [] }
    const index = this.indexOf(log, after)
    if (log.entries[index]?.id === after) {
      return { continuous: true, entries: log.entries.slice(index + 1, index + 1 + limit) }
    }
    const oldest = log.entries[log.start]?.id ?? log.head
    return { continuous: false, reason: compareIds(after, oldest) < 0 ? 'expired' : 'unknown' }
  }

  async follow (topic: string, listener: LiveListener): Promise<Follow> {
    if (this.closed) throw hubClosed()
    const log = this.log(topic)
    log.listeners.add(listener)
    this.idle.delete(topic)
    return new MemoryFollow(this, topic, log, listener)
  }

  /** A follower leaves `log`. */
  unfollow (topic: string, log: Log, listener: LiveListener): void {
    log.listeners.delete(listener)
    // A deleted or expired log is no longer this topic's: leave the current one alone.
    if (log.listeners.size === 0 && this.logs.get(topic) === log) this.becameIdle(topic, log)
  }

  async delete (topic: string): Promise<void> {
    if (this.closed) throw hubClosed()
    const log = this.logs.get(topic)
    if (log === undefined) return
    this.logs.delete(topic)
    this.idle.delete(topic)
    for (const listener of [...log.listeners]) listener.deleted()
  }

  async close (): Promise<void> {
    this.closed = true
    clearTimeout(this.expiry)
    this.logs.clear()
    this.idle.clear()
    this.stored.clear()
  }

  /** Starts (or restarts) a listener-less topic's idle time; one that never stored anything goes at once. */
  private becameIdle (topic: string, log: Log): void {
    if (log.head === undefined) {
      this.logs.delete(topic)
      return
    }
    if (this.options.topicTtl === undefined) return
    log.idleSince = Date.now()
    // Deleted first so that it moves to the back: the Map stays in idleSince order.
    this.idle.delete(topic)
    this.idle.set(topic, log)
    this.scheduleExpiry()
  }

  /** Sets the timer for the topic idle the longest, unless one is set. */
  private scheduleExpiry (): void {
    const ttl = this.options.topicTtl
    const next = this.idle.values().next()
    if (ttl === undefined || next.done === true || this.expiry !== undefined || this.closed) return
    this.expiry = setTimeout(() => this.expire(), Math.min(Math.max(next.value.idleSince + ttl - Date.now(), 0), MAX_DELAY))
    // Expiry is housekeeping: it must not keep the process alive.
    this.expiry.unref()
  }

  /** Drops every topic idle for topicTtl or longer, then waits for the next one. */
  private expire (): void {
    this.expiry = undefined
    const deadline = Date.now() - this.options.topicTtl!
    for (const [topic, log] of this.idle) {
      if (log.idleSince > deadline) break
      this.idle.delete(topic)
      this.logs.delete(topic)
    }
    this.prune()
    this.scheduleExpiry()
  }

  /** Forgets idempotency keys whose window is over. */
  private prune (): void {
    const now = Date.now()
    for (const [key, { until }] of this.stored) {
      if (until > now) return
      this.stored.delete(key)
    }
  }

  private log (topic: string): Log {
    let log = this.logs.get(topic)
    if (log === undefined) {
      log = { entries: [], start: 0, head: undefined, trimmed: false, listeners: new Set(), idleSince: 0 }
      this.logs.set(topic, log)
    }
    return log
  }

  private trim (log: Log): void {
    const { maxAge } = this.options
    if (maxAge !== undefined) {
      const oldest = Date.now() - maxAge
      while (log.start < log.entries.length && (parseId(log.entries[log.start]!.id)?.[0] ?? 0) < oldest) {
        log.start++
        log.trimmed = true
      }
    }
    // Compact once half the array is dead, so trimming stays O(1) amortised.
    if (log.start > 64 && log.start * 2 > log.entries.length) {
      log.entries = log.entries.slice(log.start)
      log.start = 0
    }
  }

  /** Index of the first retained entry whose id is not before `id` (binary search: ids increase). */
  private indexOf (log: Log, id: string): number {
    let low = log.start
    let high = log.entries.length
    while (low < high) {
      const mid = (low + high) >>> 1
      if (compareIds(log.entries[mid]!.id, id) < 0) low = mid + 1
      else high = mid
    }
    return low
  }
}
