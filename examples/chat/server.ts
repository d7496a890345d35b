// A chat room on the broadcast hub: `npm run example:chat`, then open http://localhost:3000 in
// several tabs (two browsers, or a private window, to be two people). Each person signs in with a
// name; every message reaches every tab, signed with the name of the session that posted it; a
// reload picks up exactly where the tab left off (Last-Event-ID replay).
//
// What to copy from it: the author comes from the session, never from the request body; posting
// and signing in are rate-limited; sessions expire (see session.ts); the stream needs a session
// too, and ends when the session must be checked again.
//
// With REDIS_URL set, the room and the rate limits live in Redis, and several instances of this
// server (PORT=3001, 3002…) share them; give them the same SESSION_KEY (32 random bytes, base64:
// `openssl rand -base64 32`) so that a session from one is good on all.
import Fastify, { type FastifyBaseLogger, type FastifyServerOptions } from 'fastify'
import rateLimit from '@fastify/rate-limit'
import { Type, type Static } from '@sinclair/typebox'
import { readFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import ssePlugin, { type SseContext } from 'fastify-typed-sse'
import { createSessions, requireUser, type SessionOptions } from './session.js'

// The limits of what people send, checked by the routes' schemas. Fastify's validator (Ajv) counts
// characters; TypeBox, which checks the events the room publishes, counts UTF-16 units, two for an
// emoji. So the event allows twice as many: whatever passed the route's schema fits the event.
const MAX_NAME = 40
const MAX_TEXT = 500
/** No control or invisible format characters (a right-to-left override would let a name pass for another), no spaces at either end. */
const NAME_PATTERN = '^[^\\p{C}\\s](?:[^\\p{C}]*[^\\p{C}\\s])?$'

const events = {
  // Chat lines are unnamed events: the page reads them with `onmessage`.
  message: Type.Object({
    /** The author's name, from their session. */
    from: Type.String({ minLength: 1, maxLength: 2 * MAX_NAME }),
    /** The author's id, from their session: two people may choose the same name. */
    fromId: Type.String(),
    text: Type.String({ minLength: 1, maxLength: 2 * MAX_TEXT }),
    /** When the server received it (ISO 8601). */
    at: Type.String()
  })
}

const SignInBody = Type.Object({ name: Type.String({ minLength: 1, maxLength: MAX_NAME, pattern: NAME_PATTERN }) }, { additionalProperties: false })
// No `from`: a body that names an author has it removed (Fastify's Ajv drops properties that are
// not in the schema); the author is whoever the session says.
const PostBody = Type.Object({ text: Type.String({ minLength: 1, maxLength: MAX_TEXT }) }, { additionalProperties: false })

export interface RateLimit {
  /** Requests allowed per window. */
  max: number
  /** The window, in milliseconds. */
  timeWindow: number
}

export interface ChatOptions {
  /** Sent as `retry:`: how long a browser waits before reconnecting. */
  retry?: number
  /** Messages kept for replay to tabs that come back. */
  retain?: number
  redis?: string | undefined
  /** Session keys, idle timeout and lifetime: see session.ts. */
  sessions?: SessionOptions
  /**
   * Messages one user may post per window; beyond it, 429 with `Retry-After`.
   * @defaultValue 10 per 10 s
   */
  postLimit?: RateLimit
  /**
   * Sign-ins per client address per window. Without it, a script could mint a fresh session (and
   * so a fresh post allowance) for every message.
   * @defaultValue 10 per minute
   */
  signInLimit?: RateLimit
  logger?: FastifyServerOptions['logger']
}

export async function buildChat ({
  retry = 1000,
  retain = 1000,
  redis,
  sessions: sessionOptions,
  postLimit = { max: 10, timeWindow: 10_000 },
  signInLimit = { max: 10, timeWindow: 60_000 },
  logger = process.env.NODE_ENV !== 'test'
}: ChatOptions = {}) {
  // Behind a proxy, also set `trustProxy`, so that request.ip (the sign-in limit's key) is the
  // client's address and not the proxy's.
  const app = Fastify({ logger })
  await app.register(ssePlugin, { retry, hub: { retain, redis } })
  const sessions = createSessions(sessionOptions)
  await app.register(sessions.plugin)
  // Limits only the routes that ask (`config.rateLimit`). With Redis, the counts are shared by all
  // instances; in memory they are per process, in an LRU cache of bounded size.
  const limits = redis === undefined ? undefined : await connectRedis(redis, app.log)
  if (limits !== undefined) app.addHook('onClose', async () => { await limits.quit() })
  await app.register(rateLimit, { global: false, ...(limits === undefined ? {} : { redis: limits }) })
  const room = app.sse.topic('chat:lobby', { events })

  const page = await readFile(new URL('./index.html', import.meta.url), 'utf8')
  app.get('/', (_request, reply) => reply.type('text/html; charset=utf-8').send(page))

  // Who am I: the page asks on load, since it cannot read the HttpOnly cookie.
  app.get('/session', { onRequest: requireUser }, async (request) => publicUser(request.user!))

  // "Sign in" takes any name: it stands in for your real login (password, passkey, OAuth…). What
  // matters is what follows: the server issues the session, and from then on it says who posts.
  app.post('/session', {
    schema: { body: SignInBody },
    config: { rateLimit: signInLimit }
  }, async (request) => {
    const { name } = request.body as Static<typeof SignInBody>
    return publicUser(sessions.signIn(request, name))
  })

  app.delete('/session', async (request, reply) => {
    sessions.signOut(request)
    return reply.code(204).send()
  })

  app.post('/messages', {
    // 401 before anything else: no session, no rate-limit bucket, no body parsing.
    onRequest: requireUser,
    // The limit is per user (their session's id), not per address: people behind one NAT or
    // proxy do not share one allowance. The sign-in limit keeps sessions from being free.
    config: { rateLimit: { ...postLimit, keyGenerator: (request) => request.user?.id ?? request.ip } },
    // Fastify's default is 1 MiB; a message needs a few KiB at most.
    bodyLimit: 8 * 1024,
    schema: { body: PostBody }
  }, async (request, reply) => {
    const { text } = request.body as Static<typeof PostBody>
    const user = request.user!
    // Resolves once the hub has stored it (on Redis: once Redis has it), with its id.
    const id = await room.publish({ data: { from: user.name, fromId: user.id, text, at: new Date().toISOString() } })
    return reply.code(201).send({ id })
  })

  // Replays what the client missed after its Last-Event-ID (header, or `lastEventId` query
  // parameter after a reload), then follows the room live, until the session must be checked
  // again: then the stream ends, and the browser reconnects at once (after `retry`) with its
  // Last-Event-ID. That request renews the session, or gets 401 if it has ended, which tells
  // EventSource to stop. A stream never outlives its session.
  app.get('/events', { onRequest: requireUser }, (request, reply) => {
    sessions.renewOnStream(request, reply)
    return reply.sse(endAt(room.subscribe(), request.user!.recheckBy))
  })
  return app
}

/** What the page may know of the user (not the session's timings other than its end). */
function publicUser ({ id, name, expiresAt }: { id: string, name: string, expiresAt: number }) {
  return { id, name, expiresAt: new Date(expiresAt).toISOString() }
}

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined }

/**
 * A topic's source that ends at `deadline` (ms since the epoch). The subscription is made first,
 * as the topic's own source does, so the room is followed before the response starts.
 */
function endAt<T> (source: (context: SseContext) => Promise<AsyncIterable<T>>, deadline: number) {
  return async (context: SseContext) => until(await source(context), deadline, context.signal)
}

/**
 * Yields from `frames` until `deadline`. It waits for the next frame and the deadline at once,
 * so it ends on time even in a quiet room; ending, it ends the subscription (return()).
 */
async function * until<T> (frames: AsyncIterable<T>, deadline: number, signal: AbortSignal): AsyncGenerator<T> {
  const iterator = frames[Symbol.asyncIterator]()
  // The stream's signal aborts when the client leaves or the server closes: the wait ends too.
  const timeUp = sleep(Math.max(0, deadline - Date.now()), DONE, { signal }).catch(() => DONE)
  try {
    for (;;) {
      const next = await Promise.race([iterator.next(), timeUp])
      if (next.done === true) return
      yield next.value
    }
  } finally {
    await iterator.return?.()
  }
}

/** The rate limiter's Redis connection: a request fails fast while Redis is away, rather than wait. */
async function connectRedis (url: string, log: FastifyBaseLogger) {
  // Imported only when asked for, like the hub does: ioredis is needed only with REDIS_URL.
  const { Redis } = await import('ioredis')
  const client = new Redis(url, { connectTimeout: 500, maxRetriesPerRequest: 1 })
  // Without a listener, ioredis prints every failed reconnect as an unhandled error.
  client.on('error', (err) => log.warn({ err }, 'rate limit: Redis unreachable (posts fail until it is back)'))
  return client
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const key = process.env.SESSION_KEY?.split(',')
  const app = await buildChat({ redis: process.env.REDIS_URL, sessions: { key } })
  await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? 'localhost' })
}
