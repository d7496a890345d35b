// The plugin: decorates the reply with sse(), wraps `{ sse }` routes, ends open streams on close.
import type {
  ContextConfigDefault, FastifyBaseLogger, FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest,
  FastifySchema, FastifyTypeProvider, FastifyTypeProviderDefault, RawReplyDefaultExpression,
  RawRequestDefaultExpression, RawServerBase, RawServerDefault, RouteGenericInterface, RouteShorthandOptions
} from 'fastify'
import fp from 'fastify-plugin'
import type { EventIterable, EventMap, SseContext, SseEvent, SseSource, UntypedEvent } from './events.js'
import { createHub, type SseHub } from './hub/hub.js'
import type { HubOptions } from './options.js'
import { defaults, resolveStreamOptions, type SseReplyOptions, type SseStreamOptions } from './options.js'
import { sseRouteHook } from './route.js'
import { startStream, type OpenStreams } from './stream.js'

/** Options of `fastify.register(ssePlugin, options)`: defaults for every stream, and the hub. */
export interface SsePluginOptions extends SseStreamOptions {
  /**
   * The broadcast hub behind `fastify.sse.topic()`. In memory unless `redis` is given.
   * @defaultValue in memory, `{ retain: 1000, queueSize: 1000, onOverflow: 'close' }`
   */
  hub?: HubOptions
}

// How long fastify.close() waits for sources' `finally` blocks. A source that honours its
// signal finishes at once; one stuck in an await that ignores it must not hang the shutdown.
const CLOSE_GRACE_MS = 1000

const plugin: FastifyPluginAsync<SsePluginOptions> = async function ssePlugin (fastify, options) {
  const base = resolveStreamOptions(defaults, options, ['hub'])
  const open: OpenStreams = new Set()
  const hub = await createHub(options.hub, fastify.log, { maxLastEventIdLength: base.maxLastEventIdLength })
  fastify.decorate('sse', hub.api)
  // onClose runs after preClose has ended the open streams: then subscriptions and Redis go.
  fastify.addHook('onClose', () => hub.close())

  fastify.decorateReply('sse', function sse (this: FastifyReply, source: SseSource<UntypedEvent>, callOptions?: SseReplyOptions) {
    const streamOptions = callOptions === undefined ? base : resolveStreamOptions(base, callOptions, ['events'])
    return startStream(this.request, this, source, callOptions?.events, streamOptions, open)
  })

  fastify.addHook('onRoute', sseRouteHook(base, open))

  fastify.addHook('preClose', async () => {
    if (open.size === 0) return
    let timer: NodeJS.Timeout | undefined
    const grace = new Promise<void>(resolve => { timer = setTimeout(resolve, CLOSE_GRACE_MS) })
    await Promise.race([Promise.all([...open].map(stream => stream.close())), grace])
    clearTimeout(timer)
  })
}

/** The plugin. `fastify.register(ssePlugin, options)` adds `reply.sse()` and the `sse` route option. */
export const ssePlugin = fp(plugin, { fastify: '5.x', name: 'fastify-typed-sse' })
export default ssePlugin

export type { ControlFrame, EventIterable, EventMap, FrameFields, MapEvent, SseContext, SseEvent, SseSource, UntypedEvent } from './events.js'
export type { InvalidEventPolicy, SourceErrorPolicy, SseReplyOptions, SseStreamOptions } from './options.js'
export type { SseErrorData } from './stream.js'
export type { SseRouteOption } from './route.js'
export { InvalidEventError, SseError, type SseErrorCode } from './errors.js'
export { encodeFrame, type FrameText } from './wire.js'
export type { MergedTopic, MergeOptions, SseHub } from './hub/hub.js'
export type { TopicEvent, TopicFilter } from './hub/filter.js'
export type { StartPolicy } from './hub/subscriber.js'
export type { HubOptions, OverflowPolicy } from './options.js'
export type { PublishEvent, PublishOptions, SseTopic, SubscribeOptions, TopicOptions, TopicSource } from './hub/topic.js'
export { HUB_RESET_EVENT, HubResetSchema, type HubResetData } from './hub/reset.js'
export { sseResponseSchema, type SseResponseSchema, type SseResponseSchemaOptions } from './openapi.js'

