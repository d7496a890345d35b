// The Redis backend: one Redis Stream per topic, so several app instances share topics and ids.
// A Lua script appends (XADD trimmed by MAXLEN, and MINID for age, with the idempotency check in
// the same atomic step); XRANGE replays. Each instance reads the topics it has subscribers for
// once, however many subscribers: on one Redis (or Sentinel) with one blocking XREAD
// (stream-reader.ts), on Redis Cluster with one sharded subscription per node
// (cluster-reader.ts), and fans each entry out to its subscribers.
//
// `hub.redis` is a URL, or an ioredis client (Redis, Sentinel, TLS options, or Cluster) whose
// settings the hub copies with `duplicate()`: the hub needs connections that behave in its own
// way (no offline queue, no silent resend of a command that may have run), and a blocked reading
// connection of its own, so it never uses, changes or closes the application's client.
import type { FastifyBaseLogger } from 'fastify'
import { Cluster, Redis, ReplyError, type RedisOptions } from 'ioredis'
import { createHash } from 'node:crypto'
import { hubClosed, hubOutcomeUnknown, hubUnavailable, invalidOption } from '../errors.js'
import type { RedisClientLike } from '../options.js'
import { type AppendOptions, compareIds, parseId, START, type Follow, type HubBackend, type LiveListener, type ReadResult } from './backend.js'
import { ClusterReader, refreshSlots } from './cluster-reader.js'
import { absorbLateErrors, DELETED, type Feed, type FeedReader, FIELD, isTombstone, type RawEntry, rowToEntry } from './redis-feed.js'
import { keySlot } from './slot.js'
import { StreamReader } from './stream-reader.js'
import { backendDownChannel, backendUpChannel } from '../diagnostics.js'
import { type HubBackendState, LagMeter } from '../stats.js'

export interface RedisBackendOptions {
  /** A URL, or an ioredis Redis or Cluster client to copy the settings of. */
  redis: string | RedisClientLike
  retain: number
  maxAge: number | undefined
  keyPrefix: string
  timeout: number
  topicTtl: number | undefined
  idempotencyWindow: number
}

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

// KEYS[1] the topic's stream; KEYS[2] the publish's idempotency key, if it has one (both keys
// carry the topic as hash tag: one slot on a cluster, as a script's keys must be).
// ARGV: the frame, MAXLEN, the MINID to trim to ('' for none), the idempotency window in ms,
// the topic's TTL in ms ('' for none: the stream is made persistent), and '1' on a cluster:
// publish `id\nframe` on the stream's shard channel for the instances' readers.
// Returns the id of the stored event: the new one, or the first one stored under the key.
// One script, so the check and the append are one step: no two publishes with one key can both
// miss the key. XADD is the first write, so a script that fails (WRONGTYPE from the GET, or a
// Redis out of memory refusing the XADD) has stored nothing; once XADD has run, Redis lets a
// script finish its writes even when out of memory, so it is never half done. (SPUBLISH needs
// Redis 7: connect checks the cluster's version, so it cannot fail here after the XADD.)
const APPEND = script(`local first = KEYS[2] and redis.call('GET', KEYS[2])
if first then return first end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[2], '*', '${FIELD}', ARGV[1])
if ARGV[3] ~= '' then redis.call('XTRIM', KEYS[1], 'MINID', ARGV[3]) end
if ARGV[5] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[5]) else redis.call('PERSIST', KEYS[1]) end
if KEYS[2] then redis.call('SET', KEYS[2], id, 'PX', ARGV[4]) end
if ARGV[6] == '1' then redis.call('SPUBLISH', KEYS[1], id .. '\\n' .. ARGV[1]) end
return id`)

