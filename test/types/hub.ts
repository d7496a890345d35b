// Compiled by `npm run typecheck`, never run: the hub's filters are typed by their topics' maps,
// in `topic.subscribe({ filter })` and in each topic of `fastify.sse.subscribe([...])`.
import Fastify from 'fastify'
import { Type } from '@sinclair/typebox'
import ssePlugin, { type HubResetData, type TopicEvent, type TopicFilter } from '../../src/index.js'
import type { Equal, Expect } from './helpers.js'

const orderEvents = { order: Type.Object({ status: Type.String(), userId: Type.String() }) }
const feedEvents = { news: Type.Object({ text: Type.String() }), shout: Type.String() }

// One member per event name, discriminated by `event`.
export type Order = Expect<Equal<TopicEvent<typeof orderEvents>, { topic: string, id: string, event: 'order', data: { readonly status: string, readonly userId: string } }>>
export type Shout = Expect<Equal<Extract<TopicEvent<typeof feedEvents>, { event: 'shout' }>['data'], string>>
// An untyped topic's events are untyped.
export type Untyped = Expect<Equal<TopicEvent, { topic: string, id: string, event: string, data: unknown }>>
export type Filter = Expect<Equal<Parameters<TopicFilter<typeof orderEvents>>[0], TopicEvent<typeof orderEvents>>>
export type ResetTopic = Expect<Equal<HubResetData['topic'], string | undefined>>

export async function routes (): Promise<void> {
  const app = Fastify()
  await app.register(ssePlugin)
  const orders = app.sse.topic('orders', { events: orderEvents })
  const feed = app.sse.topic('feed', { events: feedEvents })
  const anything = app.sse.topic('anything')

  app.get('/orders', (request, reply) => reply.sse(orders.subscribe({ filter: ({ data }) => data.userId === request.id, from: 'oldest' })))
  // @ts-expect-error an order has no `text`
  orders.subscribe({ filter: ({ data }) => data.text === 'x' })
  // @ts-expect-error a filter decides synchronously
  orders.subscribe({ filter: async () => true })
  // @ts-expect-error from is 'newest' or 'oldest'
  orders.subscribe({ from: 'start' })
  feed.subscribe({
    filter: event => event.event === 'shout' ? event.data.startsWith('!') : event.data.text.length > 0
  })
  anything.subscribe({ filter: ({ data }) => data !== null })

  // Each topic of a merged stream filters by its own map.
  app.get('/dashboard', (request, reply) => reply.sse(app.sse.subscribe([
    { topic: orders, filter: ({ data }) => data.userId === request.id },
    feed,
    { topic: anything }
  ], { from: 'newest' })))
  // @ts-expect-error the feed's events have no userId
  app.sse.subscribe([orders, { topic: feed, filter: ({ data }) => data.userId === 'u' }])
  // @ts-expect-error a topic, not its name
  app.sse.subscribe(['orders'])
  // @ts-expect-error from is 'newest' or 'oldest'
  app.sse.subscribe([orders], { from: 'latest' })
}
