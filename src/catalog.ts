// What the documents are built from: the app's typed streams, written down while the app is built.
// A route is a stream when it has the `sse` option, or when its `200` response was made by
// `sseResponseSchema()` (a route that calls `reply.sse()` says so no other way); a hub topic is
// one created with `fastify.sse.topic()` before the app is ready, or named by such a response.
import type { FastifyInstance, FastifySchema, RouteOptions } from 'fastify'
import type { EventMap } from './events.js'
import type { SseHub } from './hub/hub.js'
import { streamOfResponse } from './openapi.js'

/** A route that streams events. */
export interface StreamRoute {
  /** Upper case, one entry per method the route answers. */
  methods: string[]
  /** As declared to Fastify: `/jobs/:id/events`. */
  url: string
  /** The event map; `undefined` for an untyped stream. */
  events: EventMap | undefined
  /** The hub topic the route streams, when it says so (a name, or a pattern like `room:{id}`). */
  topic: string | undefined
  /** The route's own schema: summary, description, tags, params, querystring, operationId. */
  schema: FastifySchema & Record<string, unknown>
}

/** A hub topic: a name, or a family of names with `{parameters}` (`room:{id}`). */
export interface StreamTopic {
  name: string
  events: EventMap | undefined
}

export class StreamCatalog {
  readonly routes: StreamRoute[] = []
  readonly topics = new Map<string, StreamTopic>()
  /** Set once the app is ready: from then on the routes cannot change, and topics are not recorded. */
  ready = false

  constructor (fastify: FastifyInstance) {
    fastify.addHook('onRoute', route => { this.addRoute(route) })
    fastify.addHook('onReady', async () => { this.ready = true })
  }

  /**
   * The hub as `fastify.sse` shows it: the same topics, recorded while the app is built. Topics
   * created later, per request (`room:${id}`), are left out: the document must not depend on the
   * traffic, nor grow with it. Document such a family by its pattern on the route that streams it.
   */
  recordTopics (hub: SseHub): SseHub {
    const topic = (name: string, options?: { events?: EventMap }) => {
      const handle = hub.topic(name, options)
      if (!this.ready) this.addTopic(name, options?.events)
      return handle
    }
    return { ...hub, topic: topic as SseHub['topic'] }
  }

  addTopic (name: string, events: EventMap | undefined): void {
    const known = this.topics.get(name)
    if (known === undefined) this.topics.set(name, { name, events })
    else if (known.events === undefined) known.events = events
  }

  private addRoute (route: RouteOptions & { sse?: unknown }): void {
    const schema = (route.schema ?? {}) as StreamRoute['schema']
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).map(method => method.toUpperCase())
    // Fastify adds a HEAD route for each GET one: the same stream, without a body.
    if (methods.every(method => method === 'HEAD')) return
    const documented = streamOfResponse(schema.response)
    let events: EventMap | undefined
    if (route.sse === true) events = undefined
    else if (typeof route.sse === 'object' && route.sse !== null) events = (route.sse as { events?: EventMap }).events
    else if (documented !== undefined) events = documented.events
    else return
    const topic = documented?.topic
    this.routes.push({ methods: methods.filter(method => method !== 'HEAD'), url: route.url, events, topic, schema })
    if (topic !== undefined) this.addTopic(topic, events)
  }
}