// KEYS[1] the topic's stream. ARGV: how long the tombstone is kept, in ms; '1' on a cluster.
// Empties the stream but keeps it (so later ids still increase), with a tombstone as its only
// entry: every reader following the topic gets it and ends its subscribers. On a cluster the
// tombstone's id alone is published.
const DELETE = script(`redis.call('XTRIM', KEYS[1], 'MAXLEN', 0)
local id = redis.call('XADD', KEYS[1], '*', '${DELETED}', '1')
redis.call('PEXPIRE', KEYS[1], ARGV[1])
if ARGV[2] == '1' then redis.call('SPUBLISH', KEYS[1], id) end`)
// setTimeout's longest delay.
const MAX_DELAY = 2 ** 31 - 1
// Connection states in which a connection is on its way up, not down: a command waits for it.
const COMING_UP = new Set(['wait', 'connecting', 'connect'])

export class RedisBackend implements HubBackend {
  private readonly feeds = new Map<string, Feed>()
  private closed = false
  private down = false
  /** Renews the TTL of the topics this instance's subscribers follow (see keepAlive). */
  private keepAliveTimer: NodeJS.Timeout | undefined
  private reader!: FeedReader
  readonly lag = new LagMeter()

  private constructor (
    private readonly options: RedisBackendOptions,
    private readonly log: FastifyBaseLogger,
    /**
     * Commands: the append and delete scripts, XRANGE, XINFO. Fails fast while Redis is away, so
     * publish rejects. On a cluster, a Cluster client that routes each command to its slot's node.
     */
    private readonly cmd: Redis | Cluster
  ) {}

  /** Connects; rejects (leaving nothing open) if Redis cannot be reached or is not what it was said to be. */
  static async connect (options: RedisBackendOptions, log: FastifyBaseLogger): Promise<RedisBackend> {
    const source = options.redis
    const cluster = typeof source !== 'string' && source.isCluster
    // No retry before the first connection: register fails at once, with the reason (and no
    // reconnection left running: a TLS socket ioredis gave up on could later throw unhandled).
    let connected = false
    const retryStrategy = (times: number): number | null => connected ? Math.min(50 * times, 1000) : null
    const common: RedisOptions = {
      lazyConnect: true,
      // RESP2 keeps XREAD and XINFO replies in their documented array shapes.
      protocol: 2,
      // While Redis is away, commands fail at once instead of queueing: publish rejects and the
      // caller knows the event was not stored. In-flight commands fail when the socket closes.
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      connectTimeout: options.timeout,
      connectionName: 'fastify-typed-sse'
    }
    let cmd: Redis | Cluster
    let reader: Redis | undefined
    if (cluster) {
      cmd = (source as unknown as Cluster).duplicate([], {
        lazyConnect: true,
        enableOfflineQueue: false,
        // Reads go to masters: a replica may lag, and ids must be exact.
        scaleReads: 'master',
        // ioredis would resend a command whose connection closed, though it may have run: a
        // publish twice. Redirections (MOVED, ASK, TRYAGAIN, CLUSTERDOWN) are still followed:
        // Redis ran nothing when it answers with one.
        retryDelayOnFailover: 0,
        shardedSubscribers: false,
        clusterRetryStrategy: retryStrategy,
        redisOptions: { ...common, commandTimeout: options.timeout }
      })
    } else {
      const own: RedisOptions = { ...common, enableOfflineQueue: false, retryStrategy }
      const make = (extra: RedisOptions): Redis => typeof source === 'string'
        ? new Redis(source, { ...own, ...extra })
        : (source as unknown as Redis).duplicate({ ...own, ...extra })
      cmd = make({ commandTimeout: options.timeout })
      reader = make({ connectionName: 'fastify-typed-sse:reader' })
    }
    const backend = new RedisBackend(options, log, cmd)
    // Until connected, the first error is the reason register fails ("Connection is closed"
    // alone would hide a refused connection or an untrusted certificate).
    let failure: Error | undefined
    const events = {
      lost: (connection: string, err: Error) => { if (connected) backend.onError(connection, err); else failure ??= err },
      back: () => backend.onBack()
    }
    cmd.on('error', (err: Error) => events.lost('commands', err))
    if (cmd instanceof Redis) absorbLateErrors(cmd)
    if (reader !== undefined) absorbLateErrors(reader)
    const head = async (key: string): Promise<string> => await backend.head(key)
    try {
      if (cmd instanceof Cluster) {
        cmd.on('node error', (err: Error) => events.lost('commands', err))
        await withTimeout(cmd.connect(), options.timeout, 'the cluster did not get ready')
        await checkClusterVersion(cmd)
        backend.reader = new ClusterReader(cmd, head, log, events, options.timeout)
      } else {
        const streamReader = new StreamReader(reader!, cmd, head, log, events)
        backend.reader = streamReader
        await Promise.all([cmd.connect(), reader!.connect()])
        await checkNotCluster(cmd)
        streamReader.start()
      }
    } catch (err) {
      cmd.disconnect()
      reader?.disconnect()
      if (err instanceof Error && 'code' in err && err.code === 'FST_SSE_INVALID_OPTION') throw err
      throw hubUnavailable(`the hub could not connect to ${describe(source)}`, failure ?? err)
    }
    connected = true
    return backend
  }

