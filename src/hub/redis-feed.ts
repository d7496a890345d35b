// What the Redis backend's two ways of reading share: a topic this instance follows (a feed),
// the one function that hands what was read to its listeners, and the reader interface. One
// Redis (or Sentinel) is read with one blocking XREAD (stream-reader.ts); a cluster with one
// sharded subscription per node (cluster-reader.ts).
import { compareIds, type Entry, type LiveListener, toEntry } from './backend.js'
import type { LagMeter } from '../stats.js'

/** A topic this instance reads, and the listeners it feeds. */
export interface Feed {
  key: string
  /** The last id read (delivered), `0-0` before the stream exists; undefined until known. */
  cursor: string | undefined
  listeners: Set<LiveListener>
  ready: Promise<void>
  /** The backend's: each entry delivered is measured (stats). */
  lag: LagMeter
}

/** [id, [field, value, ...]] as XRANGE and XREAD return it. */
export type RawEntry = [string, string[]]

// The field each entry stores its encoded frame in.
export const FIELD = 'frame'
// The field of the entry `delete` leaves in the emptied stream: the tombstone that tells every
// instance's reader to end the topic's subscribers. It is always the stream's first entry.
export const DELETED = 'deleted'

export function rowToEntry ([id, fields]: RawEntry): Entry {
  const index = fields.indexOf(FIELD)
  return toEntry(id, fields[index + 1] ?? '')
}

export function isTombstone ([, fields]: RawEntry): boolean {
  return fields[0] === DELETED
}

/**
 * Hands the rows after the feed's cursor to its listeners, in id order, and moves the cursor:
 * whatever overlap two reads have (a catch-up and live messages), each entry goes out once.
 */
export function deliver (feed: Feed, rows: RawEntry[]): void {
  for (const row of rows) {
    if (feed.cursor !== undefined && compareIds(row[0], feed.cursor) <= 0) continue
    feed.cursor = row[0]
    if (isTombstone(row)) {
      for (const listener of [...feed.listeners]) listener.deleted()
      continue
    }
    const entry = rowToEntry(row)
    feed.lag.record(entry.id)
    for (const listener of feed.listeners) listener.entry(entry)
  }
}

/** How an instance gets the entries appended to the topics it follows. */
export interface FeedReader {
  /**
   * Starts reading `feed`. Resolves once its cursor is set and every entry after it will be
   * delivered; rejects when Redis cannot be reached (the feed is then dropped by the caller).
   */
  add (feed: Feed): Promise<void>
  /** Stops reading `feed`. */
  remove (feed: Feed): void
  close (): Promise<void>
}

/** What readers report about their connections, for the log (one warning per outage). */
export interface ConnectionEvents {
  lost (connection: string, err: Error): void
  back (): void
}

/**
 * ioredis listens for one 'error' per socket (`once`). A socket that fails a TLS handshake (an
 * untrusted certificate) can emit a second one as it is torn down, which nothing would catch:
 * the process would crash. Each socket that reported an error gets a listener for the rest.
 */
export function absorbLateErrors (connection: { on (event: 'error', listener: (err: Error) => void): unknown, stream?: { on (event: 'error', listener: () => void): unknown } | undefined }): void {
  const guarded = new WeakSet<object>()
  connection.on('error', () => {
    const stream = connection.stream
    if (stream === undefined || guarded.has(stream)) return
    guarded.add(stream)
    stream.on('error', () => {})
  })
}
