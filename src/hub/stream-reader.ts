// Reading one Redis (or the master a Sentinel names): one blocking XREAD loop, on a connection
// of its own, over every topic this instance follows, fanning each entry out to the topic's
// listeners. A thousand clients on one instance cost one read, not a thousand.
import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import { type ConnectionEvents, deliver, type Feed, type FeedReader, type RawEntry } from './redis-feed.js'

// Entries per XREAD reply; a busier topic is simply read again at once.
const READ_COUNT = 512
// The loop is woken by CLIENT UNBLOCK when a topic is added; the block timeout is only the
// fallback for an unblock that arrived before its XREAD did.
const BLOCK_MS = 2000
// Pause after a read Redis answered with an error (not a lost connection), so it cannot spin.
const RETRY_MS = 200

export class StreamReader implements FeedReader {
  private readonly feeds = new Map<string, Feed>()
  private closed = false
  private reading = false
  private readerId: number | undefined
  /** Resolves whatever the loop is idling on: a new feed, the reader coming back, close(). */
  private wake: (() => void) | undefined
  private loop: Promise<void> = Promise.resolve()
  private retryTimer: NodeJS.Timeout | undefined

  constructor (
    /** Blocking reads only: a blocked connection can do nothing else. */
    private readonly reader: Redis,
    /** For CLIENT UNBLOCK, which the blocked connection cannot send itself. */
    private readonly cmd: Redis,
    /** The newest id of a stream, `0-0` when it does not exist. */
    private readonly head: (key: string) => Promise<string>,
    private readonly log: FastifyBaseLogger,
    events: ConnectionEvents
  ) {
    reader.on('error', (err: Error) => events.lost('reader', err))
    reader.on('ready', () => {
      events.back()
      this.wake?.()
    })
    reader.on('close', () => { this.readerId = undefined })
  }

  /** Starts the loop; the reader connection is connected by then. */
  start (): void {
    this.loop = this.run()
  }

  async add (feed: Feed): Promise<void> {
    // Left out of reads until its cursor is known.
    this.feeds.set(feed.key, feed)
    try {
      feed.cursor = await this.head(feed.key)
    } catch (err) {
      this.remove(feed)
      throw err
    }
    if (this.reading && this.readerId !== undefined) {
      this.cmd.call('CLIENT', 'UNBLOCK', this.readerId).catch((err: unknown) => {
        this.log.debug({ err }, 'fastify-typed-sse: CLIENT UNBLOCK failed; the hub reader picks the topic up at its next read')
      })
    } else {
      this.wake?.()
    }
  }

  remove (feed: Feed): void {
    if (this.feeds.get(feed.key) === feed) this.feeds.delete(feed.key)
  }

  async close (): Promise<void> {
    this.closed = true
    this.feeds.clear()
    this.reader.disconnect()
    this.wake?.()
    await this.loop
  }

  private async run (): Promise<void> {
    while (!this.closed) {
      const feeds = [...this.feeds.values()].filter(feed => feed.cursor !== undefined)
      if (feeds.length === 0 || this.reader.status !== 'ready') {
        await this.idle()
        continue
      }
      let reply: unknown
      try {
        this.readerId ??= await this.reader.call('CLIENT', 'ID') as number
        this.reading = true
        reply = await this.reader.call('XREAD', 'COUNT', READ_COUNT, 'BLOCK', BLOCK_MS, 'STREAMS',
          ...feeds.map(feed => feed.key), ...feeds.map(feed => feed.cursor!))
      } catch (err) {
        // The reader lost Redis (it reconnects by itself) or is closing. Local subscribers stay
        // connected; once the reader is back, reading resumes from each feed's cursor: no gap.
        if (!this.closed && this.reader.status === 'ready') {
          this.log.warn({ err }, 'fastify-typed-sse: the hub\'s Redis read failed; retrying')
          await this.idle(RETRY_MS)
        }
        continue
      } finally {
        this.reading = false
      }
      if (!Array.isArray(reply)) continue
      for (const [key, rows] of reply as Array<[string, RawEntry[]]>) {
        // A feed dropped and restarted while this read was in flight has a newer cursor (or
        // none yet): deliver skips what it already has.
        const feed = this.feeds.get(key)
        if (feed === undefined || feed.cursor === undefined) continue
        deliver(feed, rows)
      }
    }
  }

  /** Waits for wake() (a new feed, the reader back, close), or at most `ms`. */
  private async idle (ms?: number): Promise<void> {
    await new Promise<void>(resolve => {
      this.wake = resolve
      if (ms !== undefined) this.retryTimer = setTimeout(resolve, ms)
    })
    clearTimeout(this.retryTimer)
    this.wake = undefined
  }
}
