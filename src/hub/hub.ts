// The hub behind `fastify.sse`: picks the backend from the options, hands out topics, and on
// close ends every subscription before closing the backend.
import type { FastifyBaseLogger } from 'fastify'
import { hubClosed, invalidOption, missingRedisClient } from '../errors.js'
import type { EventMap } from '../events.js'
import type { HubBackend } from './backend.js'
import { MemoryBackend } from './memory.js'
import { resolveHubOptions, type HubOptions } from '../options.js'
import type { TopicFilter } from './filter.js'
import { multiTopicIds } from './format.js'
import { CHARACTERS_PER_TOPIC, maxTopics } from './position.js'
import type { StartPolicy, Subscriber } from './subscriber.js'
import { checkSubscribeOptions, subscribeSource, Topic, type SseTopic, type TopicContext, type TopicOptions, type TopicSource } from './topic.js'
import { counts, HubCounters, type SseHubStats } from '../stats.js'

/** A topic of a merged stream: the topic itself, or the topic with a filter of its own. */
export type MergedTopic<M extends EventMap = EventMap> = SseTopic<M> | {
  topic: SseTopic<M>
  /** Which of this topic's events the subscriber gets: see `SubscribeOptions.filter`. */
  filter?: TopicFilter<M> | undefined
}

/** Options of `fastify.sse.subscribe(topics, options)`. */
export interface MergeOptions {
  /**
   * Where a topic starts when the client's `Last-Event-ID` has no position for it (a first
   * connection, or a topic added to the stream since): `'newest'` or `'oldest'` (every retained
   * event first). A topic the id has a position for resumes from it either way.
   * @defaultValue 'newest'
   */
  from?: StartPolicy | undefined
}

/** `fastify.sse`: the broadcast hub. */
export interface SseHub {
  /**
   * A topic, typed and checked by `events`. Topics need no set-up: the same name always means
   * the same log (across instances, on Redis). A topic idle for `topicTtl` is dropped by itself;
   * `topic.delete()` drops one at once.
   */
  topic<const M extends EventMap>(name: string, options: TopicOptions<M> & { events: M }): SseTopic<M>
  topic (name: string, options?: TopicOptions): SseTopic
  /**
   * A source for `reply.sse()` that merges several topics in one stream: each topic's events in
   * its order, the topics interleaved as events come. Every frame's id holds a position per
   * topic, so a reconnecting client resumes each topic exactly where it was; a topic that cannot
   * resume gets its own `reset` (naming it in `topic`), the others go on. Give an element as
   * `{ topic, filter }` to filter that topic's events for this subscriber. Each topic adds up to
   * 17 characters to the id, so a stream takes at most 14 topics with the default
   * `maxLastEventIdLength` (256).
   */
  subscribe<const T extends readonly EventMap[]>(topics: { [I in keyof T]: MergedTopic<T[I]> }, options?: MergeOptions): TopicSource
}

export interface Hub {
  api: SseHub
  /** The hub part of `fastify.sse.stats()`. */
  stats (): SseHubStats
  close (): Promise<void>
}

/** What the hub needs to know of the streams. */
export interface HubStreams {
  /** The longest Last-Event-ID a client may send back: merged streams' ids must fit in it. */
  maxLastEventIdLength: number
}

