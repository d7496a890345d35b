// The one seam between topics and storage. A backend keeps each topic's log of encoded frames,
// assigns ids, feeds appended entries to live listeners, and frees topics (idle expiry, delete);
// everything else (validation, replay merging, per-subscriber queues) is shared code above it,
// so both backends behave the same. A new backend implements HubBackend and passes the shared
// conformance suite (test/hub-conformance.ts).
//
// A topic's life, the same on every backend: it exists from its first append. It is kept while
// it has followers (on any instance), and for `topicTtl` ms after the later of its last append
// and its last follower leaving; then it is dropped as if deleted, except that nobody is told
// (it had no followers). `delete` drops it at once and tells its followers everywhere. A dropped topic
// keeps nothing, not even its newest id: reads after its old ids find it `unknown`, and appends
// start it afresh, with ids that still increase.
import { encodedFrame, type EncodedFrame } from '../wire.js'
import type { HubBackendState, LagMeter } from '../stats.js'

/** One stored event: its id and its whole wire frame, `id:` line included. */
export interface Entry {
  id: string
  /** Encoded once per process and shared by every subscriber; written verbatim. */
  frame: EncodedFrame
  /**
   * The frame without its `id:` line and the blank line that ends it: a stream of several
   * topics writes it with an id of its own (see position.ts).
   */
  body: string
  /**
   * The event's name and data, for filters: set at publish for entries fed in the publishing
   * process (no decoding at all), else decoded from `body` on first use and kept here, so it is
   * decoded once per entry, not once per subscriber (see filter.ts).
   */
  decoded?: DecodedEvent | undefined
  /** The id as numbers (milliseconds, sequence), parsed on first use: subscribers order by it. */
  key?: readonly [number, number] | undefined
}

/** An event's name (`message` for unnamed events) and data, as a filter sees them. */
export interface DecodedEvent {
  event: string
  data: unknown
}

/**
 * The position before a topic's first event. Read from it, a topic replays every event it
 * retains; the result says whether older ones were dropped (`trimmed`).
 */
export const START = '0-0'

/** What `read` found after an id. */
export type ReadResult =
  /**
   * The id is retained (or is the newest ever stored): `entries` follow it with no gap. From
   * START, `entries` are the oldest retained ones, and `trimmed` says whether events before them
   * were dropped (by `retain`, `maxAge` or a delete); a topic that does not exist has none.
   */
  | { continuous: true, entries: Entry[], trimmed?: boolean }
  /**
   * Events after the id may be lost: `expired` when it is older than the oldest retained one,
   * `unknown` when it was never stored here (another topic, a wiped store, a made-up id).
   */
  | { continuous: false, reason: 'expired' | 'unknown' }

/** What a follower of a topic is told. Both are called synchronously and must not block. */
export interface LiveListener {
  /** Each appended entry, in id order. */
  entry (entry: Entry): void
  /**
   * The topic was deleted (here or on another instance): the follower should stop; entries
   * appended after the delete belong to a new topic of the same name.
   */
  deleted (): void
}

export interface Follow {
  /** The newest id at the moment of attaching: every later entry goes to the listener. */
  head: string | undefined
  /** Stops the feed; the backend forgets the listener. */
  stop (): void
}

export interface AppendOptions {
  /**
   * Stores the event at most once per key and topic within the backend's idempotency window: an
   * append whose key was already stored stores nothing and resolves with the first id. The check
   * and the append are one atomic step, so two racing appends with one key store one event.
   */
  idempotencyKey?: string | undefined
  /**
   * The event as published. A backend that feeds entries to listeners in this process may keep
   * it on the entry (`Entry.decoded`), so filters need not decode the frame; others ignore it.
   */
  decoded?: DecodedEvent | undefined
}

export interface HubBackend {
  /**
   * Stores `frame` (an encoded frame without its id and without the blank line that ends it)
   * at the end of `topic`'s log. Resolves with the assigned id once the event is stored.
   * Rejects with `FST_SSE_HUB_UNAVAILABLE` when nothing was stored, and with
   * `FST_SSE_HUB_OUTCOME_UNKNOWN` when the store may have it (it was sent, no answer came).
   */
  append (topic: string, frame: string, options?: AppendOptions): Promise<string>
  /** Up to `limit` retained entries after `after` (an id, or START), oldest first. */
  read (topic: string, after: string, limit: number): Promise<ReadResult>
  /** Feeds every entry appended after the returned head to `listener`. */
  follow (topic: string, listener: LiveListener): Promise<Follow>
  /**
   * Drops the topic's log at once and calls `deleted` on its followers on every instance.
   * Idempotent: deleting a topic that does not exist resolves. Idempotency keys stored by its
   * appends are kept for their window, so a late retry of a deleted event still stores nothing.
   */
  delete (topic: string): Promise<void>
  /** Stops feeds and closes connections. Appends and reads after it reject. */
  close (): Promise<void>
  /** For stats(): whether the store is reachable. */
  readonly state: HubBackendState
  /** For stats(): the lag of entries read from a shared store, if the backend measures it. */
  readonly lag?: LagMeter | undefined
}

// Ids have the Redis Streams shape `<milliseconds>-<sequence>` on both backends: they increase
// within a topic, sort by time, and an id from an earlier process (memory) or a wiped Redis is
// older than anything stored since, so it reads as expired instead of matching a newer event.
const ID = /^(\d{1,15})-(\d{1,15})$/

export function parseId (id: string): [number, number] | undefined {
  const match = ID.exec(id)
  return match === null ? undefined : [Number(match[1]), Number(match[2])]
}

/** Negative when `a` comes before `b`. Both must be valid ids. */
export function compareIds (a: string, b: string): number {
  const [am, as] = parseId(a) ?? [0, 0]
  const [bm, bs] = parseId(b) ?? [0, 0]
  return am !== bm ? am - bm : as - bs
}

/** The entry as sent: the stored frame text, its id line, the blank line that ends it. */
export function toEntry (id: string, frame: string, decoded?: DecodedEvent): Entry {
  return { id, frame: encodedFrame(frame + 'id: ' + id + '\n\n'), body: frame, decoded }
}
