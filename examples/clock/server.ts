// The minimum: a clock that ticks once a second. `npm run demo`, then open http://localhost:3000
import Fastify from 'fastify'
import { Type } from '@sinclair/typebox'
import { readFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import ssePlugin from 'fastify-typed-sse'

const events = {
  // Unnamed events reach `EventSource.onmessage`.
  message: Type.Object({ time: Type.String() }),
  // Named events reach `addEventListener('tick', …)`.
  tick: Type.Object({ n: Type.Integer({ minimum: 0 }) }),
  // Tells the page to close instead of letting the browser reconnect.
  end: Type.Object({ reason: Type.String() })
}

export async function buildClock (ticks = 30, { intervalMs = 1000, logger = process.env.NODE_ENV !== 'test' } = {}) {
  const app = Fastify({ logger })
  await app.register(ssePlugin, { heartbeatInterval: 15_000, retry: 2000 })

  const page = await readFile(new URL('./index.html', import.meta.url), 'utf8')
  app.get('/', (_request, reply) => reply.type('text/html; charset=utf-8').send(page))

  // A reconnecting browser sends Last-Event-ID, and the clock carries on where it was.
  app.get('/clock', { sse: { events } }, async function * (_request, _reply, { signal, lastEventId }) {
    for (let n = lastEventId === undefined ? 0 : Number(lastEventId) + 1; n < ticks; n++) {
      yield { data: { time: new Date().toISOString() } }
      yield { event: 'tick', id: n, data: { n } }
      await sleep(intervalMs, undefined, { signal })
    }
    yield { event: 'end', data: { reason: `${ticks} ticks done` } }
  })
  return app
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const app = await buildClock()
  await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? 'localhost' })
}
