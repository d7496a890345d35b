// A page on one origin reading a stream from an API on another, with a cookie:
// `npm run example:cross-origin`, then open http://localhost:3000 (the page); the API is on
// http://localhost:3001. A different port is a different origin, so CORS applies; it is the same
// site, so a `SameSite=Lax` cookie set by the API is sent with the page's credentialed requests.
// (Across sites the cookie would need `SameSite=None; Secure`, hence HTTPS.)
//
// The session is sealed into the cookie itself (@fastify/secure-session: encrypted and
// authenticated with a server key), so the API keeps nothing per session: there is no table that
// a flood of sign-ins could grow. It ends `sessionLifetime` after sign-in: the stream ends then,
// and the browser's reconnect, carrying the now expired cookie, gets a 401. (The chat example also
// shows an idle timeout, rate limits, and why a stateless session cannot be revoked early.)
import Fastify, { type FastifyRequest } from 'fastify'
import cookie from '@fastify/cookie'
import cors from '@fastify/cors'
import secureSession from '@fastify/secure-session'
import { Type } from '@sinclair/typebox'
import { randomBytes, randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import ssePlugin from 'fastify-typed-sse'

const events = {
  // Proof that the stream request carried the cookie: who it belongs to, and a tag of it.
  welcome: Type.Object({
    name: Type.String(),
    /** The start of the session's id, to show which session the stream saw. */
    sessionTag: Type.String(),
    /** When the session (and so the stream) ends, ISO 8601. */
    expiresAt: Type.String()
  }),
  tick: Type.Object({ n: Type.Integer({ minimum: 1 }) })
}

export interface ApiOptions {
  /** The one origin allowed to read the API with credentials, e.g. `http://localhost:3000`. */
  pageOrigin: string
  tickMs?: number
  /**
   * Milliseconds after sign-in after which the session ends.
   * @defaultValue 3_600_000 (one hour)
   */
  sessionLifetime?: number
  /**
   * 32-byte keys (base64 or Buffers) that seal the session cookie; the first seals, all open.
   * @defaultValue a random key (sessions end when the API restarts)
   */
  sessionKey?: string | Buffer | Array<string | Buffer> | undefined
  logger?: boolean
}

declare module '@fastify/secure-session' {
  interface SessionData {
    sessionId: string
    name: string
    /** When the user signed in (ms since the epoch). */
    signedInAt: number
  }
}

/** The API: sets a session cookie, and streams to whoever presents a live one. */
export async function buildApi ({
  pageOrigin, tickMs = 1000, sessionLifetime = 3600_000, sessionKey, logger = process.env.NODE_ENV !== 'test'
}: ApiOptions) {
  const app = Fastify({ logger })
  // With credentials, the browser rejects `Access-Control-Allow-Origin: *`: the allowed origin
  // must be named, and `Access-Control-Allow-Credentials: true` sent. Never reflect any origin
  // here (`origin: true`): that would let every site read this user's stream.
  await app.register(cors, { origin: pageOrigin, credentials: true, methods: ['GET', 'POST'] })
  await app.register(cookie)
  // HttpOnly: the page's script cannot read it; only requests to this API carry it. `expiry`
  // (seconds since sealed) is the library's backstop; the check in liveSession is the real one.
  await app.register(secureSession, {
    key: sessionKey ?? randomBytes(32),
    cookieName: 'session',
    expiry: Math.ceil(sessionLifetime / 1000) + 1,
    cookie: { path: '/', httpOnly: true, sameSite: 'lax', secure: 'auto' }
  })
  await app.register(ssePlugin, { retry: 2000 })

  /** The request's session if it has one that has not ended. */
  const liveSession = (request: FastifyRequest) => {
    const [id, name, signedInAt] = [request.session.get('sessionId'), request.session.get('name'), request.session.get('signedInAt')]
    if (id === undefined || name === undefined || signedInAt === undefined) return undefined
    const expiresAt = signedInAt + sessionLifetime
    return Date.now() < expiresAt ? { id, name, expiresAt } : undefined
  }

  app.post('/session', {
    schema: { body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 40 }) }) }
  }, async (request) => {
    const { name } = request.body as { name: string }
    const signedInAt = Date.now()
    // A new session whatever the request came with: nothing of an earlier one carries over.
    request.session.regenerate()
    request.session.set('sessionId', randomUUID())
    request.session.set('name', name)
    request.session.set('signedInAt', signedInAt)
    // Max-Age: the browser drops the cookie when the API would refuse it anyway.
    request.session.options({ path: '/', httpOnly: true, sameSite: 'lax', secure: request.protocol === 'https', maxAge: Math.ceil(sessionLifetime / 1000) })
    return { name, expiresAt: new Date(signedInAt + sessionLifetime).toISOString() }
  })

  app.get('/events', { sse: { events } }, async function * (request, _reply, { signal }) {
    const session = liveSession(request)
    if (session === undefined) {
      // Before the first event this is a plain 401, and EventSource gives up instead of retrying.
      throw Object.assign(new Error('no live session cookie: sign in, and open the stream with withCredentials'), { statusCode: 401 })
    }
    yield { event: 'welcome', data: { name: session.name, sessionTag: session.id.slice(0, 8), expiresAt: new Date(session.expiresAt).toISOString() } }
    // Ticks until the session ends, then the stream ends too: a stream never outlives its
    // session. The browser reconnects, with the expired cookie, and gets the 401 above.
    for (let n = 1; ; n++) {
      const left = session.expiresAt - Date.now()
      if (left <= 0) return
      await sleep(Math.min(tickMs, left), undefined, { signal })
      if (Date.now() < session.expiresAt) yield { event: 'tick', data: { n } }
    }
  })
  return app
}

