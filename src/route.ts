// The `{ sse: { events } }` route option: the handler itself becomes an async generator (or any
// function returning an iterable of events), wrapped here into reply.sse().
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import { invalidOption } from './errors.js'
import type { EventIterable, EventMap, SseContext, UntypedEvent } from './events.js'
import { documentSseRoute } from './openapi.js'
import { resolveStreamOptions, type ResolvedStreamOptions, type SseReplyOptions } from './options.js'
import type { StreamRegistry } from './registry.js'
import { compileEventMap } from './schema.js'
import { startStream } from './stream.js'

/** The route option: `true` for untyped events, or the event map and stream options. */
export type SseRouteOption<M extends EventMap = EventMap> = true | SseReplyOptions<M>

type SseHandler = (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply, context: SseContext) =>
  EventIterable<UntypedEvent> | PromiseLike<EventIterable<UntypedEvent>>

/** An onRoute hook that turns routes with an `sse` option into streams. */
export function sseRouteHook (base: ResolvedStreamOptions, registry: StreamRegistry) {
  return function onRoute (this: FastifyInstance, route: RouteOptions & { sse?: SseRouteOption | false }): void {
    const sse = route.sse
    if (sse === undefined || sse === false) return
    const where = `route ${String(route.method)} ${route.url}`
    if (sse !== true && (typeof sse !== 'object' || sse === null)) {
      throw invalidOption(`sse (${where})`, 'true or an object of stream options', sse)
    }
    // Checked now, while the app is being built, rather than at the first request, as Fastify
    // compiles a route's schemas: the options, and the event map compiled (and cached) here.
    const { events, ...rest } = sse === true ? {} : sse
    const options = resolveStreamOptions(base, rest)
    if (events !== undefined) compileEventMap(events, { option: 'sse.events', where })
    // With @fastify/swagger registered, the route is documented from its event map.
    documentSseRoute(this, route, events)
    const handler = route.handler as unknown as SseHandler
    route.handler = function sseHandler (this: FastifyInstance, request, reply) {
      return startStream(request, reply, (context) => handler.call(this, request, reply, context), events, options, registry)
    }
  }
}
