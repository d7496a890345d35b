// The one seam between topics and storage. A backend keeps each topic's log of encoded frames,
// assigns ids, and feeds appended entries to live listeners; everything else (validation,
// replay merging, per-subscriber queues) is shared code above it, so both backends behave the same.
import { encodedFrame, type EncodedFrame } from '../wire.js'

/** One stored event: its id and its whole wire frame, `id:` line included. */
export interface Entry {
  id: string
  /** Encoded once per process and shared by every subscriber; written verbatim. */
  frame: EncodedFrame
}

/** What `read` found after an id. */
export type ReadResult =
  /** The id is retained (or is the newest ever stored): `entries` follow it with no gap. */
  | { continuous: true, entries: Entry[] }
  /**
   * Events after the id may be lost: `expired` when it is older than the oldest retained one,
   * `unknown` when it was never stored here (another topic, a wiped store, a made-up id).
   */
  | { continuous: false, reason: 'expired' | 'unknown' }

/** Called with each appended entry, in id order, synchronously: it must not block. */
export type LiveListener = (entry: Entry) => void

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
}

export interface HubBackend {
  /**
   * Stores `frame` (an encoded frame without its id and without the blank line that ends it)
   * at the end of `topic`'s log. Resolves with the assigned id once the event is stored.
   * Rejects with `FST_SSE_HUB_UNAVAILABLE` when nothing was stored, and with
   * `FST_SSE_HUB_OUTCOME_UNKNOWN` when the store may have it (it was sent, no answer came).
   */
  append (topic: string, frame: string, options?: AppendOptions): Promise<string>
  /** Up to `limit` retained entries after `after`, oldest first. */
  read (topic: string, after: string, limit: number): Promise<ReadResult>
  /** Feeds every entry appended after the returned head to `listener`. */
  follow (topic: string, listener: LiveListener): Promise<Follow>
  /** Stops feeds and closes connections. Appends and reads after it reject. */
  close (): Promise<void>
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
export function toEntry (id: string, frame: string): Entry {
  return { id, frame: encodedFrame(frame + 'id: ' + id + '\n\n') }
}
