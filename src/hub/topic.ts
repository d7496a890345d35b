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

/**
 * What `publish` takes: an event of the topic's map (or any `{ event?, data }` on an untyped
 * topic). No `id`: the hub assigns it.
 */
export type PublishEvent<M extends EventMap> = string extends keyof M
  ? UntypedEvent & { data: unknown, id?: undefined }
  : MapEvent<M> & { id?: undefined }

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
   * the assigned id once stored (on Redis: once Redis has it). Rejects with `InvalidEventError`
   * (naming the schema path) for invalid data, or `FST_SSE_HUB_UNAVAILABLE` while Redis is away;
   * then nothing was stored or sent.
   */
  publish (event: PublishEvent<M>): Promise<string>
  /** A source for `reply.sse(topic.subscribe())`: one subscriber per call of the source. */
  subscribe (): TopicSource
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
    if (typeof name !== 'string' || name === '') throw invalidOption('topic name', 'a non-empty string', name)
    if (events !== undefined) {
      if (typeof events !== 'object' || events === null) throw invalidOption(`events (topic "${name}")`, 'an object of TypeBox schemas', events)
      if (HUB_RESET_EVENT in events && events[HUB_RESET_EVENT] !== HubResetSchema) {
        throw invalidOption(`events.${HUB_RESET_EVENT} (topic "${name}")`, 'left out or HubResetSchema: the hub sends that event itself', 'another schema')
      }
    }
    this.encode = createEventEncoder({ events, validate: true })
  }

  async publish (event: PublishEvent<M>): Promise<string> {
    this.hub.checkOpen()
    if (typeof event !== 'object' || event === null || (event as UntypedEvent).data === undefined) throw invalidPublish(event)
    if ((event as UntypedEvent).id !== undefined) throw invalidPublish((event as UntypedEvent).id, 'takes no id (the hub assigns ids)')
    const frame = this.encode(event as UntypedEvent)
    if (typeof frame !== 'string') throw frame
    // The encoder ends the frame with a blank line; the id line goes before it once assigned.
    return await this.hub.backend.append(this.name, frame.slice(0, -1))
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
