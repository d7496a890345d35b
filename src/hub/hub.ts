// The hub behind `fastify.sse`: picks the backend from the options, hands out topics, and on
// close ends every subscription before closing the backend.
import type { FastifyBaseLogger } from 'fastify'
import { hubClosed, invalidOption, missingRedisClient } from '../errors.js'
import type { EventMap } from '../events.js'
import type { HubBackend } from './backend.js'
import { MemoryBackend } from './memory.js'
import { resolveHubOptions, type HubOptions } from '../options.js'
import type { Subscriber } from './subscriber.js'
import { Topic, type SseTopic, type TopicContext, type TopicOptions } from './topic.js'

/** `fastify.sse`: the broadcast hub. */
export interface SseHub {
  /**
   * A topic, typed and checked by `events`. Topics need no set-up: the same name always means
   * the same log (across instances, on Redis). A topic idle for `topicTtl` is dropped by itself;
   * `topic.delete()` drops one at once.
   */
  topic<const M extends EventMap>(name: string, options: TopicOptions<M> & { events: M }): SseTopic<M>
  topic (name: string, options?: TopicOptions): SseTopic
}

export interface Hub {
  api: SseHub
  close (): Promise<void>
}

/** Checks the options and connects the backend (Redis: fails here if unreachable). */
export async function createHub (options: HubOptions | undefined, log: FastifyBaseLogger): Promise<Hub> {
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
