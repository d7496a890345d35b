// The Redis backend: one Redis Stream per topic, so several app instances share topics and ids.
// A Lua script appends (XADD trimmed by MAXLEN, and MINID for age, with the idempotency check in
// the same atomic step); XRANGE replays; one blocking XREAD loop per instance, on its own
// connection, reads every topic that has local subscribers and fans each entry out to them, so a
// thousand clients on one instance cost one read, not a thousand.
import type { FastifyBaseLogger } from 'fastify'
import { Redis, ReplyError, type RedisOptions } from 'ioredis'
import { createHash } from 'node:crypto'
import { hubClosed, hubOutcomeUnknown, hubUnavailable } from '../errors.js'
import { type AppendOptions, compareIds, parseId, START, type Entry, type Follow, type HubBackend, toEntry, type LiveListener, type ReadResult } from './backend.js'

export interface RedisBackendOptions {
  url: string
  retain: number
  maxAge: number | undefined
  keyPrefix: string
  timeout: number
  topicTtl: number | undefined
  idempotencyWindow: number
}

/** A topic this instance reads, and the listeners it feeds. */
interface Feed {
  key: string
  /** The last id read (delivered), `0-0` before the stream exists; undefined until known. */
  cursor: string | undefined
  listeners: Set<LiveListener>
  ready: Promise<void>
}

// The field each entry stores its encoded frame in.
const FIELD = 'frame'
// The field of the entry `delete` leaves in the emptied stream: the tombstone that tells every
// instance's reader to end the topic's subscribers. It is always the stream's first entry.
const DELETED = 'deleted'
// How long the emptied stream with its tombstone is kept: time enough for every instance's
// reader to see it, even one that was reconnecting. A publish meanwhile keeps the stream.
const TOMBSTONE_MS = 60_000

/** A Lua script, run by its SHA1 (EVALSHA); its text is sent only when Redis lacks it. */
interface Script {
  source: string
  sha: string
}

function script (source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') }
}

// KEYS[1] the topic's stream; KEYS[2] the publish's idempotency key, if it has one.
// ARGV: the frame, MAXLEN, the MINID to trim to ('' for none), the idempotency window in ms,
// the topic's TTL in ms ('' for none: the stream is made persistent).
// Returns the id of the stored event: the new one, or the first one stored under the key.
// One script, so the check and the append are one step: no two publishes with one key can both
// miss the key. XADD is the first write, so a script that fails (WRONGTYPE from the GET, or a
// Redis out of memory refusing the XADD) has stored nothing; once XADD has run, Redis lets a
// script finish its writes even when out of memory, so it is never half done.
const APPEND = script(`local first = KEYS[2] and redis.call('GET', KEYS[2])
if first then return first end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[2], '*', '${FIELD}', ARGV[1])
if ARGV[3] ~= '' then redis.call('XTRIM', KEYS[1], 'MINID', ARGV[3]) end
if ARGV[5] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[5]) else redis.call('PERSIST', KEYS[1]) end
if KEYS[2] then redis.call('SET', KEYS[2], id, 'PX', ARGV[4]) end
return id`)

// KEYS[1] the topic's stream. ARGV: how long the tombstone is kept, in ms.
// Empties the stream but keeps it (so later ids still increase), with a tombstone as its only
// entry: every reader following the topic gets it and ends its subscribers.
const DELETE = script(`redis.call('XTRIM', KEYS[1], 'MAXLEN', 0)
redis.call('XADD', KEYS[1], '*', '${DELETED}', '1')
redis.call('PEXPIRE', KEYS[1], ARGV[1])`)
// Entries per XREAD reply; a busier topic is simply read again at once.
const READ_COUNT = 512
// The loop is woken by CLIENT UNBLOCK when a topic is added; the block timeout is only the
// fallback for an unblock that arrived before its XREAD did.
const BLOCK_MS = 2000
// Pause after a read Redis answered with an error (not a lost connection), so it cannot spin.
const RETRY_MS = 200
// setTimeout's longest delay.
const MAX_DELAY = 2 ** 31 - 1

export class RedisBackend implements HubBackend {
  private readonly feeds = new Map<string, Feed>()
  private closed = false
  private reading = false
  private readerId: number | undefined
  private down = false
  /** Resolves whatever the loop is idling on: a new feed, the reader coming back, close(). */
  private wake: (() => void) | undefined
  private loop: Promise<void> = Promise.resolve()
  private retryTimer: NodeJS.Timeout | undefined
  /** Renews the TTL of the topics this instance's subscribers follow (see keepAlive). */
  private keepAliveTimer: NodeJS.Timeout | undefined

