// The plugin's life on node:diagnostics_channel: the channels, their documented names and the
// shape of each message. This is what APM agents and OpenTelemetry instrumentations subscribe to.
// Every publish is behind `channel.hasSubscribers`, so with nobody listening no message object is
// even made: the cost is one property read.
import { channel } from 'node:diagnostics_channel'
import type { FastifyRequest } from 'fastify'

/** The names of the plugin's diagnostics channels (`diagnostics_channel.subscribe(name, fn)`). */
export const SSE_CHANNELS = {
  /** A stream's response started (status 200 and its headers sent). Message: `SseStreamStartMessage`. */
  streamStart: 'fastify-typed-sse:stream:start',
  /** A stream that started has ended, for whatever reason. Message: `SseStreamEndMessage`. */
  streamEnd: 'fastify-typed-sse:stream:end',
  /** An event was not sent: its data failed its schema, or its name or a field was invalid. Message: `SseInvalidEventMessage`. */
  invalidEvent: 'fastify-typed-sse:stream:invalid-event',
  /** A source threw after its stream started. Message: `SseSourceErrorMessage`. */
  sourceError: 'fastify-typed-sse:stream:source-error',
  /** `topic.publish()` stored an event. Message: `SseHubPublishMessage`. */
  hubPublish: 'fastify-typed-sse:hub:publish',
  /** A subscriber read a page of retained events to replay to its client. Message: `SseHubReplayMessage`. */
  hubReplay: 'fastify-typed-sse:hub:replay',
  /** A subscriber was sent a `reset`: its client's position could not be resumed. Message: `SseHubResetMessage`. */
  hubReset: 'fastify-typed-sse:hub:reset',
  /** A subscriber's queue was full when an event came. Message: `SseHubOverflowMessage`. */
  hubOverflow: 'fastify-typed-sse:hub:overflow',
  /** The hub lost its store (Redis): publishes reject until it is back. Message: `SseHubBackendMessage`. */
  backendDown: 'fastify-typed-sse:hub:backend-down',
  /** The hub's store is reachable again. Message: `SseHubBackendMessage`. */
  backendUp: 'fastify-typed-sse:hub:backend-up'
} as const

/** Why a stream ended. */
export type SseStreamEndReason =
  /** The source finished (its generator returned). */
  | 'source-done'
  /** The client closed the connection. */
  | 'client-gone'
  /** `fastify.close()` ended it. */
  | 'server-closing'
  /** A hub subscriber fell `queueSize` events behind (`onOverflow: 'close'`). */
  | 'overflow'
  /** The hub topic it followed was deleted. */
  | 'topic-deleted'
  /** The client took nothing for `writeTimeout` ms while data waited. */
  | 'write-timeout'
  /** An invalid event ended it (`onInvalidEvent: 'close'`). */
  | 'invalid-event'
  /** The source threw after the stream started. */
  | 'error'

/** Every end reason, in a fixed order (the keys of `SseStats['streams']['ended']`). */
export const STREAM_END_REASONS: readonly SseStreamEndReason[] =
  ['source-done', 'client-gone', 'server-closing', 'overflow', 'topic-deleted', 'write-timeout', 'invalid-event', 'error']

/** What every stream message carries: which request, on which route. */
export interface SseStreamMessage {
  /** The request the stream answers (its `id`, `log`, `routeOptions`, headers…). */
  request: FastifyRequest
  /** `METHOD url-pattern` of the route, like `GET /rooms/:room`. */
  route: string
}

export interface SseStreamStartMessage extends SseStreamMessage {
  /** The id the client resumes from (`Last-Event-ID`), if it sent one. */
  lastEventId: string | undefined
}

export interface SseStreamEndMessage extends SseStreamMessage {
  reason: SseStreamEndReason
  /** Milliseconds from the response's start to the end. */
  durationMs: number
  /** Events sent (a hub's id-only opening frame and `reset` count as events; heartbeats do not). */
  events: number
  /** Bytes written to the response (UTF-8, heartbeats included, HTTP framing not). */
  bytes: number
}

export interface SseInvalidEventMessage extends SseStreamMessage {
  /** `FST_SSE_INVALID_EVENT`, `FST_SSE_UNKNOWN_EVENT`, `FST_SSE_NOT_AN_EVENT`, `FST_SSE_INVALID_FIELD` or `FST_SSE_UNSERIALIZABLE`. */
  code: string
  /** The event's name, when it had one. */
  event: string | undefined
  /** Where in its data the schema check failed (`/user/name`), for `FST_SSE_INVALID_EVENT`. */
  path: string | undefined
  /** The error that was logged. */
  error: Error
}

export interface SseSourceErrorMessage extends SseStreamMessage {
  /** `FST_SSE_SOURCE_FAILED`, with what the source threw as `cause`. */
  error: Error
}

export interface SseHubPublishMessage {
  topic: string
  /** The id the event was stored under (or the first id, for a repeated `idempotencyKey`). */
  id: string
}

export interface SseHubReplayMessage {
  topic: string
  /** Events read for replay in this page (at most 256; a long replay is several pages). */
  count: number
  /** The position the page was read after (an id, or `0-0` for the oldest retained). */
  after: string
}

export interface SseHubResetMessage {
  topic: string
  /** `expired`: older than the oldest retained event; `unknown`: never stored here, or malformed. */
  reason: 'expired' | 'unknown'
  /** What the client sent. */
  lastEventId: string
}

export interface SseHubOverflowMessage {
  /** The topic whose event found the queue full. */
  topic: string
  /** `close`: the stream ends; `drop-oldest`: the oldest queued event was dropped. */
  policy: 'close' | 'drop-oldest'
  queueSize: number
}

export interface SseHubBackendMessage {
  /** The store: `redis`. */
  backend: string
  /** For `backend-down`: what the connection reported. */
  error?: Error | undefined
}

// The channel objects. Made once at load: `channel(name)` returns the same object for a name,
// so subscribers that come later (or before) see the publishes.
export const streamStartChannel = channel(SSE_CHANNELS.streamStart)
export const streamEndChannel = channel(SSE_CHANNELS.streamEnd)
export const invalidEventChannel = channel(SSE_CHANNELS.invalidEvent)
export const sourceErrorChannel = channel(SSE_CHANNELS.sourceError)
export const hubPublishChannel = channel(SSE_CHANNELS.hubPublish)
export const hubReplayChannel = channel(SSE_CHANNELS.hubReplay)
export const hubResetChannel = channel(SSE_CHANNELS.hubReset)
export const hubOverflowChannel = channel(SSE_CHANNELS.hubOverflow)
export const backendDownChannel = channel(SSE_CHANNELS.backendDown)
export const backendUpChannel = channel(SSE_CHANNELS.backendUp)

/**
 * Set on a source's iterator (a hub subscriber) to say why it finished, when that is not simply
 * "the source is done": the stream reads it when the iterator reports done.
 */
export const END_REASON = Symbol('fastify-typed-sse end reason')
