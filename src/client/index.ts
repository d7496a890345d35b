// fastify-typed-sse/client: the typed client. Browser-safe: no Node or Fastify imports.
export { sseClient } from './client.js'
export { SseClientError, type SseClientErrorCode } from './errors.js'
export type { ClientEvent, ClosedReason, FetchLike, ReconnectInfo, SseClient, SseClientOptions, SseClientStatus, UntypedClientEvent } from './types.js'
export type { EventMap } from '../events.js'