  private constructor (
    private readonly options: RedisBackendOptions,
    private readonly log: FastifyBaseLogger,
    /** Commands: XADD, XRANGE, XINFO. Fails fast while Redis is away, so publish rejects. */
    private readonly cmd: Redis,
    /** Blocking reads only: a blocked connection can do nothing else. */
    private readonly reader: Redis
  ) {}

  /** Connects both connections; rejects (leaving nothing open) if Redis cannot be reached. */
  static async connect (options: RedisBackendOptions, log: FastifyBaseLogger): Promise<RedisBackend> {
    const common: RedisOptions = {
      lazyConnect: true,
      // RESP2 keeps XREAD and XINFO replies in their documented array shapes.
      protocol: 2,
      // While Redis is away, commands fail at once instead of queueing: publish rejects and the
      // caller knows the event was not stored. In-flight commands fail when the socket closes.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      connectTimeout: options.timeout,
      retryStrategy: (times) => Math.min(50 * times, 1000)
    }
    const cmd = new Redis(options.url, { ...common, commandTimeout: options.timeout, connectionName: 'fastify-typed-sse' })
    const reader = new Redis(options.url, { ...common, connectionName: 'fastify-typed-sse:reader' })
    const backend = new RedisBackend(options, log, cmd, reader)
    cmd.on('error', (err: Error) => backend.onError('commands', err))
    reader.on('error', (err: Error) => backend.onError('reader', err))
    reader.on('ready', () => backend.onReaderReady())
    reader.on('close', () => { backend.readerId = undefined })
    try {
      await Promise.all([cmd.connect(), reader.connect()])
    } catch (err) {
      cmd.disconnect()
      reader.disconnect()
      throw hubUnavailable(`the hub could not connect to ${redactUrl(options.url)}`, err)
    }
    backend.loop = backend.run()
    return backend
  }

  async append (topic: string, frame: string, options?: AppendOptions): Promise<string> {
    if (this.closed) throw hubClosed()
    const { retain, maxAge, idempotencyWindow, topicTtl } = this.options
    const key = options?.idempotencyKey
    const keys = key === undefined ? [this.key(topic)] : [this.key(topic), this.idempotencyKey(topic, key)]
    try {
      return await this.evalScript(APPEND, keys, [frame, retain, maxAge === undefined ? '' : minId(maxAge), idempotencyWindow, topicTtl ?? '']) as string
    } catch (err) {
      const what = `publishing to topic "${topic}"`
      // Not sent, or answered with an error: Redis stored nothing. Anything else (a timeout, a
      // connection lost with the command in flight) leaves the outcome open.
      if (err instanceof NotSent || err instanceof ReplyError) throw hubUnavailable(what, err)
      throw hubOutcomeUnknown(what, err, key === undefined ? 'unkeyed' : 'keyed')
    }
  }

  async delete (topic: string): Promise<void> {
    if (this.closed) throw hubClosed()
    try {
      await this.evalScript(DELETE, [this.key(topic)], [TOMBSTONE_MS])
    } catch (err) {
      const what = `deleting topic "${topic}"`
      if (err instanceof NotSent || err instanceof ReplyError) throw hubUnavailable(what, err)
      throw hubOutcomeUnknown(what, err, 'idempotent')
    }
    // This instance's subscribers end like every other instance's: when the reader gets the
    // tombstone. One path, so none can end twice or be missed by a race with a new subscriber.
  }

  async read (topic: string, after: string, limit: number): Promise<ReadResult> {
    if (this.closed) throw hubClosed()
    if (parseId(after) === undefined) return { continuous: false, reason: 'unknown' }
    const key = this.key(topic)
    let rows: RawEntry[]
    let info: StreamInfo | undefined
    try {
      // One transaction, so the range and the stream's bounds describe the same moment.
      const transaction = this.cmd.multi()
      if (this.options.maxAge !== undefined) transaction.call('XTRIM', key, 'MINID', minId(this.options.maxAge))
      transaction.call('XRANGE', key, after, '+', 'COUNT', limit + 1)
      transaction.call('XINFO', 'STREAM', key)
      const results = await transaction.exec()
      const base = this.options.maxAge === undefined ? 0 : 1
      rows = resultOf(results, base) as RawEntry[]
      info = streamInfo(results?.[base + 1])
    } catch (err) {
      throw hubUnavailable(`replaying topic "${topic}"`, err)
    }
    // From START: the oldest entries (XRANGE from 0-0 starts at the first one; no entry has id 0-0).
    if (after === START) return { continuous: true, entries: rows.filter(row => !isTombstone(row)).slice(0, limit).map(rowToEntry), trimmed: info?.trimmed ?? false }
    if (info === undefined) return { continuous: false, reason: 'unknown' }
    // XRANGE starts at `after` itself: finding it proves nothing between was trimmed. (A
    // tombstone is only ever the first entry, so after `after` there is none; filtered anyway.)
    if (rows[0]?.[0] === after) return { continuous: true, entries: rows.slice(1).filter(row => !isTombstone(row)).map(rowToEntry) }
    if (after === info.lastId) return { continuous: true, entries: [] }
    // Before a tombstone, everything was deleted: as unknown as if the stream had never been.
    if (info.first !== undefined && isTombstone(info.first) && compareIds(after, info.first[0]) < 0) return { continuous: false, reason: 'unknown' }
    const oldest = info.first?.[0] ?? info.lastId
    return { continuous: false, reason: compareIds(after, oldest) < 0 ? 'expired' : 'unknown' }
  }

