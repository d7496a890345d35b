// A page on one origin reading a stream from an API on another, with a cookie:
// `npm run example:cross-origin`, then open http://localhost:3000 (the page); the API is on
// http://localhost:3001. A different port is a different origin, so CORS applies; it is the same
// site, so a `SameSite=Lax` cookie set by the API is sent with the page's credentialed requests.
// (Across sites the cookie would need `SameSite=None; Secure`, hence HTTPS.)
import Fastify from 'fastify'
import cors from '@fastify/cors'
import { Type } from '@sinclair/typebox'
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import ssePlugin from 'fastify-typed-sse'

const events = {
  // Proof that the stream request carried the cookie: who it belongs to, and a tag of it.
  welcome: Type.Object({ name: Type.String(), sessionTag: Type.String() }),
  tick: Type.Object({ n: Type.Integer({ minimum: 1 }) })
}

export interface ApiOptions {
  /** The one origin allowed to read the API with credentials, e.g. `http://localhost:3000`. */
  pageOrigin: string
  tickMs?: number
  logger?: boolean
}

/** The API: sets a session cookie, and streams to whoever presents it. */
export async function buildApi ({ pageOrigin, tickMs = 1000, logger = process.env.NODE_ENV !== 'test' }: ApiOptions) {
  const app = Fastify({ logger })
  // With credentials, the browser rejects `Access-Control-Allow-Origin: *`: the allowed origin
  // must be named, and `Access-Control-Allow-Credentials: true` sent. Never reflect any origin
  // here (`origin: true`): that would let every site read this user's stream.
  await app.register(cors, { origin: pageOrigin, credentials: true, methods: ['GET', 'POST'] })
  await app.register(ssePlugin, { retry: 2000 })
  const sessions = new Map<string, string>()

  app.post('/session', {
    schema: { body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 40 }) }) }
  }, async (request, reply) => {
    const { name } = request.body as { name: string }
    const session = randomBytes(16).toString('hex')
    sessions.set(session, name)
    // HttpOnly: the page's script cannot read it; only requests to this API carry it.
    reply.header('set-cookie', `session=${session}; Path=/; HttpOnly; SameSite=Lax`)
    return { name }
  })

  app.get('/events', { sse: { events } }, async function * (request, _reply, { signal }) {
    const session = readCookie(request.headers.cookie, 'session')
    const name = session === undefined ? undefined : sessions.get(session)
    if (session === undefined || name === undefined) {
      // Before the first event this is a plain 401, and EventSource gives up instead of retrying.
      throw Object.assign(new Error('no session cookie: sign in, and open the stream with withCredentials'), { statusCode: 401 })
    }
    yield { event: 'welcome', data: { name, sessionTag: session.slice(0, 8) } }
    for (let n = 1; ; n++) {
      await sleep(tickMs, undefined, { signal })
      yield { event: 'tick', data: { n } }
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
export async function startCrossOrigin ({ host = 'localhost', pagePort = 3000, apiPort = 3001, tickMs, logger }: {
  host?: string, pagePort?: number, apiPort?: number, tickMs?: number, logger?: boolean
} = {}) {
  let apiUrl = ''
  const page = await buildPage({ apiUrl: () => apiUrl, ...(logger === undefined ? {} : { logger }) })
  await page.listen({ port: pagePort, host })
  const pageUrl = urlOf(host, page.server.address())
  const api = await buildApi({ pageOrigin: pageUrl, ...(tickMs === undefined ? {} : { tickMs }), ...(logger === undefined ? {} : { logger }) })
  await api.listen({ port: apiPort, host })
  apiUrl = urlOf(host, api.server.address())
  return { page, api, pageUrl, apiUrl }
}

function urlOf (host: string, address: ReturnType<import('node:net').Server['address']>): string {
  if (address === null || typeof address === 'string') throw new Error('expected a TCP address')
  return `http://${host}:${address.port}`
}

/** One cookie's value from a Cookie header (no dependency needed for one name). */
function readCookie (header: string | undefined, name: string): string | undefined {
  for (const pair of header?.split(';') ?? []) {
    const [key, ...value] = pair.trim().split('=')
    if (key === name) return value.join('=')
  }
  return undefined
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { pageUrl, apiUrl } = await startCrossOrigin({ host: process.env.HOST ?? 'localhost' })
  console.log(`page: ${pageUrl}  (open this one)\napi:  ${apiUrl}`)
}
