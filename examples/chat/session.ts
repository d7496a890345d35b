// Who is signed in, kept in a cookie that the page's script cannot read and a client cannot forge
// or alter: @fastify/secure-session seals the session data (encrypted and authenticated) with a
// server key. Nothing is stored on the server per session, so there is no table of sessions for a
// flood of sign-ins to grow, and every instance that shares the key (SESSION_KEY) knows the same
// users: the Redis-backed chat can run on several servers.
//
// The price of a stateless session: it cannot be revoked before it expires (signing out clears the
// cookie in that browser only). Hence both limits below, and short ones. If you need "sign out
// everywhere" or bans, keep sessions on the server instead (@fastify/session with a Redis store).
//
// A session ends when the first of these comes:
// - idle timeout: no request has used it for `idleTimeout` ms (each request renews it);
// - absolute lifetime: `lifetime` ms after sign-in, however active it is, so a stolen cookie
//   is worth a bounded time.
import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import cookie from '@fastify/cookie'
import secureSession from '@fastify/secure-session'
import { randomBytes, randomUUID } from 'node:crypto'

declare module '@fastify/secure-session' {
  interface SessionData {
    /** Made at sign-in: who wrote a message, whatever name they chose. */
    userId: string
    name: string
    /** When the user signed in (ms since the epoch): the absolute lifetime counts from here. */
    signedInAt: number
    /** When a request last used the session (ms): the idle timeout counts from here. */
    seenAt: number
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in user, from a live session; `null` if none (or it has expired). */
    user: User | null
  }
}

export interface User {
  id: string
  name: string
  /** When the session ends whatever happens (ms since the epoch). */
  expiresAt: number
  /**
   * By when a response that stays open (the event stream) must end, so that the browser's next
   * request checks the session again and renews it: half the idle timeout from now, or
   * `expiresAt` if that comes first.
   */
  recheckBy: number
}

export interface SessionOptions {
  /**
   * 32-byte keys (base64 or Buffers) that seal the cookie: the first seals, all open, so a new
   * key can be put first while cookies sealed with the old one still work (key rotation).
   * @defaultValue a random key: sessions end when the server restarts, and are not shared
   */
  key?: string | Buffer | Array<string | Buffer> | undefined
  /**
   * Milliseconds without a request after which the session ends.
   * @defaultValue 1_800_000 (30 minutes)
   */
  idleTimeout?: number
  /**
   * Milliseconds after sign-in after which the session ends, used or not.
   * @defaultValue 43_200_000 (12 hours)
   */
  lifetime?: number
}

const COOKIE = 'session'

/**
 * Sessions with these limits: `plugin` to register (it registers @fastify/cookie and
 * @fastify/secure-session, and sets `request.user` on every request), and what the routes call.
 */
export function createSessions ({ key, idleTimeout = 30 * 60_000, lifetime = 12 * 3600_000 }: SessionOptions = {}) {
  for (const [name, value] of Object.entries({ idleTimeout, lifetime })) {
    if (!Number.isInteger(value) || value <= 0) throw new Error(`sessions: ${name} must be a positive whole number of milliseconds, got ${value}`)
  }

  // HttpOnly: no script can read it, so an XSS cannot carry it off. SameSite=Lax: the browser does
  // not send it with another site's POST, so another site cannot post in the user's name (CSRF).
  // Secure whenever the request came over HTTPS (behind a TLS proxy, set Fastify's trustProxy).
  // Max-Age: the browser forgets the cookie when the session would be refused anyway.
  const cookieFor = (request: FastifyRequest, expiresAt: number) => ({
    path: '/', httpOnly: true, sameSite: 'lax' as const, secure: request.protocol === 'https', maxAge: Math.ceil((expiresAt - Date.now()) / 1000)
  })
  const userOf = (userId: string, name: string, signedInAt: number, now: number): User => {
    const expiresAt = signedInAt + lifetime
    return { id: userId, name, expiresAt, recheckBy: Math.min(expiresAt, now + idleTimeout / 2) }
  }

  const plugin = fp(async function sessions (fastify) {
    await fastify.register(cookie)
    const sealKey = key ?? randomBytes(32)
    if (key === undefined) fastify.log.warn('sessions: no key given (SESSION_KEY): sessions end on restart, and servers do not share them')
    // `expiry` (seconds) is the library's own limit on a cookie's age since it was last sealed.
    // The checks below are the real ones, in milliseconds; this backstop never comes sooner.
    await fastify.register(secureSession, {
      key: sealKey, cookieName: COOKIE, expiry: Math.ceil(lifetime / 1000) + 1, cookie: { path: '/', httpOnly: true, sameSite: 'lax', secure: 'auto' }
    })

    fastify.decorateRequest('user', null)
    // Runs after secure-session's own onRequest hook, which opened the cookie into request.session.
    fastify.addHook('onRequest', async (request) => {
      const session = request.session
      const [userId, name, signedInAt, seenAt] = [session.get('userId'), session.get('name'), session.get('signedInAt'), session.get('seenAt')]
      // An empty session (no cookie, or one that failed to open) has none of these.
      if (userId === undefined || name === undefined || signedInAt === undefined || seenAt === undefined) return
      const now = Date.now()
      if (now >= signedInAt + lifetime || now >= seenAt + idleTimeout) {
        // Also tells the browser, in this response, to drop the cookie.
        session.delete()
        return
      }
      // Each request renews the idle timeout: the cookie is sealed again and sent in the response.
      session.set('seenAt', now)
      request.user = userOf(userId, name, signedInAt, now)
      session.options(cookieFor(request, request.user.expiresAt))
    })
  }, { fastify: '5.x', name: 'chat-sessions' })

  return {
    plugin,

    /** Starts a new session for `name`, replacing whatever session the request came with. */
    signIn (request: FastifyRequest, name: string): User {
      const now = Date.now()
      const userId = randomUUID()
      // Nothing of an earlier session (or of one planted by someone else) carries over.
      request.session.regenerate()
      request.session.set('userId', userId)
      request.session.set('name', name)
      request.session.set('signedInAt', now)
      request.session.set('seenAt', now)
      request.user = userOf(userId, name, now, now)
      request.session.options(cookieFor(request, request.user.expiresAt))
      return request.user
    },

    /** Ends the session: the response tells the browser to drop the cookie. */
    signOut (request: FastifyRequest): void {
      request.user = null
      request.session.delete()
    },

    /**
     * An event stream is taken over from Fastify (hijacked) before any onSend hook runs, and
     * onSend is where the renewed cookie is written. So a stream route puts the cookie in the
     * headers itself, or a tab that only reads would never renew its session.
     */
    renewOnStream (request: FastifyRequest, reply: FastifyReply): void {
      if (request.user === null) return
      const app = request.server
      reply.header('set-cookie', app.serializeCookie(COOKIE, app.encodeSecureSession(request.session), cookieFor(request, request.user.expiresAt)))
    }
  }
}

/** An onRequest hook for routes that need a signed-in user: 401 without a live session. */
export async function requireUser (request: FastifyRequest): Promise<void> {
  if (request.user === null) {
    throw Object.assign(new Error('not signed in, or the session has ended: sign in again (POST /session)'), { statusCode: 401 })
  }
}