  async follow (topic: string, listener: LiveListener): Promise<Follow> {
    if (this.closed) throw hubClosed()
    const key = this.key(topic)
    let feed = this.feeds.get(key)
    if (feed === undefined) {
      const created: Feed = { key, cursor: undefined, listeners: new Set(), ready: Promise.resolve() }
      created.ready = this.start(created)
      this.feeds.set(key, created)
      feed = created
      this.keepAlive()
    }
    try {
      await feed.ready
    } catch (err) {
      if (this.feeds.get(key) === feed && feed.listeners.size === 0) this.feeds.delete(key)
      throw hubUnavailable(`subscribing to topic "${topic}"`, err)
    }
    if (this.closed) throw hubClosed()
    // The feed was dropped while it started (its other subscribers left): start a fresh one.
    if (this.feeds.get(key) !== feed) return await this.follow(topic, listener)
    // Added in the same turn as the cursor is read: everything after it reaches the listener.
    feed.listeners.add(listener)
    return {
      head: feed.cursor === '0-0' ? undefined : feed.cursor,
      stop: () => {
        feed.listeners.delete(listener)
        if (feed.listeners.size === 0 && this.feeds.get(key) === feed) this.feeds.delete(key)
      }
    }
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.feeds.clear()
    clearTimeout(this.keepAliveTimer)
    this.reader.disconnect()
    this.wake?.()
    await this.loop
    await this.cmd.quit().catch(() => this.cmd.disconnect())
    this.cmd.disconnect()
  }

