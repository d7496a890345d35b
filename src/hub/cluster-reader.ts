// Reading topics on Redis Cluster. One blocking XREAD cannot cover topics in different hash
// slots (Redis answers CROSSSLOT, even for two slots of the same node), and topics spread over
// many slots. So on a cluster the append script also publishes each entry (SPUBLISH) on its
// stream's shard channel, named like the stream key and so in the same slot, and each instance
// keeps one subscriber connection per master node it needs, subscribed (SSUBSCRIBE) to the
// channels of the topics it follows that the node serves: one read per node, not per topic or
// per client.
//
// Pub/sub keeps nothing: what is published while a connection is down, or on a node the
// instance is not yet subscribed to, is gone. So the streams stay the truth: each time a topic
// is (re)subscribed, it catches up with XREAD from its cursor, holding the live messages that
// arrive meanwhile, then delivers those; `deliver` skips whatever it already delivered. Ids are
// the streams' own, exact per topic.
//
// Nodes change. When a slot moves to another master, Redis unsubscribes its channels there
// (ioredis emits 'moved'); when a master fails, its connection drops and a replica takes over
// its slots. Either way the topics are placed again from a fresh slot map (repair), subscribed
// where they now live, and caught up.
import type { FastifyBaseLogger } from 'fastify'
import type { Cluster, Redis } from 'ioredis'
import { absorbLateErrors, type ConnectionEvents, DELETED, deliver, FIELD, type Feed, type FeedReader, type RawEntry } from './redis-feed.js'
import { keySlot } from './slot.js'

/** A master node this instance reads from. */
interface Node {
  /** host:port, as in the cluster's slot map. */
  key: string
  /** Subscribed to the channels of `feeds`; nothing else is sent on it. */
  connection: Redis
  /** The feeds placed on this node, by stream key (= channel). */
  feeds: Map<string, Feed>
  /** Bumped whenever the node's subscriptions may be lost, so catch-ups under way start over. */
  generation: number
}

/** Where a feed is read, and whether it is live there. */
interface Placement {
  node: Node
  /** Live messages held while the feed catches up; undefined when not catching up. */
  held: RawEntry[] | undefined
  /** True once caught up: live messages go straight to the listeners. */
  synced: boolean
  /** The catch-up under way, shared by whoever asks for one meanwhile. */
  syncing: Promise<void> | undefined
}

// Entries per catch-up XREAD.
const PAGE = 512
// Repair backoff while some feed is not live (a node is down, a failover is under way).
const REPAIR_MIN_MS = 50
const REPAIR_MAX_MS = 1000
// How often a catch-up waiting for its node's connection looks again.
const POLL_MS = 25

/** A catch-up whose node changed under it: not a failure, it starts over. */
class Interrupted extends Error {
  override name = 'Interrupted'
}

export class ClusterReader implements FeedReader {
  private readonly nodes = new Map<string, Node>()
  private readonly placements = new Map<Feed, Placement>()
  private closed = false
  private repairTimer: NodeJS.Timeout | undefined
  private repairDelay = REPAIR_MIN_MS
  private repairing = false

  constructor (
    /** The hub's command client: routes the catch-up reads, and holds the slot map. */
    private readonly cluster: Cluster,
    /** The newest id of a stream, `0-0` when it does not exist. */
    private readonly head: (key: string) => Promise<string>,
    private readonly log: FastifyBaseLogger,
    private readonly events: ConnectionEvents,
    /** How long a catch-up waits for its node's connection, in ms. */
    private readonly timeout: number
  ) {}

  async add (feed: Feed): Promise<void> {
    const owner = this.owner(feed.key)
    const node = owner === undefined ? undefined : this.node(owner)
    if (node === undefined) {
      this.scheduleRepair()
      throw new Error(`no connected master of the cluster serves the slot of "${feed.key}" yet`)
    }
    const placement: Placement = { node, held: undefined, synced: false, syncing: undefined }
    this.placements.set(feed, placement)
    node.feeds.set(feed.key, feed)
    try {
      await this.sync(feed, placement)
    } catch (err) {
      this.remove(feed)
      throw err
    }
  }

  remove (feed: Feed): void {
    const placement = this.placements.get(feed)
    if (placement === undefined) return
    this.placements.delete(feed)
    this.unplace(feed, placement.node)
  }

