// The implementations the bench compares, in the order of the tables. `file` is the server
// (in servers/); `peer` marks the libraries the targets compare against.
export const allImplementations = [
  { key: 'typed', label: '**fastify-typed-sse**', file: 'typed-sse.mjs', env: { VALIDATE: '1' } },
  { key: 'typed-novalidate', label: 'fastify-typed-sse, `validate: false`', file: 'typed-sse.mjs', env: { VALIDATE: '0' } },
  { key: 'fastify-sse', label: '@fastify/sse', file: 'fastify-sse.mjs', peer: true },
  { key: 'fastify-sse-v2', label: 'fastify-sse-v2', file: 'fastify-sse-v2.mjs', peer: true },
  { key: 'better-sse', label: 'better-sse', file: 'better-sse.mjs', peer: true },
  { key: 'node-http', label: 'node:http by hand', file: 'node-http.mjs' },
  { key: 'fastify-hijack', label: 'Fastify `reply.hijack()` by hand', file: 'fastify-hijack.mjs' }
]

/** Not an implementation: shows how fast the client reads (see servers/client-ceiling.mjs). */
export const ceiling = { key: 'ceiling', label: '(client ceiling: pre-encoded, 1000 frames a write)', file: 'client-ceiling.mjs' }
