// The plugin: decorates the reply with sse(), wraps `{ sse }` routes, ends open streams on close.
import type {
  ContextConfigDefault, FastifyBaseLogger, FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest,
  FastifySchema, FastifyTypeProvider, FastifyTypeProviderDefault, RawReplyDefaultExpression,
  RawRequestDefaultExpression, RawServerBase, RawServerDefault, RouteGenericInterface
} from 'fastify'
import fp from 'fastify-plugin'
import type { EventIterable, EventMap, SseContext, SseEvent, SseSource, UntypedEvent } from './events.js'
import { defaults, resolveStreamOptions, type SseReplyOptions, type SseStreamOptions } from './options.js'
import { sseRouteHook } from './route.js'
import { startStream, type OpenStreams } from './stream.js'

/** Options of `fastify.register(ssePlugin, options)`: defaults for every stream. */
export interface SsePluginOptions extends SseStreamOptions {}

// How long fastify.close() waits for sources' `finally` blocks. A source that honours its
// signal finishes at once; one stuck in an await that ignores it must not hang the shutdown.
const CLOSE_GRACE_MS = 1000

const plugin: FastifyPluginAsync<SsePluginOptions> = async function ssePlugin (fastify, options) {
  const base = resolveStreamOptions(defaults, options)
  const open: OpenStreams = new Set()

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
export { encodeFrame, type FrameText } from './encode.js'

/** A handler declared with the `sse` route option: returns (or is) an iterable of events. */
export type SseRouteHandler<E, Request = FastifyRequest, Reply = FastifyReply> =
  (this: FastifyInstance, request: Request, reply: Reply, context: SseContext) => EventIterable<E> | PromiseLike<EventIterable<E>>

declare module 'fastify' {
  interface FastifyReply {
    /**
     * Streams `source` as Server-Sent Events. With `events`, each event's data is checked
     * against the schema of its name before it is encoded, and the source is typed by the map.
     * Resolves when the stream has ended.
     */
    sse<const M extends EventMap>(source: SseSource<NoInfer<SseEvent<M>>>, options: SseReplyOptions<M> & { events: M }): Promise<void>
    sse(source: SseSource<UntypedEvent>, options?: SseStreamOptions): Promise<void>
  }

  // Merging an interface needs its type parameters repeated exactly, used or not.
  /* eslint-disable @typescript-eslint/no-unused-vars */
  interface RouteShorthandOptions<
    RawServer extends RawServerBase = RawServerDefault,
    RawRequest extends RawRequestDefaultExpression<RawServer> = RawRequestDefaultExpression<RawServer>,
    RawReply extends RawReplyDefaultExpression<RawServer> = RawReplyDefaultExpression<RawServer>,
    RouteGeneric extends RouteGenericInterface = RouteGenericInterface,
    ContextConfig = ContextConfigDefault,
    SchemaCompiler extends FastifySchema = FastifySchema,
    TypeProvider extends FastifyTypeProvider = FastifyTypeProviderDefault,
    Logger extends FastifyBaseLogger = FastifyBaseLogger
  > {
    /** Makes the handler an event source: `true`, or the event map and stream options. */
    sse?: true | SseReplyOptions
  }
  /* eslint-enable @typescript-eslint/no-unused-vars */

  interface RouteShorthandMethod<
    RawServer extends RawServerBase = RawServerDefault,
    RawRequest extends RawRequestDefaultExpression<RawServer> = RawRequestDefaultExpression<RawServer>,
    RawReply extends RawReplyDefaultExpression<RawServer> = RawReplyDefaultExpression<RawServer>,
    TypeProvider extends FastifyTypeProvider = FastifyTypeProviderDefault,
    Logger extends FastifyBaseLogger = FastifyBaseLogger
  > {
    <const M extends EventMap, RouteGeneric extends RouteGenericInterface = RouteGenericInterface, ContextConfig = ContextConfigDefault,
      const SchemaCompiler extends FastifySchema = FastifySchema>(
      path: string,
      opts: RouteShorthandOptions<RawServer, RawRequest, RawReply, RouteGeneric, ContextConfig, SchemaCompiler, TypeProvider, Logger> &
        { sse: SseReplyOptions<M> & { events: M } },
      handler: SseRouteHandler<NoInfer<SseEvent<M>>,
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