  async append (topic: string, frame: string, options?: AppendOptions): Promise<string> {
    if (this.closed) throw hubClosed()
    const { retain, maxAge, idempotencyWindow, topicTtl } = this.options
    const key = options?.idempotencyKey
    const keys: [string, ...string[]] = key === undefined ? [this.key(topic)] : [this.key(topic), this.idempotencyKey(topic, key)]
    try {
      return await this.evalScript(APPEND, keys, [frame, retain, maxAge === undefined ? '' : minId(maxAge), idempotencyWindow, topicTtl ?? '', this.notify()]) as string
    } catch (err) {
      const what = `publishing to topic "${topic}"`
      // Not sent, or answered with an error: Redis stored nothing. Anything else (a timeout, a
      // connection lost with the command in flight) leaves the outcome open.
      if (neverRan(err)) throw hubUnavailable(what, err)
      throw hubOutcomeUnknown(what, err, key === undefined ? 'unkeyed' : 'keyed')
    }
  }

  async delete (topic: string): Promise<void> {
    if (this.closed) throw hubClosed()
    try {
      await this.evalScript(DELETE, [this.key(topic)], [TOMBSTONE_MS, this.notify()])
    } catch (err) {
      const what = `deleting topic "${topic}"`
      if (neverRan(err)) throw hubUnavailable(what, err)
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
      const created: Feed = { key, cursor: undefined, listeners: new Set(), ready: Promise.resolve(), lag: this.lag }
      // The topic has a subscriber now: its TTL starts over (then keepAlive renews it).
      this.renew([key])
      created.ready = this.reader.add(created)
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
        if (feed.listeners.size === 0 && this.feeds.get(key) === feed) {
          this.feeds.delete(key)
          this.reader.remove(feed)
        }
      }
    }
  }

  get state (): HubBackendState {
    return this.closed ? 'closed' : this.down ? 'down' : 'up'
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.feeds.clear()
    clearTimeout(this.keepAliveTimer)
    await this.reader.close()
    await this.cmd.quit().catch(() => this.cmd.disconnect())
    this.cmd.disconnect()
  }

  /** The newest id of a stream, `0-0` when it does not exist: where a new feed starts. */
  private async head (key: string): Promise<string> {
    const info = streamInfo(await this.cmd.call('XINFO', 'STREAM', key).then(
      (reply): [Error | null, unknown] => [null, reply],
      (err: unknown): [Error | null, unknown] => [err instanceof Error ? err : new Error(String(err)), null]))
    return info?.lastId ?? '0-0'
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
    // One command per key (not one pipeline): on a cluster the keys live on several nodes. They
    // are written back to back all the same.
    Promise.all(keys.map(async key => await this.cmd.pexpire(key, ttl))).catch((err: unknown) => {
      this.log.debug({ err }, 'fastify-typed-sse: renewing the TTL of followed topics failed; the next renewal retries')
    })
  }

  private onError (connection: string, err: Error): void {
    // ioredis reports every failed reconnection attempt; one warning per outage is enough.
    if (this.down || this.closed) return
    this.down = true
    this.log.warn({ err, connection }, 'fastify-typed-sse: the hub lost Redis; publish rejects until it is back')
    if (backendDownChannel.hasSubscribers) backendDownChannel.publish({ backend: 'redis', error: err })
  }

  private onBack (): void {
    if (this.down) {
      this.log.info('fastify-typed-sse: the hub is connected to Redis again')
      if (backendUpChannel.hasSubscribers) backendUpChannel.publish({ backend: 'redis' })
    }
    this.down = false
  }

  /** '1' on a cluster: the scripts then publish what they store for the instances' readers. */
  private notify (): string {
    return this.cmd instanceof Cluster ? '1' : ''
  }

  /**
   * Runs `script` by its SHA; when Redis answers NOSCRIPT (a restarted or flushed Redis, or
   * another node of a cluster: the script did not run), sends its text with EVAL.
   */
  private async evalScript (script: Script, keys: [string, ...string[]], args: Array<string | number>): Promise<unknown> {
    try {
      return await this.send(keys[0], 'EVALSHA', script.sha, keys.length, ...keys, ...args)
    } catch (err) {
      if (!(err instanceof ReplyError && /^NOSCRIPT/.test((err as Error).message))) throw err
    }
    return await this.send(keys[0], 'EVAL', script.source, keys.length, ...keys, ...args)
  }

  /**
   * Sends a command about `key`, or rejects with NotSent if it cannot go now. With the offline
   * queue off, ioredis writes a command to the socket at once when the connection is ready and
   * writable, and refuses it otherwise: checking the same here, on the connection the command
   * will take (on a cluster: that of the master serving the key's slot), is what tells "never
   * sent" (nothing stored, safe to retry) from "sent, no answer" (outcome unknown). A
   * connection that is only coming up (a cluster opens its node connections on first use) is
   * waited for, within the command timeout.
   */
  private async send (key: string, command: string, ...args: Array<string | number>): Promise<unknown> {
    for (let attempt = 1; ; attempt++) {
      const connection = this.connectionFor(key)
      if (connection?.status === 'ready' && connection.stream?.writable === true) break
      const status = connection?.status ?? this.cmd.status
      const stale = this.cmd instanceof Cluster && this.cmd.status === 'ready' && (connection === undefined || !COMING_UP.has(status))
      if (attempt > 2 || !(stale || (connection !== undefined && COMING_UP.has(status)))) {
        throw new NotSent(connection === undefined ? 'no connection to the master serving the key' : `the connection to Redis is ${status === 'ready' ? 'not writable' : status}`)
      }
      if (stale) {
        // The master the slot map names is gone (a failover): ask the cluster who serves it now,
        // rather than refusing every publish until ioredis's next periodic refresh.
        await refreshSlots(this.cmd as Cluster, this.options.timeout)
        continue
      }
      if (status === 'wait') connection!.connect().catch(() => {})
      await untilReady(connection!, this.options.timeout)
    }
    // In the same turn as the check: nothing can change the connection in between.
    const sent = this.cmd.call(command, ...args)
    if (!(this.cmd instanceof Cluster)) return await sent
    // A cluster follows redirections (each attempt with its own timeout): the command as a
    // whole gets `timeout` too. It may still run after that: outcome unknown, as it should be.
    sent.catch(() => {})
    return await withTimeout(sent, this.options.timeout, 'Command timed out')
  }

  /** The connection a command about `key` is written to now; undefined if a cluster has none. */
  private connectionFor (key: string): Redis | undefined {
    if (!(this.cmd instanceof Cluster)) return this.cmd
    if (this.cmd.status !== 'ready') return undefined
    const owner = this.cmd.slots[keySlot(key)]?.[0]
    return this.cmd.nodes('master').find(node => `${node.options.host}:${node.options.port}` === owner)
  }

  // A topic's stream is keyPrefix{name}: the braces make the name a hash tag, so on a cluster
  // every key of the topic is in one slot, as the append script needs. Redis hashes a key whole
  // when its tag is empty, so a name that starts with "}" gets a NUL first: names hold no NUL,
  // so no two topics share a key. Its idempotency keys add a NUL and the key: no topic's stream
  // can be another topic's idempotency key.
  private key (topic: string): string {
    return `${this.options.keyPrefix}{${topic.startsWith('}') ? '\0' : ''}${topic}}`
  }

  private idempotencyKey (topic: string, key: string): string {
    return `${this.key(topic)}\0${key}`
  }
}

