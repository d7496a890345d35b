// A topic handle: publish checks and encodes an event once, then the backend stores it;
// subscribe hands reply.sse() a source that replays and follows the topic.
import type { FastifyBaseLogger } from 'fastify'
import { invalidOption, invalidPublish } from '../errors.js'
import type { ControlFrame, EventMap, MapEvent, SseContext, UntypedEvent } from '../events.js'
import { createEventEncoder, type EventEncoder } from '../encoder.js'
import type { HubBackend } from './backend.js'
import type { ResolvedHubOptions } from '../options.js'
import { createDecoder, type EventDecoder, type TopicFilter } from './filter.js'
import { singleTopicIds } from './format.js'
import { topicTag } from './position.js'
import { HUB_RESET_EVENT, HubResetSchema } from './reset.js'
import { type IdFormat, type StartPolicy, Subscriber, type SubscribedTopic, type SubscriberOptions } from './subscriber.js'
import { hubPublishChannel } from '../diagnostics.js'
import type { HubCounters } from '../stats.js'

// Longest idempotency key: room for a UUID, a hash, or an entity id with a version.
const MAX_KEY_LENGTH = 256

/**
 * What `publish` takes: an event of the topic's map (or any `{ event?, data }` on an untyped
 * topic). No `id`: the hub assigns it.
 */
export type PublishEvent<M extends EventMap> = string extends keyof M
  ? UntypedEvent & { data: unknown, id?: undefined }
  : MapEvent<M> & { id?: undefined }

/** Options of `topic.publish(event, options)`. */
export interface PublishOptions {
  /**
   * Names this event for safe retries: a publish with a key already stored on this topic within
   * the hub's `idempotencyWindow` stores nothing and resolves with the first publish's id, so
   * subscribers get the event once however often it is retried. Use a value that names the
   * event, not the attempt (an order id and its new status, a UUID made once per event). At most
   * 256 characters.
   * @defaultValue undefined (every publish is stored)
   */
  idempotencyKey?: string | undefined
}

/** Options of `fastify.sse.topic(name, options)`. */
export interface TopicOptions<M extends EventMap = EventMap> {
  /** Event names mapped to TypeBox schemas: types `publish` and checks every published event. */
  events?: M
}

/** Options of `topic.subscribe(options)`. */
export interface SubscribeOptions<M extends EventMap = EventMap> {
  /**
   * Which events this subscriber gets, decided per event before it is queued: an event it
   * leaves out costs no queue slot and no write. Replay applies it too. Decide from what the
   * server knows (the request's session), never from what the client sends: see `TopicFilter`.
   * @defaultValue undefined (every event)
   */
  filter?: TopicFilter<M> | undefined
  /**
   * Where a client without a `Last-Event-ID` starts: `'newest'` (it gets what is published from
   * now on, and an id-only frame that resumes it from here) or `'oldest'` (every retained event
   * first, as if it had sent `Last-Event-ID: 0-0`). A client with an id resumes from it either way.
   * @defaultValue 'newest'
   */
  from?: StartPolicy | undefined
}

/**
 * A source for `reply.sse()`: replays what the client missed (from its `Last-Event-ID`), then
 * streams live events. It yields pre-encoded frames, so it fits any route, typed or not.
 */
export type TopicSource = (context: SseContext) => Promise<AsyncIterable<ControlFrame>>