/** The page's own server, on another origin: serves the page, told where the API is. */
export async function buildPage ({ apiUrl, logger = process.env.NODE_ENV !== 'test' }: { apiUrl: () => string, logger?: boolean }) {
  const app = Fastify({ logger })
  const page = await readFile(new URL('./index.html', import.meta.url), 'utf8')
  app.get('/', (_request, reply) => reply.type('text/html; charset=utf-8').send(page.replace('%API_URL%', apiUrl())))
  return app
}

/**
 * Starts both: the page first, so that the API can be told the page's origin (with port 0, it is
 * known only once the page listens). Returns both apps and their URLs.
 */
export async function startCrossOrigin ({ host = 'localhost', pagePort = 3000, apiPort = 3001, logger, ...apiOptions }: {
  host?: string, pagePort?: number, apiPort?: number, logger?: boolean
} & Omit<ApiOptions, 'pageOrigin' | 'logger'> = {}) {
  let apiUrl = ''
  const page = await buildPage({ apiUrl: () => apiUrl, ...(logger === undefined ? {} : { logger }) })
  await page.listen({ port: pagePort, host })
  const pageUrl = urlOf(host, page.server.address())
  const api = await buildApi({ pageOrigin: pageUrl, ...apiOptions, ...(logger === undefined ? {} : { logger }) })
  await api.listen({ port: apiPort, host })
  apiUrl = urlOf(host, api.server.address())
  return { page, api, pageUrl, apiUrl }
}

function urlOf (host: string, address: ReturnType<import('node:net').Server['address']>): string {
  if (address === null || typeof address === 'string') throw new Error('expected a TCP address')
  return `http://${host}:${address.port}`
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // SESSION_KEY: 32 random bytes, base64 (`openssl rand -base64 32`), so sessions survive a restart.
  const { pageUrl, apiUrl } = await startCrossOrigin({ host: process.env.HOST ?? 'localhost', sessionKey: process.env.SESSION_KEY?.split(',') })
  console.log(`page: ${pageUrl}  (open this one)\napi:  ${apiUrl}`)
}
