// A real listening Fastify app with the plugin registered, closed when the test ends, with its
// log lines captured so tests can assert what was logged.
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { Writable } from 'node:stream'
import ssePlugin, { type SsePluginOptions } from '../../src/index.js'

export interface TestApp {
  app: FastifyInstance
  /** http://127.0.0.1:PORT */
  url: string
  port: number
  /** Every log line the app wrote, parsed. */
  logs: Array<Record<string, unknown> & { level: number, msg: string }>
}

interface Teardown { after (fn: () => unknown): void }

export async function startApp (
  t: Teardown,
  routes: (app: FastifyInstance) => void | Promise<void>,
  options: {
    plugin?: SsePluginOptions
    /** Fastify's own options, `http2: true` included. */
    fastify?: FastifyServerOptions & { http2?: boolean }
    /** Runs before the plugin is registered (other plugins, hooks). */
    before?: (app: FastifyInstance) => unknown
  } = {}
): Promise<TestApp> {
  const logs: TestApp['logs'] = []
  const stream = new Writable({
    write (chunk, _encoding, callback) {
      for (const line of String(chunk).split('\n')) if (line !== '') logs.push(JSON.parse(line))
      callback()
    }
  })
  const app = Fastify({ logger: { level: 'debug', stream }, ...options.fastify } as FastifyServerOptions)
  await options.before?.(app)
  await app.register(ssePlugin, options.plugin ?? {})
  await routes(app)
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.after(() => app.close())
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('expected a TCP address')
  return { app, url: `http://127.0.0.1:${address.port}`, port: address.port, logs }
}

/** Resolves once `predicate` holds, checking on every turn of the event loop (10 s at most). */
export async function until (predicate: () => boolean, what = 'condition'): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}