/** The command was never written to the connection: Redis cannot have run it. */
class NotSent extends Error {
  override name = 'NotSent'
}

/**
 * True when Redis surely did not run the command: it was never sent, Redis answered with an
 * error (a script's error comes before its first write), or a cluster kept redirecting it.
 */
function neverRan (err: unknown): boolean {
  return err instanceof NotSent || err instanceof ReplyError || (err instanceof Error && err.message.startsWith('Too many Cluster redirections'))
}

/** Resolves when `connection` is ready, closes, or after `ms`. */
async function untilReady (connection: Redis, ms: number): Promise<void> {
  await new Promise<void>(resolve => {
    const done = (): void => {
      clearTimeout(timer)
      connection.off('ready', done).off('close', done).off('end', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    connection.once('ready', done).once('close', done).once('end', done)
  })
}

async function withTimeout<T> (promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([promise, new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(message)), ms) })])
  } finally {
    clearTimeout(timer)
  }
}

/** A URL or a Redis client given for one server must not lead to a cluster node: every read across topics would fail (CROSSSLOT). */
async function checkNotCluster (cmd: Redis): Promise<void> {
  const info = await cmd.call('INFO', 'cluster') as string
  if (/cluster_enabled:1/.test(info)) {
    throw invalidOption('hub.redis', 'an ioredis Cluster client (new Cluster([{ host, port }])) for a Redis Cluster', 'the address of one of its nodes')
  }
}

