// The base URL of an app under test, starting it on a free loopback port if it is not listening.
import type { FastifyInstance } from 'fastify'

// Two helpers called at once on an app that is not listening yet must not both call listen().
const starting = new WeakMap<FastifyInstance, Promise<void>>()

/**
 * `http://127.0.0.1:PORT` (or `https://…`) of `app`. An app that is not listening yet is started
 * with `listen({ port: 0, host: '127.0.0.1' })`; closing it stays the test's job.
 */
export async function appUrl (app: FastifyInstance): Promise<string> {
  if (!app.server.listening) {
    let started = starting.get(app)
    if (started === undefined) {
      started = app.listen({ port: 0, host: '127.0.0.1' }).then(() => undefined)
      starting.set(app, started)
    }
    await started
  }
  const address = app.server.address()
  if (address === null || typeof address === 'string') {
    throw new Error('fastify-typed-sse/testing: the app listens on a pipe or socket path; pass a base URL instead')
  }
  // An app listening on every interface is reached on loopback.
  const host = address.address === '0.0.0.0'
    ? '127.0.0.1'
    : address.address === '::' ? '[::1]' : address.family === 'IPv6' ? `[${address.address}]` : address.address
  // A TLS server (https, or http2 with TLS) has a secure context.
  const protocol = typeof (app.server as { setSecureContext?: unknown }).setSecureContext === 'function' ? 'https' : 'http'
  return `${protocol}://${host}:${address.port}`
}
