// fastify-typed-sse/testing: collect a real SSE route's events in tap or node:test suites.
export { collectEvents, CollectError, type CollectEnd, type CollectOptions, type Collected } from './collect.js'
export { appUrl } from './address.js'
