// A shop's customer dashboard on one event stream: `npm run example:dashboard`, then open
// http://localhost:3000 in two browsers (or a private window), sign in as two people, place orders.
// Three topics, one EventSource:
// - `orders`: every order's updates, one topic for the whole shop; each customer's stream is
//   filtered to their own orders, by the customer id from their signed cookie;
// - `news`: the shop's announcements, for everyone;
// - `service`: the service's status, for everyone.
// A reload resumes every topic exactly where the tab was: the stream's Last-Event-ID holds a
// position per topic. A topic that cannot resume gets its own `reset`, and the page refetches just
// that topic's state.
//
// What to copy from it: who the customer is comes from a cookie the server signed, never from
// the query or the body; the filter decides from that.
import Fastify, { type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import cookie from '@fastify/cookie'
import { Type, type Static } from '@sinclair/typebox'
import { randomBytes, randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import ssePlugin from 'fastify-typed-sse'

export const orderEvents = {
  order: Type.Object({
    orderId: Type.String(),
    /** Whose order: the filter compares it with the signed-in customer. */
    customerId: Type.String(),
    item: Type.String(),
    status: Type.Union([Type.Literal('placed'), Type.Literal('packed'), Type.Literal('shipped')])
  })
}
export const newsEvents = { news: Type.Object({ text: Type.String(), at: Type.String() }) }
export const serviceEvents = {
  service: Type.Object({ level: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]), text: Type.String() })
}

type Order = Static<typeof orderEvents.order>
interface Customer { id: string, name: string }

const SignInBody = Type.Object({ name: Type.String({ minLength: 1, maxLength: 40, pattern: '^[^\\p{C}]+$' }) }, { additionalProperties: false })
const OrderBody = Type.Object({ item: Type.String({ minLength: 1, maxLength: 80 }) }, { additionalProperties: false })

export interface DashboardOptions {
  /** Signs the customer cookie. @defaultValue random: sign-ins end when the server restarts */
  cookieSecret?: string
  /** Milliseconds between an order's steps (placed, packed, shipped); `undefined`: it stays placed. */
  progressEvery?: number | undefined
  retry?: number
  /** Events each topic keeps for tabs that come back. @defaultValue 1000 */
  retain?: number
  redis?: string | undefined
  logger?: FastifyServerOptions['logger']
}

export async function buildDashboard ({
  cookieSecret = randomBytes(32).toString('base64'),
  progressEvery,
  retry = 1000,
  retain = 1000,
  redis,
  logger = process.env.NODE_ENV !== 'test'
}: DashboardOptions = {}) {
  const app = Fastify({ logger })
  await app.register(cookie, { secret: cookieSecret })
  await app.register(ssePlugin, { retry, hub: { retain, redis } })
  const orders = app.sse.topic('shop:orders', { events: orderEvents })
  const news = app.sse.topic('shop:news', { events: newsEvents })
  const service = app.sse.topic('shop:service', { events: serviceEvents })
  // The state a page refetches after a reset of the orders topic. (In memory for the example; a
  // real shop reads its database.)
  const placed = new Map<string, Order>()
  const timers = new Set<NodeJS.Timeout>()
  app.addHook('onClose', async () => { for (const timer of timers) clearTimeout(timer) })

  const page = await readFile(new URL('./index.html', import.meta.url), 'utf8')
  app.get('/', (_request, reply) => reply.type('text/html; charset=utf-8').send(page))

  // "Sign in" takes any name: it stands for your real login. The cookie is signed, so a client can
  // neither make one up nor change the customer id in it.
  app.post('/session', { schema: { body: SignInBody } }, async (request, reply) => {
    const customer: Customer = { id: randomUUID(), name: (request.body as Static<typeof SignInBody>).name }
    reply.setCookie('customer', JSON.stringify(customer), { signed: true, httpOnly: true, sameSite: 'strict', path: '/' })
    return customer
  })
  app.get('/session', { onRequest: requireCustomer }, async request => customerOf(request))

  app.get('/orders', { onRequest: requireCustomer }, async request => {
    const { id } = customerOf(request)!
    return [...placed.values()].filter(order => order.customerId === id)
  })

  app.post('/orders', { onRequest: requireCustomer, schema: { body: OrderBody } }, async (request, reply) => {
    const order: Order = { orderId: randomUUID().slice(0, 8), customerId: customerOf(request)!.id, item: (request.body as Static<typeof OrderBody>).item, status: 'placed' }
    const update = async (status: Order['status']): Promise<void> => {
      order.status = status
      placed.set(order.orderId, { ...order })
      await orders.publish({ event: 'order', data: { ...order } })
    }
    await update('placed')
    if (progressEvery !== undefined) {
      const steps: Array<Order['status']> = ['packed', 'shipped']
      const next = (): void => {
        const timer = setTimeout(() => {
          timers.delete(timer)
          update(steps.shift()!).then(() => { if (steps.length > 0) next() }, err => app.log.error({ err }, 'order update failed'))
        }, progressEvery)
        timers.add(timer)
      }
      next()
    }
    return reply.code(201).send(order)
  })

  // One stream, three topics. The customer comes from the signed cookie; the filter keeps their
  // own orders out of everyone else's stream, on replay as well as live.
  app.get('/events', { onRequest: requireCustomer }, (request, reply) => {
    const { id } = customerOf(request)!
    return reply.sse(app.sse.subscribe([
      { topic: orders, filter: ({ data }) => data.customerId === id },
      news,
      service
    ]))
  })
  return app
}

/** The customer of the signed cookie, or null (no cookie, or one that fails its signature). */
function customerOf (request: FastifyRequest): Customer | null {
  const raw = request.cookies.customer
  if (raw === undefined) return null
  const unsigned = request.unsignCookie(raw)
  return unsigned.valid && unsigned.value !== null ? JSON.parse(unsigned.value) as Customer : null
}

async function requireCustomer (request: FastifyRequest, reply: FastifyReply): Promise<void> {
  // 401 before the stream starts: EventSource stops for good, and the page shows the sign-in form.
  if (customerOf(request) === null) await reply.code(401).send({ message: 'sign in first' })
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const app = await buildDashboard({ progressEvery: 4000, redis: process.env.REDIS_URL, cookieSecret: process.env.COOKIE_SECRET })
  await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? 'localhost' })
  // The demo's own news and service status, now and then.
  const news = app.sse.topic('shop:news', { events: newsEvents })
  const service = app.sse.topic('shop:service', { events: serviceEvents })
  let n = 0
  const ticker = setInterval(() => {
    n++
    const published = n % 3 === 0
      ? service.publish({ event: 'service', data: n % 2 === 0 ? { level: 'ok', text: 'All systems normal' } : { level: 'degraded', text: 'Payments are slow' } })
      : news.publish({ event: 'news', data: { text: `Deal #${n}: 10% off today`, at: new Date().toISOString() } })
    published.catch(err => app.log.error({ err }, 'demo publish failed'))
  }, 7000)
  app.addHook('onClose', async () => clearInterval(ticker))
}
