// A chat room on the broadcast hub: `npm run example:chat`, then open http://localhost:3000 in
// several tabs. Every tab's messages reach every other; a reload picks up exactly where the tab
// left off (Last-Event-ID replay). With REDIS_URL set, the room lives in Redis, and several
// instances of this server (PORT=3001, 3002…) share it.
import Fastify, { type FastifyServerOptions } from 'fastify'
import { Type } from '@sinclair/typebox'
import { readFile } from 'node:fs/promises'
import ssePlugin from 'fastify-typed-sse'

const events = {
  // Chat lines are unnamed events: the page reads them with `onmessage`.
  message: Type.Object({
    from: Type.String({ minLength: 1, maxLength: 40 }),
    text: Type.String({ minLength: 1, maxLength: 500 }),
    /** When the server received it (ISO 8601). */
    at: Type.String()
  })
}

export interface ChatOptions {
  /** Sent as `retry:`: how long a browser waits before reconnecting. */
  retry?: number
  /** Messages kept for replay to tabs that come back. */
  retain?: number
  redis?: string | undefined
  logger?: FastifyServerOptions['logger']
}

export async function buildChat ({ retry = 1000, retain = 1000, redis, logger = process.env.NODE_ENV !== 'test' }: ChatOptions = {}) {
  const app = Fastify({ logger })
  await app.register(ssePlugin, { retry, hub: { retain, redis } })
  const room = app.sse.topic('chat:lobby', { events })

  const page = await readFile(new URL('./index.html', import.meta.url), 'utf8')
  app.get('/', (_request, reply) => reply.type('text/html; charset=utf-8').send(page))

  app.post('/messages', {
    schema: { body: Type.Object({ from: events.message.properties.from, text: events.message.properties.text }) }
  }, async (request, reply) => {
    const { from, text } = request.body as { from: string, text: string }
    // Resolves once the hub has stored it (on Redis: once Redis has it), with its id.
    const id = await room.publish({ data: { from, text, at: new Date().toISOString() } })
    return reply.code(201).send({ id })
  })

  // Replays what the client missed after its Last-Event-ID (header, or `lastEventId` query
  // parameter after a reload), then follows the room live.
  app.get('/events', (_request, reply) => reply.sse(room.subscribe()))
  return app
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const app = await buildChat({ redis: process.env.REDIS_URL })
  await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? 'localhost' })
}
