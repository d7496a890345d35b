// A topic handle: publish checks and encodes an event once, then the backend stores it;
// subscribe hands reply.sse() a source that replays and follows the topic.
import type { FastifyBaseLogger } from 'fastify'
import { invalidOption, invalidPublish } from '../errors.js'
import type { ControlFrame, EventMap, MapEvent, SseContext, UntypedEvent } from '../events.js'
import { createEventEncoder, type EventEncoder } from '../encoder.js'
import type { HubBackend } from './backend.js'
import type { ResolvedHubOptions } from '../options.js'
import { HUB_RESET_EVENT, HubResetSchema } from './reset.js'
import { Subscriber } from './subscriber.js'

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
  /** A source for `reply.sse(topic.subscribe())`: one subscriber per call of the source. */
  subscribe (): TopicSource
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
  /** Throws when the hub is closed. */
  checkOpen (): void
}

export class Topic<M extends EventMap> implements SseTopic<M> {
  private readonly encode: EventEncoder

  constructor (readonly name: string, events: M | undefined, private readonly hub: TopicContext) {
    // NUL is reserved: on Redis it separates a topic's name from its idempotency keys.
    if (typeof name !== 'string' || name === '' || name.includes('\0')) throw invalidOption('topic name', 'a non-empty string without NUL characters', name)
    // The map itself is checked (and compiled) by the encoder below, naming the topic and the key.
    if (events !== undefined && typeof events === 'object' && events !== null) {
      if (HUB_RESET_EVENT in events && events[HUB_RESET_EVENT] !== HubResetSchema) {
        throw invalidOption(`events.${HUB_RESET_EVENT} (topic "${name}")`, 'left out or HubResetSchema: the hub sends that event itself', 'another schema')
      }
    }
    this.encode = createEventEncoder({ events, validate: true, origin: { option: 'events', where: `topic ${JSON.stringify(name)}` } })
  }

  async publish (event: PublishEvent<M>, options?: PublishOptions): Promise<string> {
    this.hub.checkOpen()
    if (typeof event !== 'object' || event === null || (event as UntypedEvent).data === undefined) throw invalidPublish(event)
    if ((event as UntypedEvent).id !== undefined) throw invalidPublish((event as UntypedEvent).id, 'takes no id (the hub assigns ids)')
    const idempotencyKey = this.checkPublishOptions(options)
    const frame = this.encode(event as UntypedEvent)
    if (typeof frame !== 'string') throw frame
    // The encoder ends the frame with a blank line; the id line goes before it once assigned.
    return await this.hub.backend.append(this.name, frame.slice(0, -1), { idempotencyKey })
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

  subscribe (): TopicSource {
    return async ({ lastEventId }) => {
      this.hub.checkOpen()
      const { backend, options, log, subscribers } = this.hub
      const subscriber = new Subscriber({
        backend, topic: this.name, lastEventId, queueSize: options.queueSize, onOverflow: options.onOverflow, log, subscribers
      })
      await subscriber.open()
      return subscriber
    }
  }
}
