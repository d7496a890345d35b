// The plugin: decorates the reply with sse(), wraps `{ sse }` routes, ends open streams on close.
import type {
  ContextConfigDefault, FastifyBaseLogger, FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest,
  FastifySchema, FastifyTypeProvider, FastifyTypeProviderDefault, RawReplyDefaultExpression,
  RawRequestDefaultExpression, RawServerBase, RawServerDefault, RouteGenericInterface, RouteOptions, RouteShorthandOptions
} from 'fastify'
import fp from 'fastify-plugin'
import { sseDocuments, type SseDocuments } from './asyncapi.js'
import { StreamCatalog } from './catalog.js'
import type { EventIterable, EventMap, SseContext, SseEvent, SseSource, UntypedEvent } from './events.js'
import { createHub, type SseHub } from './hub/hub.js'
import type { HubOptions } from './options.js'
import { defaults, resolveStreamOptions, type SseReplyOptions, type SseStreamOptions } from './options.js'
import { sseRouteHook } from './route.js'
import { StreamRegistry } from './registry.js'
import { startStream } from './stream.js'
import type { SseStats, SseStatsApi } from './stats.js'

/** Options of `fastify.register(ssePlugin, options)`: defaults for every stream, and the hub. */
export interface SsePluginOptions extends SseStreamOptions {
  /**
   * The broadcast hub behind `fastify.sse.topic()`. In memory unless `redis` is given.
   * @defaultValue in memory, `{ retain: 1000, queueSize: 1000, onOverflow: 'close' }`
   */
  hub?: HubOptions
}

// How long fastify.close() waits for sources' `finally` blocks and for ended responses to reach
// their sockets. A source that honours its signal finishes at once; one stuck in an await that
// ignores it, or a client that does not read, must not hang the shutdown.
const CLOSE_GRACE_MS = 1000

const plugin: FastifyPluginAsync<SsePluginOptions> = async function ssePlugin (fastify, options) {
  const resolved = resolveStreamOptions(defaults, options, ['hub'])
  // At register, maxStreams is the whole instance's limit, not a default for each route.
  const registry = new StreamRegistry(resolved.maxStreams)
  const base = { ...resolved, maxStreams: undefined }
  const hub = await createHub(options.hub, fastify.log, { maxLastEventIdLength: resolved.maxLastEventIdLength })
  // What the documents are built from: the SSE routes, and the topics created while building.
  const catalog = new StreamCatalog(fastify)
  const stats = (): SseStats => ({ streams: registry.stats(), hub: hub.stats() })
  fastify.decorate('sse', { ...catalog.recordTopics(hub.api), ...sseDocuments(catalog), stats })
  // onClose runs after preClose has ended the open streams: then subscriptions and Redis go.
  fastify.addHook('onClose', () => hub.close())

  fastify.decorateReply('sse', function sse (this: FastifyReply, source: SseSource<UntypedEvent>, callOptions?: SseReplyOptions) {
    const streamOptions = callOptions === undefined ? base : resolveStreamOptions(base, callOptions, ['events'])
    return startStream(this.request, this, source, callOptions?.events, streamOptions, registry)
  })

  fastify.addHook('onRoute', sseRouteHook(base, registry))

  // Streams still starting are ended too (their source function may be pending), and any that
  // start from now on end at once: none can open on a closing server and hold close().
  fastify.addHook('preClose', () => registry.close(CLOSE_GRACE_MS))
}

/** The plugin. `fastify.register(ssePlugin, options)` adds `reply.sse()` and the `sse` route option. */
export const ssePlugin = fp(plugin, { fastify: '5.x', name: 'fastify-typed-sse' })
export default ssePlugin

