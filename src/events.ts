// Types only: what a source yields, and how an event map turns into those types.
// Only TypeBox 1's types are imported: `typebox` is a required peer, while `@sinclair/typebox`
// 0.34 may not be installed at all, so its schemas are recognised by their shape instead.
import type { Static as StaticOfTypeBox, TSchema } from 'typebox'

/**
 * The schema of one event's data: made with TypeBox 1 (`typebox`), TypeBox 0.34
 * (`@sinclair/typebox`) or written as plain JSON Schema. Any object: TypeBox 1's own `TSchema`
 * is an empty interface, and the check that it really is a schema runs when the map is
 * registered (a route's `sse`, a topic, the first `reply.sse()` call).
 */
export type EventSchema = object

/**
 * Event names mapped to the TypeBox schema of their `data`. Schemas of both TypeBox majors may
 * be mixed in one map. The key `message` stands for unnamed events (the ones
 * `EventSource.onmessage` receives).
 */
export type EventMap = Record<string, EventSchema>

/**
 * The type of the data a schema describes, each major by its own rule: a 0.34 schema carries
 * it in its phantom `static` (read with empty `params`, as 0.34's own `Static` does); anything
 * else goes through TypeBox 1's `Static`, which also reads plain JSON Schema written `as const`.
 */
export type StaticOf<S> = S extends { static: unknown, params: unknown[] }
  ? (S & { params: [] })['static']
  : S extends TSchema ? StaticOfTypeBox<S> : never

/** Fields every frame may carry besides its event name and data. */
export interface FrameFields {
  /**
   * Sent as `id:`; the browser sends it back as `Last-Event-ID` when it reconnects.
   * Numbers are written in decimal (`id: 0` is kept). Must not contain CR, LF or NUL.
   */
  id?: string | number | undefined
  /** Reconnection delay in milliseconds, sent as `retry:`. A non-negative integer. */
  retry?: number | undefined
  /** A `:` comment; ignored by clients, useful to keep proxies awake or to debug. */
  comment?: string | undefined
}

/** A frame without data: sets `id`/`retry` or carries a comment, dispatches no event. */
export interface ControlFrame extends FrameFields {
  event?: undefined
  data?: undefined
}

/** One event of an event map: `{ event: name, data }`, with `event` optional for `message`. */
export type MapEvent<M extends EventMap, K extends keyof M & string = keyof M & string> = {
  [N in K]: FrameFields & (N extends 'message' ? { event?: 'message' | undefined } : { event: N }) & {
    data: StaticOf<M[N]>
  }
}[K]

/**
 * A payload as a source may give it: read, never changed, so readonly values fit as well as
 * mutable ones (an `as const` array, or a literal inferred as a readonly tuple).
 */
export type Payload<T> =
  0 extends (1 & T) ? T // any
    : T extends (...args: never[]) => unknown ? T
      : T extends Date | RegExp | Uint8Array ? T
        : T extends object ? { readonly [K in keyof T]: Payload<T[K]> }
          : T

/** What a typed source may yield: any event of the map, or a control frame. */
export type SseEvent<M extends EventMap> = {
  [N in keyof M & string]: FrameFields & (N extends 'message' ? { event?: 'message' | undefined } : { event: N }) & {
    data: Payload<StaticOf<M[N]>>
  }
}[keyof M & string] | ControlFrame

/**
 * A return type for a source's generator: `async function * (): SseGenerator<typeof events>`.
 * Optional (the map types the generator anyway), but with it each wrong yield is reported at the
 * field itself, rather than as the whole generator not fitting the route or `reply.sse()`.
 */
export type SseGenerator<M extends EventMap> = AsyncGenerator<SseEvent<M>, void, unknown>

/** What an untyped source (no `events` map) may yield. */
export interface UntypedEvent extends FrameFields {
  event?: string | undefined
  data?: unknown
}

/** Handed to a source function and to an `{ sse }` route handler. */
export interface SseContext {
  /** Aborts when the client goes away or the server closes: pass it to whatever you await. */
  signal: AbortSignal
  /** The id the client last saw (`Last-Event-ID` header or `lastEventId` query), if any. */
  lastEventId: string | undefined
}

/** Something that yields events, sync or async. */
export type EventIterable<E> = AsyncIterable<E> | Iterable<E>

/**
 * What `reply.sse()` takes: an iterable of events, or a function of the stream's context that
 * returns one (an async generator function fits). If the function returns a promise, it is
 * awaited before the response starts, so an error there becomes a normal HTTP error.
 */
export type SseSource<E> = EventIterable<E> | ((context: SseContext) => EventIterable<E> | PromiseLike<EventIterable<E>>)