/** What a source may yield: the map's events, or any event when there is no map (`never`). */
export type EventsOf<M extends EventMap> = [M] extends [never] ? UntypedEvent : SseEvent<M>

/** A handler declared with the `sse` route option: returns (or is) an iterable of events. */
export type SseRouteHandler<E, Request = FastifyRequest, Reply = FastifyReply> =
  (this: FastifyInstance, request: Request, reply: Reply, context: SseContext) => EventIterable<E> | PromiseLike<EventIterable<E>>

declare module 'fastify' {
  interface FastifyInstance {
    /** The broadcast hub: `fastify.sse.topic(name, { events })` to publish and subscribe. */
    sse: SseHub
  }

  interface FastifyReply {
    /**
     * Streams `source` as Server-Sent Events. With `events`, each event's data is checked
     * against the schema of its name before it is encoded, and the source is typed by the map.
     * Resolves when the stream has ended.
     */
    // One signature, not an overload per case: while TypeScript tries overloads it fixes the
    // type of a generator without parameters against the first one it tries. The yield type
    // `E` is a parameter of its own, checked against the map's events, because such a generator
    // is typed before `M` is inferred from `events`. Without `events`, `M` is `never`: untyped.
    sse<M extends EventMap = never, const E extends EventsOf<M> = EventsOf<M>>(source: SseSource<E>, options?: SseReplyOptions<M>): Promise<void>
  }

  // `sse` is deliberately not added to RouteShorthandOptions: Fastify's own overloads then
  // refuse it, so a route with `sse` is checked by the overloads below, which type its yields.

  interface RouteShorthandMethod<
    RawServer extends RawServerBase = RawServerDefault,
    RawRequest extends RawRequestDefaultExpression<RawServer> = RawRequestDefaultExpression<RawServer>,
    RawReply extends RawReplyDefaultExpression<RawServer> = RawReplyDefaultExpression<RawServer>,
    TypeProvider extends FastifyTypeProvider = FastifyTypeProviderDefault,
    Logger extends FastifyBaseLogger = FastifyBaseLogger
  > {
    // Fastify's own type parameters come first, so `app.get<{ Params }>(…)` reads as usual (the
    // map then falls back to its constraint: pass route types through a type provider instead
    // to keep the yields typed by the map).
    <RouteGeneric extends RouteGenericInterface = RouteGenericInterface, ContextConfig = ContextConfigDefault,
      const SchemaCompiler extends FastifySchema = FastifySchema, M extends EventMap = EventMap, const E extends SseEvent<M> = SseEvent<M>>(
      path: string,
      opts: RouteShorthandOptions<RawServer, RawRequest, RawReply, RouteGeneric, ContextConfig, SchemaCompiler, TypeProvider, Logger> &
        { sse: SseReplyOptions<M> & { events: M } },
      handler: SseRouteHandler<E,
        FastifyRequest<RouteGeneric, RawServer, RawRequest, SchemaCompiler, TypeProvider, ContextConfig, Logger>,
        FastifyReply<RouteGeneric, RawServer, RawRequest, RawReply, ContextConfig, SchemaCompiler, TypeProvider>>
    ): FastifyInstance<RawServer, RawRequest, RawReply, Logger, TypeProvider>
    <RouteGeneric extends RouteGenericInterface = RouteGenericInterface, ContextConfig = ContextConfigDefault,
      const SchemaCompiler extends FastifySchema = FastifySchema>(
      path: string,
      opts: RouteShorthandOptions<RawServer, RawRequest, RawReply, RouteGeneric, ContextConfig, SchemaCompiler, TypeProvider, Logger> &
        { sse: true | SseStreamOptions },
      handler: SseRouteHandler<UntypedEvent,
        FastifyRequest<RouteGeneric, RawServer, RawRequest, SchemaCompiler, TypeProvider, ContextConfig, Logger>,
        FastifyReply<RouteGeneric, RawServer, RawRequest, RawReply, ContextConfig, SchemaCompiler, TypeProvider>>
    ): FastifyInstance<RawServer, RawRequest, RawReply, Logger, TypeProvider>
  }
}