/** Checks the options and connects the backend (Redis: fails here if unreachable). */
export async function createHub (options: HubOptions | undefined, log: FastifyBaseLogger, streams: HubStreams = { maxLastEventIdLength: 256 }): Promise<Hub> {
  const resolved = resolveHubOptions(options)
  let backend: HubBackend
  if (resolved.redis === undefined) {
    backend = new MemoryBackend({
      retain: resolved.retain, maxAge: resolved.maxAge, topicTtl: resolved.topicTtl, idempotencyWindow: resolved.idempotencyWindow
    })
  } else {
    // Loaded only when asked for, so ioredis is needed only by apps that use Redis.
    const { RedisBackend } = await import('./redis.js').catch((err: NodeJS.ErrnoException) => {
      throw /MODULE_NOT_FOUND/.test(err.code ?? '') && /ioredis/.test(err.message) ? missingRedisClient(err) : err
    })
    backend = await RedisBackend.connect({
      redis: resolved.redis,
      retain: resolved.retain,
      maxAge: resolved.maxAge,
      keyPrefix: resolved.keyPrefix,
      timeout: resolved.redisTimeout,
      topicTtl: resolved.topicTtl,
      idempotencyWindow: resolved.idempotencyWindow
    }, log)
  }
  let closed = false
  const context: TopicContext = {
    backend,
    options: resolved,
    log,
    subscribers: new Set<Subscriber>(),
    counters: new HubCounters(),
    checkOpen () {
      if (closed) throw hubClosed()
    }
  }
  return {
    api: {
      topic (name: string, topicOptions?: TopicOptions) {
        if (topicOptions !== undefined && (typeof topicOptions !== 'object' || topicOptions === null)) {
          throw invalidOption(`options of topic ${JSON.stringify(name)}`, 'an object like { events }', topicOptions)
        }
        return new Topic(name, topicOptions?.events, context)
      },
      subscribe (topics: readonly unknown[], mergeOptions?: MergeOptions) {
        const { from } = checkSubscribeOptions(mergeOptions, 'several topics')
        const subscribed = checkTopics(topics, context, maxTopics(streams.maxLastEventIdLength), streams.maxLastEventIdLength)
        const names = subscribed.map(({ topic }) => topic.name)
        const tags = subscribed.map(({ topic }) => topic.tag)
        return subscribeSource(context, subscribed.map(({ topic, filter }) => topic.subscribed(filter)), from,
          () => multiTopicIds(names, tags, streams.maxLastEventIdLength, log))
      }
    } as SseHub,
    stats () {
      const byTopic = counts()
      let topics = 0
      let longestQueue = 0
      for (const subscriber of context.subscribers) {
        if (subscriber.queued > longestQueue) longestQueue = subscriber.queued
        for (const { topic } of subscriber.topics) {
          const count = byTopic[topic.name]
          if (count === undefined) topics++
          byTopic[topic.name] = (count ?? 0) + 1
        }
      }
      const { published, overflows, resets } = context.counters
      return {
        backend: resolved.redis === undefined ? 'memory' : 'redis',
        state: backend.state,
        topics,
        subscribers: context.subscribers.size,
        subscribersByTopic: byTopic,
        longestQueue,
        published,
        overflows,
        resets,
        lag: backend.lag?.snapshot()
      }
    },
    async close () {
      if (closed) return
      closed = true
      for (const subscriber of [...context.subscribers]) subscriber.end()
      await backend.close()
    }
  }
}

/** The topics of a merged stream, checked: each a topic of this hub, once, and not too many. */
function checkTopics (topics: readonly unknown[], context: TopicContext, max: number, maxLength: number): Array<{ topic: Topic<EventMap>, filter: TopicFilter | undefined }> {
  const option = 'topics (fastify.sse.subscribe)'
  if (!Array.isArray(topics) || topics.length === 0) throw invalidOption(option, 'a non-empty array of topics', topics)
  if (topics.length > max) {
    throw invalidOption(option, `at most ${max} topics: each adds up to ${CHARACTERS_PER_TOPIC} characters to the stream's Last-Event-ID, which maxLastEventIdLength (${maxLength}) bounds; raise it for more`, `${topics.length} topics`)
  }
  const seen = new Set<string>()
  return topics.map((element, i) => {
    const where = `${option}[${i}]`
    let topic: unknown = element
    let filter: unknown
    if (!(element instanceof Topic) && typeof element === 'object' && element !== null && 'topic' in element) {
      for (const key of Object.keys(element)) {
        if (key !== 'topic' && key !== 'filter') throw invalidOption(`${where}.${key}`, 'a known key (topic, filter)', key)
      }
      ({ topic, filter } = element as { topic: unknown, filter?: unknown })
      if (filter !== undefined && typeof filter !== 'function') throw invalidOption(`${where}.filter`, 'a function of the event that returns true to send it', filter)
    }
    if (!(topic instanceof Topic) || topic.hub !== context) throw invalidOption(where, 'a topic of this app\'s hub (fastify.sse.topic(name)), or { topic, filter }', topic)
    if (seen.has(topic.name)) throw invalidOption(where, 'a topic not already in the list', topic.name)
    seen.add(topic.name)
    return { topic: topic as Topic<EventMap>, filter: filter as TopicFilter | undefined }
  })
}
