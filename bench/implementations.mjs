// The implementations the bench compares, in the order of the tables. `file` is the server
// (in servers/); `peer` marks the libraries the targets compare against. `workers` runs that
// many processes behind one port (node:cluster); `redis` says how they share a broadcast: the
// plugin's own Redis hub (`hub`) or a Redis channel the server code subscribes to (`pubsub`).
export const allImplementations = [
  { key: 'typed', label: '**fastify-typed-sse**', file: 'typed-sse.mjs', env: { VALIDATE: '1' } },
  { key: 'typed-novalidate', label: 'fastify-typed-sse, `validate: false`', file: 'typed-sse.mjs', env: { VALIDATE: '0' } },
  // What observability costs once something listens: the same server with a no-op subscriber on
  // every diagnostics channel (`typed` has none: the cost of the channels unheard). Only in the
  // scenarios where the channels are on the path: events in a stream, and streams opening and
  // ending.
  { key: 'typed-traced', label: 'fastify-typed-sse, a no-op subscriber on every diagnostics channel', file: 'typed-sse.mjs', env: { VALIDATE: '1', TRACED: '1' }, scenarios: ['throughput', 'churn'] },
  { key: 'fastify-sse', label: '@fastify/sse', file: 'fastify-sse.mjs', peer: true },
  { key: 'fastify-sse-v2', label: 'fastify-sse-v2', file: 'fastify-sse-v2.mjs', peer: true },
  { key: 'better-sse', label: 'better-sse', file: 'better-sse.mjs', peer: true },
  { key: 'hono', label: 'Hono `streamSSE` (@hono/node-server)', file: 'hono.mjs', peer: true },
  { key: 'node-http', label: 'node:http by hand', file: 'node-http.mjs' },
  { key: 'fastify-hijack', label: 'Fastify `reply.hijack()` by hand', file: 'fastify-hijack.mjs' }
]

const byKey = Object.fromEntries(allImplementations.map(i => [i.key, i]))

/**
 * The implementations of the scale scenarios (50 000 streams over several processes, 19 000 in
 * one): every library once (the `validate: false` variant adds nothing to idle streams and one
 * broadcast), and node:http and Fastify by hand as the floor.
 */
export const scaleKeys = ['typed', 'fastify-sse', 'fastify-sse-v2', 'better-sse', 'hono', 'node-http', 'fastify-hijack']

/** `impl` run as `workers` processes sharing broadcasts through Redis. */
export function clustered (key, workers) {
  const impl = byKey[key]
  const redis = key.startsWith('typed') ? 'hub' : 'pubsub'
  return { ...impl, key: `${key}-x${workers}`, base: key, workers, redis, label: `${impl.label}, ${workers} processes` }
}

/**
 * The "several processes" scenario: the same fan-out on one process (memory hub), on one process
 * with the Redis hub (what Redis alone costs), and on 2 and 3 processes with the Redis hub; and
 * node:http by hand on 1 and 2 processes (a Redis channel between them) as the limit.
 */
export const processVariants = [
  { ...byKey.typed, key: 'typed', label: '**fastify-typed-sse**, 1 process, memory hub' },
  { ...byKey.typed, key: 'typed-redis', base: 'typed', redis: 'hub', label: '**fastify-typed-sse**, 1 process, Redis hub' },
  { ...clustered('typed', 2), label: '**fastify-typed-sse**, 2 processes, Redis hub' },
  { ...clustered('typed', 3), label: '**fastify-typed-sse**, 3 processes, Redis hub' },
  { ...byKey['node-http'], label: 'node:http by hand, 1 process' },
  { ...clustered('node-http', 2), label: 'node:http by hand, 2 processes, Redis channel' }
]

/** The Redis hub scenario: the plugin's hub on each backend, in the same run. */
export const hubVariants = [
  { ...byKey.typed, key: 'typed', label: 'memory hub (one instance)' },
  { ...byKey.typed, key: 'typed-redis', base: 'typed', redis: 'hub', label: 'Redis hub (two instances)' }
]

/** Not an implementation: shows how fast the client reads (see servers/client-ceiling.mjs). */
export const ceiling = { key: 'ceiling', label: '(client ceiling: pre-encoded, 1000 frames a write)', file: 'client-ceiling.mjs' }