/** The cluster scripts publish with SPUBLISH: Redis 7.0 or newer, on every master. */
async function checkClusterVersion (cmd: Cluster): Promise<void> {
  for (const node of cmd.nodes('master')) {
    const info = await node.call('INFO', 'server') as string
    const version = /redis_version:(\d+)\.(\d+)/.exec(info)
    if (version !== null && Number(version[1]) < 7) {
      throw invalidOption('hub.redis', 'a Redis Cluster of version 7.0 or newer (the hub reads it with sharded pub/sub)', `version ${version[1]}.${version[2]}`)
    }
  }
}

interface StreamInfo {
  lastId: string
  /** The oldest entry, if any. */
  first: RawEntry | undefined
  /** True when entries were dropped (trimmed or deleted): more were added than it holds. */
  trimmed: boolean
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

/** What `hub.redis` names, for messages: a URL without its password, or the client's address. */
function describe (source: string | RedisClientLike): string {
  if (typeof source === 'string') return source.replace(/\/\/([^@/]*)@/, '//***@')
  if (source.isCluster) return 'the Redis Cluster'
  const { host, port, sentinels, name } = source.options as RedisOptions
  return sentinels != null ? `the master "${name ?? 'mymaster'}" of the Sentinels at ${sentinels.map(s => `${s.host ?? '127.0.0.1'}:${s.port ?? 26379}`).join(', ')}` : `Redis at ${host ?? '127.0.0.1'}:${port ?? 6379}`
}