export type { ControlFrame, EventIterable, EventMap, EventSchema, FrameFields, MapEvent, SseContext, SseEvent, SseGenerator, SseSource, StaticOf, UntypedEvent } from './events.js'
export type { EndLogLevel, InvalidEventPolicy, SourceErrorPolicy, SseReplyOptions, SseStreamOptions } from './options.js'
export {
  SSE_CHANNELS, type SseHubBackendMessage, type SseHubOverflowMessage, type SseHubPublishMessage, type SseHubReplayMessage,
  type SseHubResetMessage, type SseInvalidEventMessage, type SseSourceErrorMessage, type SseStreamEndMessage,
  type SseStreamEndReason, type SseStreamMessage, type SseStreamStartMessage
} from './diagnostics.js'
export type { HubBackendState, SseHubLag, SseHubStats, SseStats, SseStatsApi, SseStreamStats } from './stats.js'
export type { SseErrorData } from './stream.js'
export type { SseRouteOption } from './route.js'
export { InvalidEventError, isSseError, SseError, type SseErrorCode } from './errors.js'
export { encodeFrame, type FrameText } from './wire.js'
export type { MergedTopic, MergeOptions, SseHub } from './hub/hub.js'
export type { TopicEvent, TopicFilter } from './hub/filter.js'
export type { StartPolicy } from './hub/subscriber.js'
export type { HubOptions, OverflowPolicy } from './options.js'
export type { PublishEvent, PublishOptions, SseTopic, SubscribeOptions, TopicOptions, TopicSource } from './hub/topic.js'
export { HUB_RESET_EVENT, HubResetSchema, type HubResetData } from './hub/reset.js'
export {
  sseResponseSchema, sseTransformObject, type SseResponseSchema, type SseResponseSchemaOptions, type SwaggerDocumentObject
} from './openapi.js'
export type {
  AsyncApiChannel, AsyncApiDocument, AsyncApiInfo, AsyncApiMessage, AsyncApiOperation, AsyncApiOptions, AsyncApiParameter,
  AsyncApiReference, AsyncApiServer, SseDocuments
} from './asyncapi.js'

/** What a source may yield: the map's events, or any event when there is no map (`never`). */
export type EventsOf<M extends EventMap> = [M] extends [never] ? UntypedEvent : SseEvent<M>