/** A topic of the hub. Cheap to create; every handle of the same name shares one log. */
export interface SseTopic<M extends EventMap = EventMap> {
  readonly name: string
  /**
   * Checks the event against the topic's schemas, encodes it once, and stores it. Resolves with
   * the assigned id once stored (on Redis: once Redis has it), or with the first id when
   * `idempotencyKey` was already stored. Rejects with:
   * - `InvalidEventError` (naming the schema path) for invalid data: nothing was stored or sent;
   * - `FST_SSE_HUB_UNAVAILABLE` (503) when Redis is away or refused it: nothing was stored or
   *   sent, a retry is safe;
   * - `FST_SSE_HUB_OUTCOME_UNKNOWN` (504) when Redis got it and did not answer in `redisTimeout`
   *   (or the connection dropped): it may be stored and sent; retry with the same
   *   `idempotencyKey` to have it stored once.
   */
  publish (event: PublishEvent<M>, options?: PublishOptions): Promise<string>
  /**
   * A source for `reply.sse(topic.subscribe())`: one subscriber per call of the source. A client
   * sending `Last-Event-ID: 0-0` (or `?lastEventId=0-0`) gets every retained event first.
   */
  subscribe (options?: SubscribeOptions<M>): TopicSource
  /**
   * Drops the topic's retained events at once (on Redis: for every instance) and ends the
   * streams of its subscribers everywhere. Their clients reconnect as usual: what they find is
   * up to the route (answer 404 for a room that is gone, and EventSource stops; or subscribe
   * them again, and they get a `reset`, since their last id is gone, then new events). The name
   * can be used again at once. Idempotent; resolves once the store has dropped it. Idempotency
   * keys of its events are kept for their window. Rejects like `publish` when Redis is away
   * (`FST_SSE_HUB_UNAVAILABLE`) or does not answer (`FST_SSE_HUB_OUTCOME_UNKNOWN`: retrying is
   * safe).
   */
  delete (): Promise<void>
}

/** What a topic needs from its hub. */
export interface TopicContext {
  backend: HubBackend
  options: ResolvedHubOptions
  log: FastifyBaseLogger
  subscribers: Set<Subscriber>
  /** For stats(): publishes, overflows, resets. */
  counters: HubCounters
  /** Throws when the hub is closed. */
  checkOpen (): void
}

export class Topic<M extends EventMap> implements SseTopic<M> {
  private readonly encode: EventEncoder
  private readonly typed: boolean
  /** Reads its stored frames back for filters; made on first use. */
  private decoder: EventDecoder | undefined
  /** Stands for it in the ids of a stream of several topics; made on first use. */
  private cachedTag: string | undefined

  constructor (readonly name: string, private readonly events: M | undefined, readonly hub: TopicContext) {
    // NUL is reserved: on Redis it separates a topic's name from its idempotency keys.
    if (typeof name !== 'string' || name === '' || name.includes('\0')) throw invalidOption('topic name', 'a non-empty string without NUL characters', name)
    // The map itself is checked (and compiled) by the encoder below, naming the topic and the key.
    if (events !== undefined && typeof events === 'object' && events !== null) {
      if (HUB_RESET_EVENT in events && events[HUB_RESET_EVENT] !== HubResetSchema) {
        throw invalidOption(`events.${HUB_RESET_EVENT} (topic "${name}")`, 'left out or HubResetSchema: the hub sends that event itself', 'another schema')
      }
    }
    this.encode = createEventEncoder({ events, validate: true, origin: { option: 'events', where: `topic ${JSON.stringify(name)}` } })
    this.typed = events !== undefined
  }

  get tag (): string {
    this.cachedTag ??= topicTag(this.name)
    return this.cachedTag
  }

  async publish (event: PublishEvent<M>, options?: PublishOptions): Promise<string> {
    this.hub.checkOpen()
    if (typeof event !== 'object' || event === null || (event as UntypedEvent).data === undefined) throw invalidPublish(event)
    if ((event as UntypedEvent).id !== undefined) throw invalidPublish((event as UntypedEvent).id, 'takes no id (the hub assigns ids)')
    const idempotencyKey = this.checkPublishOptions(options)
    const frame = this.encode(event as UntypedEvent)
    if (typeof frame !== 'string') throw frame
    // Filters in this process see the data as published. Only on a typed topic: there the frame
    // reads back as the same value, so a filter decides alike on every instance; an untyped
    // string and the JSON it may look like are told apart by nobody but the publisher.
    const { event: name, data } = event as UntypedEvent
    const decoded = this.typed ? { event: name ?? 'message', data } : undefined
    // The encoder ends the frame with a blank line; the id line goes before it once assigned.
    const id = await this.hub.backend.append(this.name, frame.slice(0, -1), { idempotencyKey, decoded })
    this.hub.counters.published++
    if (hubPublishChannel.hasSubscribers) hubPublishChannel.publish({ topic: this.name, id })
    return id
  }