  /** Finds where a new feed starts (the newest id) and gets the loop to read it. */
  private async start (feed: Feed): Promise<void> {
    // The topic has a subscriber now: its TTL starts over (then keepAlive renews it).
    this.renew([feed.key])
    const info = streamInfo(await this.cmd.call('XINFO', 'STREAM', feed.key).then(
      (reply): [Error | null, unknown] => [null, reply],
      (err: unknown): [Error | null, unknown] => [err instanceof Error ? err : new Error(String(err)), null]))
    feed.cursor = info?.lastId ?? '0-0'
    if (this.reading && this.readerId !== undefined) {
      this.cmd.call('CLIENT', 'UNBLOCK', this.readerId).catch((err: unknown) => {
        this.log.debug({ err }, 'fastify-typed-sse: CLIENT UNBLOCK failed; the hub reader picks the topic up at its next read')
      })
    } else {
      this.wake?.()
    }
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
        const feed = this.feeds.get(key)
        if (feed === undefined || feed.cursor === undefined) continue
        for (const row of rows) {
          // A feed dropped and restarted while this read was in flight has a newer cursor.
          if (compareIds(row[0], feed.cursor) <= 0) continue
          feed.cursor = row[0]
          if (isTombstone(row)) {
            for (const listener of [...feed.listeners]) listener.deleted()
            continue
          }
          const entry = rowToEntry(row)
          for (const listener of feed.listeners) listener.entry(entry)
        }
      }
    }
  }

  /**
   * Topics expire by their stream key's TTL, which every publish renews. A topic with subscribers
   * and no publisher must not expire under them, so while this instance follows topics it renews
   * their TTL every third of it: a topic then expires between two thirds of its TTL and its TTL
   * after its last subscriber (on any instance) left.
   */
  private keepAlive (): void {
    const ttl = this.options.topicTtl
    if (ttl === undefined || this.keepAliveTimer !== undefined || this.closed || this.feeds.size === 0) return
    this.keepAliveTimer = setTimeout(() => {
      this.keepAliveTimer = undefined
      this.renew([...this.feeds.keys()])
      this.keepAlive()
    }, Math.min(Math.max(Math.floor(ttl / 3), 1), MAX_DELAY))
    // Housekeeping: it must not keep the process alive.
    this.keepAliveTimer.unref()
  }

  /** Sets the keys' TTL to topicTtl; a key that does not exist stays absent. Best effort. */
  private renew (keys: string[]): void {
    const ttl = this.options.topicTtl
    if (ttl === undefined || keys.length === 0 || this.cmd.status !== 'ready') return
    const pipeline = this.cmd.pipeline()
    for (const key of keys) pipeline.pexpire(key, ttl)
    pipeline.exec().catch((err: unknown) => {
      this.log.debug({ err }, 'fastify-typed-sse: renewing the TTL of followed topics failed; the next renewal retries')
    })
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

  private onError (connection: string, err: Error): void {
    // ioredis reports every failed reconnection attempt; one warning per outage is enough.
    if (this.down || this.closed) return
    this.down = true
    this.log.warn({ err, connection }, 'fastify-typed-sse: the hub lost Redis; publish rejects until it is back')
  }

  private onReaderReady (): void {
    if (this.down) this.log.info('fastify-typed-sse: the hub is connected to Redis again')
    this.down = false
    this.wake?.()
  }

  /**
   * Runs `script` by its SHA; when Redis answers NOSCRIPT (a restarted or flushed Redis: the
   * script did not run), sends its text with EVAL.
   */
  private async evalScript (script: Script, keys: string[], args: Array<string | number>): Promise<unknown> {
    try {
      return await this.send('EVALSHA', script.sha, keys.length, ...keys, ...args)
    } catch (err) {
      if (!(err instanceof ReplyError && /^NOSCRIPT/.test((err as Error).message))) throw err
    }
    return await this.send('EVAL', script.source, keys.length, ...keys, ...args)
  }

  /**
   * Sends a command on the command connection, or rejects with NotSent if it cannot go now. With
   * the offline queue off, ioredis writes a command to the socket at once when the connection is
   * ready and writable, and refuses it otherwise: checking the same here is what tells "never
   * sent" (nothing stored, safe to retry) from "sent, no answer" (outcome unknown).
   */
  private async send (command: string, ...args: Array<string | number>): Promise<unknown> {
    if (this.cmd.status !== 'ready' || this.cmd.stream?.writable !== true) {
      throw new NotSent(`the connection to Redis is ${this.cmd.status === 'ready' ? 'not writable' : this.cmd.status}`)
    }
    return await this.cmd.call(command, ...args)
  }

  // A topic's keys: its stream is keyPrefix + name; its idempotency keys add a NUL and the key.
  // Topic names hold no NUL, so no topic's stream can be another topic's idempotency key.
  private key (topic: string): string {
    return this.options.keyPrefix + topic
  }

  private idempotencyKey (topic: string, key: string): string {
    return `${this.options.keyPrefix}${topic}\0${key}`
  }
}

/** The command was never written to the connection: Redis cannot have run it. */
class NotSent extends Error {
  override name = 'NotSent'
}

/** [id, [field, value, ...]] as XRANGE and XREAD return it. */
type RawEntry = [string, string[]]

interface StreamInfo {
  lastId: string
  /** The oldest entry, if any. */
  first: RawEntry | undefined
  /** True when entries were dropped (trimmed or deleted): more were added than it holds. */
  trimmed: boolean
}

function rowToEntry ([id, fields]: RawEntry): Entry {
  const index = fields.indexOf(FIELD)
  return toEntry(id, fields[index + 1] ?? '')
}

function isTombstone ([, fields]: RawEntry): boolean {
  return fields[0] === DELETED
}

/** Parses XINFO STREAM's [error, reply]; undefined when the stream does not exist. */
function streamInfo (result: [Error | null, unknown] | undefined): StreamInfo | undefined {
  if (result === undefined) return undefined
  const [err, reply] = result
  if (err !== null) {
    if (/no such key/i.test(err.message)) return undefined
    throw err
  }
  const fields = reply as unknown[]
  const lastId = fields[fields.indexOf('last-generated-id') + 1] as string
  const first = fields[fields.indexOf('first-entry') + 1] as RawEntry | null
  // `entries-added` (Redis 7): without it, assume the worst.
  const added = fields.indexOf('entries-added')
  const trimmed = added === -1 || Number(fields[added + 1]) > Number(fields[fields.indexOf('length') + 1])
  return { lastId, first: first ?? undefined, trimmed }
}

function resultOf (results: Array<[Error | null, unknown]> | null, index: number): unknown {
  const result = results?.[index]
  if (result === undefined) throw new Error('the Redis transaction was discarded')
  if (result[0] !== null) throw result[0]
  return result[1]
}

function minId (maxAge: number): string {
  return `${Date.now() - maxAge}-0`
}

/** The URL without its password, for messages. */
function redactUrl (url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@')
}