/** A handler declared with the `sse` route option: returns (or is) an iterable of events. */
export type SseRouteHandler<E, Request = FastifyRequest, Reply = FastifyReply> =
  (this: FastifyInstance, request: Request, reply: Reply, context: SseContext) => EventIterable<E> | PromiseLike<EventIterable<E>>

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * The broadcast hub: `fastify.sse.topic(name, { events })` to publish and subscribe; and
     * `fastify.sse.asyncapi()`, the AsyncAPI document of the app's streams; and
     * `fastify.sse.stats()`, a snapshot of the open streams and the hub.
     */
    sse: SseHub & SseDocuments & SseStatsApi
  }

  interface FastifyReply {
    /**
     * Streams `source` as Server-Sent Events. With `events`, each event's data is checked
     * against the schema of its name before it is encoded, and the source is typed by the map.
     * Resolves once the response has started (its headers sent), not when the stream ends: run
     * code at the end in the source's `finally` or an `onResponse` hook. Rejects before the
     * response has started (a limit reached, a source that fails at once), so Fastify's error
     * handler answers.
     */
    // One signature, not an overload per case: while TypeScript tries overloads it fixes the
    // type of a generator without parameters against the first one it tries. The yield type
    // `E` is a parameter of its own, checked against the map's events, because such a generator
    // is typed before `M` is inferred from `events`. Without `events`, `M` is `never`: untyped.
    sse<M extends EventMap = never, const E extends EventsOf<M> = EventsOf<M>>(source: SseSource<E>, options?: SseReplyOptions<M>): Promise<void>
  }

  interface RouteGenericInterface {
    /**
     * The event map of an `sse` route whose types are given as type arguments, which keep
     * TypeScript from inferring it: `app.get<{ Params: P, Events: typeof events }>(…)`.
     */
    Events?: EventMap
  }

  // TypeScript types a generator without parameters against the first overload it tries and
  // keeps that type, so the `sse` overloads must come before Fastify's: those declared here do.
  // When every overload fails, TypeScript 7 reports only the last one (and TypeScript 6 does too
  // past three candidates), so the same overload is also inherited from SseRouteShorthand: a
  // base's signatures come after the interface's own, which makes it the last, and the error
  // names the event and the field instead of "'sse' does not exist in type RouteShorthandOptions".
  interface RouteShorthandMethod<
    RawServer extends RawServerBase = RawServerDefault,
    RawRequest extends RawRequestDefaultExpression<RawServer> = RawRequestDefaultExpression<RawServer>,
    RawReply extends RawReplyDefaultExpression<RawServer> = RawReplyDefaultExpression<RawServer>,
    TypeProvider extends FastifyTypeProvider = FastifyTypeProviderDefault,
    Logger extends FastifyBaseLogger = FastifyBaseLogger
  > extends SseRouteShorthand<RawServer, RawRequest, RawReply, TypeProvider, Logger> {
    <RouteGeneric extends RouteGenericInterface = RouteGenericInterface, ContextConfig = ContextConfigDefault,
      const SchemaCompiler extends FastifySchema = FastifySchema, const M extends EventMap = RouteEvents<RouteGeneric>, const E extends EventsOf<M> = EventsOf<M>>(
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

  interface FastifyInstance<
    RawServer extends RawServerBase = RawServerDefault,
    RawRequest extends RawRequestDefaultExpression<RawServer> = RawRequestDefaultExpression<RawServer>,
    RawReply extends RawReplyDefaultExpression<RawServer> = RawReplyDefaultExpression<RawServer>,
    Logger extends FastifyBaseLogger = FastifyBaseLogger,
    TypeProvider extends FastifyTypeProvider = FastifyTypeProviderDefault
  > {
    route<RouteGeneric extends RouteGenericInterface = RouteGenericInterface, ContextConfig = ContextConfigDefault,
      const SchemaCompiler extends FastifySchema = FastifySchema, const M extends EventMap = RouteEvents<RouteGeneric>, const E extends EventsOf<M> = EventsOf<M>>(
      opts: Omit<RouteOptions<RawServer, RawRequest, RawReply, RouteGeneric, ContextConfig, SchemaCompiler, TypeProvider, Logger>, 'handler'> & {
        sse: SseRouteOptionOf<M>
        handler: SseRouteHandler<E,
          FastifyRequest<RouteGeneric, RawServer, RawRequest, SchemaCompiler, TypeProvider, ContextConfig, Logger>,
          FastifyReply<RouteGeneric, RawServer, RawRequest, RawReply, ContextConfig, SchemaCompiler, TypeProvider>>
      }
    ): FastifyInstance<RawServer, RawRequest, RawReply, Logger, TypeProvider>
  }
}

/** The map a route's type arguments give as `Events`, or `never` when they give none. */
export type RouteEvents<RouteGeneric> = RouteGeneric extends { Events: infer M extends EventMap } ? M : never

/** What the `sse` option takes when the map is `M` (`never`: untyped, no `events`). */
export type SseRouteOptionOf<M extends EventMap> = [M] extends [never]
  ? true | (SseStreamOptions & { events?: 'the route has type arguments: add Events: typeof events to them' | undefined })
  : SseReplyOptions<M> & { events: M }

/** The `sse` overload of `app.get()`, `app.post()` and the other shorthand methods. */
export interface SseRouteShorthand<
  RawServer extends RawServerBase = RawServerDefault,
  RawRequest extends RawRequestDefaultExpression<RawServer> = RawRequestDefaultExpression<RawServer>,
  RawReply extends RawReplyDefaultExpression<RawServer> = RawReplyDefaultExpression<RawServer>,
  TypeProvider extends FastifyTypeProvider = FastifyTypeProviderDefault,
  Logger extends FastifyBaseLogger = FastifyBaseLogger
> {
  <RouteGeneric extends RouteGenericInterface = RouteGenericInterface, ContextConfig = ContextConfigDefault,
    const SchemaCompiler extends FastifySchema = FastifySchema, const M extends EventMap = RouteEvents<RouteGeneric>, const E extends EventsOf<M> = EventsOf<M>>(
    path: string,
    opts: RouteShorthandOptions<RawServer, RawRequest, RawReply, RouteGeneric, ContextConfig, SchemaCompiler, TypeProvider, Logger> &
      { sse: SseRouteOptionOf<M> },
    handler: SseRouteHandler<E,
      FastifyRequest<RouteGeneric, RawServer, RawRequest, SchemaCompiler, TypeProvider, ContextConfig, Logger>,
      FastifyReply<RouteGeneric, RawServer, RawRequest, RawReply, ContextConfig, SchemaCompiler, TypeProvider>>
  ): FastifyInstance<RawServer, RawRequest, RawReply, Logger, TypeProvider>
}