  async close (): Promise<void> {
    this.closed = true
    clearTimeout(this.repairTimer)
    for (const node of this.nodes.values()) node.connection.disconnect()
    this.nodes.clear()
    this.placements.clear()
  }

  /** The master serving `key`'s slot in the client's slot map, as host:port. */
  private owner (key: string): string | undefined {
    return this.cluster.slots[keySlot(key)]?.[0]
  }

  /** The reader of the node `key`, connecting one if needed; undefined if the client has no such node yet. */
  private node (key: string): Node | undefined {
    const known = this.nodes.get(key)
    if (known !== undefined) return known
    // The client's own connection to that node has its settings (TLS, password, NAT mapping).
    const source = this.cluster.nodes('all').find(node => `${node.options.host}:${node.options.port}` === key)
    if (source === undefined) return undefined
    const connection = source.duplicate({
      lazyConnect: true,
      connectionName: 'fastify-typed-sse:reader',
      readOnly: false,
      // Subscriptions are renewed here, each followed by a catch-up, not silently by ioredis.
      autoResubscribe: false,
      autoResendUnfulfilledCommands: false,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      // Reconnects until repair finds the node gone (failed over) and drops it.
      retryStrategy: (times: number) => Math.min(50 * times, 1000)
    })
    const node: Node = { key, connection, feeds: new Map(), generation: 0 }
    this.nodes.set(key, node)
    connection.on('smessage', (channel: string, message: string) => this.receive(node, channel, message))
    connection.on('error', (err: Error) => this.events.lost(`reader ${key}`, err))
    absorbLateErrors(connection)
    connection.on('ready', () => {
      this.events.back()
      this.resync(node)
    })
    // Lost: whatever was published meanwhile must be caught up, maybe on another node.
    connection.on('close', () => this.lost(node))
    // Redis unsubscribed channels whose slot left this node, or refused one (MOVED).
    connection.on('moved', () => this.lost(node))
    connection.connect().catch(() => {
      // Reported through 'error'; the connection retries by itself.
    })
    return node
  }

  private unplace (feed: Feed, node: Node): void {
    if (node.feeds.get(feed.key) !== feed) return
    node.feeds.delete(feed.key)
    if (node.connection.status === 'ready') {
      node.connection.sunsubscribe(feed.key).catch((err: unknown) => {
        this.log.debug({ err }, 'fastify-typed-sse: SUNSUBSCRIBE failed; the channel\'s messages are ignored')
      })
    }
  }

  /** The node's subscriptions may be gone: every feed there catches up again, once repaired. */
  private lost (node: Node): void {
    node.generation++
    for (const feed of node.feeds.values()) {
      const placement = this.placements.get(feed)
      if (placement === undefined) continue
      placement.synced = false
      placement.held = undefined
    }
    this.scheduleRepair()
  }

  private resync (node: Node): void {
    for (const feed of node.feeds.values()) {
      const placement = this.placements.get(feed)
      if (placement !== undefined && !placement.synced) this.background(feed, placement)
    }
  }

  private background (feed: Feed, placement: Placement): void {
    this.sync(feed, placement).catch((err: unknown) => {
      this.log.debug({ err, key: feed.key }, 'fastify-typed-sse: a topic could not be read from its cluster node yet; retrying')
      this.scheduleRepair()
    })
  }

  private receive (node: Node, channel: string, message: string): void {
    const feed = node.feeds.get(channel)
    const placement = feed === undefined ? undefined : this.placements.get(feed)
    if (feed === undefined || placement === undefined || placement.node !== node) return
    // The script publishes `id\nframe`, or just the id for a delete's tombstone.
    const newline = message.indexOf('\n')
    const row: RawEntry = newline === -1 ? [message, [DELETED, '1']] : [message.slice(0, newline), [FIELD, message.slice(newline + 1)]]
    if (placement.held !== undefined) placement.held.push(row)
    else if (placement.synced) deliver(feed, [row])
  }

  private async sync (feed: Feed, placement: Placement): Promise<void> {
    placement.syncing ??= this.catchUp(feed, placement).finally(() => { placement.syncing = undefined })
    await placement.syncing
  }