  private checkPublishOptions (options: PublishOptions | undefined): string | undefined {
    if (options === undefined) return undefined
    const where = `(publish to topic "${this.name}")`
    if (typeof options !== 'object' || options === null) throw invalidOption(`options ${where}`, 'an object like { idempotencyKey }', options)
    for (const key of Object.keys(options)) {
      if (key !== 'idempotencyKey') throw invalidOption(`${key} ${where}`, 'a known publish option (idempotencyKey)', key)
    }
    const { idempotencyKey } = options
    if (idempotencyKey !== undefined && (typeof idempotencyKey !== 'string' || idempotencyKey === '' || idempotencyKey.length > MAX_KEY_LENGTH)) {
      throw invalidOption(`idempotencyKey ${where}`, `a non-empty string of at most ${MAX_KEY_LENGTH} characters`, idempotencyKey)
    }
    return idempotencyKey
  }

  async delete (): Promise<void> {
    this.hub.checkOpen()
    await this.hub.backend.delete(this.name)
  }

  subscribe (options?: SubscribeOptions<M>): TopicSource {
    const { filter, from } = checkSubscribeOptions(options, `topic "${this.name}"`)
    const topics = [this.subscribed(filter as TopicFilter | undefined)]
    return subscribeSource(this.hub, topics, from, () => singleTopicIds)
  }

  /** This topic in a subscriber, with its filter. */
  subscribed (filter: TopicFilter | undefined): SubscribedTopic {
    this.decoder ??= createDecoder(this.events)
    return { name: this.name, filter: filter as SubscribedTopic['filter'], decode: this.decoder }
  }
}

/** A source that makes one subscriber of `topics` per call. */
export function subscribeSource (hub: TopicContext, topics: SubscribedTopic[], from: StartPolicy, ids: () => IdFormat): TopicSource {
  const format = ids()
  // One options object for every subscriber of this source (idle subscribers count their bytes).
  let shared: SubscriberOptions | undefined
  return async ({ lastEventId }) => {
    hub.checkOpen()
    const { backend, options, log, subscribers, counters } = hub
    if (shared?.backend !== backend) {
      shared = { backend, topics, from, ids: format, queueSize: options.queueSize, onOverflow: options.onOverflow, log, subscribers, counters }
    }
    const subscriber = new Subscriber(shared, lastEventId)
    await subscriber.open()
    return subscriber
  }
}

/** `{ filter, from }`, checked: a wrong value fails the call that made the source. */
export function checkSubscribeOptions (options: unknown, where: string): { filter: TopicFilter | undefined, from: StartPolicy } {
  if (options === undefined) return { filter: undefined, from: 'newest' }
  const call = `(subscribe to ${where})`
  if (typeof options !== 'object' || options === null) throw invalidOption(`options ${call}`, 'an object like { filter, from }', options)
  for (const key of Object.keys(options)) {
    if (key !== 'filter' && key !== 'from') throw invalidOption(`${key} ${call}`, 'a known subscribe option (filter, from)', key)
  }
  const { filter, from = 'newest' } = options as SubscribeOptions
  if (filter !== undefined && typeof filter !== 'function') throw invalidOption(`filter ${call}`, 'a function of the event that returns true to send it', filter)
  if (from !== 'newest' && from !== 'oldest') throw invalidOption(`from ${call}`, 'one of "newest", "oldest"', from)
  return { filter: filter as TopicFilter | undefined, from }
}