  /**
   * Subscribes the feed on its node, then reads what it missed, then delivers the live messages
   * held meanwhile: subscribing first is what makes the two overlap instead of leaving a gap.
   */
  private async catchUp (feed: Feed, placement: Placement): Promise<void> {
    for (;;) {
      const node = placement.node
      const generation = node.generation
      const check = (): void => {
        if (this.closed || this.placements.get(feed) !== placement || placement.node !== node || node.generation !== generation) throw new Interrupted()
      }
      placement.synced = false
      placement.held = []
      try {
        await this.connected(node, placement)
        check()
        await node.connection.ssubscribe(feed.key)
        check()
        feed.cursor ??= await this.head(feed.key)
        for (;;) {
          check()
          const reply = await this.cluster.call('XREAD', 'COUNT', PAGE, 'STREAMS', feed.key, feed.cursor) as Array<[string, RawEntry[]]> | null
          check()
          const rows = reply?.[0]?.[1] ?? []
          deliver(feed, rows)
          if (rows.length < PAGE) break
        }
        const held = placement.held
        placement.held = undefined
        placement.synced = true
        deliver(feed, held)
        return
      } catch (err) {
        if (!(err instanceof Interrupted)) {
          placement.held = undefined
          throw err
        }
        // Removed or closed: nothing more to do. Moved or reconnected: start over there.
        if (this.closed || this.placements.get(feed) !== placement) return
      }
    }
  }

  /** Waits until the node's connection is ready; gives up after `timeout`, or when the feed moves. */
  private async connected (node: Node, placement: Placement): Promise<void> {
    const deadline = Date.now() + this.timeout
    while (node.connection.status !== 'ready') {
      if (this.closed || placement.node !== node) throw new Interrupted()
      if (Date.now() > deadline) throw new Error(`the cluster node ${node.key} is not reachable (${node.connection.status})`)
      await new Promise(resolve => setTimeout(resolve, POLL_MS))
    }
  }

  private scheduleRepair (): void {
    if (this.closed || this.repairTimer !== undefined || this.repairing) return
    this.repairTimer = setTimeout(() => {
      this.repairTimer = undefined
      this.repair().catch((err: unknown) => {
        this.log.debug({ err }, 'fastify-typed-sse: repairing the hub\'s cluster reads failed; retrying')
        this.scheduleRepair()
      })
    }, this.repairDelay)
    this.repairDelay = Math.min(this.repairDelay * 2, REPAIR_MAX_MS)
  }

  /**
   * Places every feed on the master that serves it now (from a fresh slot map), gets the ones
   * that are not live caught up, and drops readers of nodes that serve nothing any more. Runs
   * again, backing off, until every feed is live.
   */
  private async repair (): Promise<void> {
    this.repairing = true
    try {
      await refreshSlots(this.cluster, this.timeout)
    } finally {
      this.repairing = false
    }
    if (this.closed) return
    for (const [feed, placement] of this.placements) {
      const owner = this.owner(feed.key)
      if (owner !== undefined && owner !== placement.node.key) {
        const node = this.node(owner)
        if (node !== undefined) {
          this.unplace(feed, placement.node)
          placement.node = node
          placement.synced = false
          placement.held = undefined
          node.feeds.set(feed.key, feed)
        }
      }
      if (!placement.synced) this.background(feed, placement)
    }
    const owners = new Set(this.cluster.slots.map(nodes => nodes?.[0]))
    for (const node of this.nodes.values()) {
      if (node.feeds.size === 0 && !owners.has(node.key)) {
        node.connection.disconnect()
        this.nodes.delete(node.key)
      }
    }
    if ([...this.placements.values()].every(placement => placement.synced)) this.repairDelay = REPAIR_MIN_MS
    else this.scheduleRepair()
  }
}

/**
 * Fetches the cluster's slot map again (CLUSTER SLOTS from one of its nodes); resolves when done,
 * failed, or after `ms`. One refresh at a time: ioredis joins concurrent calls.
 */
export async function refreshSlots (cluster: Cluster, ms: number): Promise<void> {
  await new Promise<void>(resolve => {
    const timer = setTimeout(resolve, ms)
    cluster.refreshSlotsCache(() => {
      clearTimeout(timer)
      resolve()
    })
  })
}
