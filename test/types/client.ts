// Compiled by `npm run typecheck`, never run. Every `@ts-expect-error` line must fail to
// compile: if the typing breaks and lets it through, tsc reports the unused directive.
import { Type } from '@sinclair/typebox'
import { sseClient, type ClientEvent, type ClosedReason, type SseClient, type SseClientError, type SseClientStatus, type UntypedClientEvent } from '../../src/client/index.js'
import { collectEvents } from '../../src/testing/index.js'
import type { Equal, Expect } from './helpers.js'

const events = {
  message: Type.String(),
  tick: Type.Object({ n: Type.Integer(), tags: Type.Array(Type.String()) }),
  end: Type.Object({ reason: Type.String() })
}

// The yielded union: one member per event name, discriminated by `event`.
export type Tick = Expect<Equal<Extract<ClientEvent<typeof events>, { event: 'tick' }>['data'], { n: number, tags: string[] }>>
export type Unnamed = Expect<Equal<Extract<ClientEvent<typeof events>, { event: 'message' }>['data'], string>>
export type Names = Expect<Equal<ClientEvent<typeof events>['event'], 'message' | 'tick' | 'end'>>
export type Id = Expect<Equal<ClientEvent<typeof events>['id'], string | undefined>>

export const typed = sseClient('/stream', { events, signal: AbortSignal.timeout(1000), credentials: 'include', headers: { authorization: 'Bearer x' } })
export type Typed = Expect<Equal<typeof typed, SseClient<ClientEvent<typeof events>>>>
export type LastId = Expect<Equal<typeof typed.lastEventId, string | undefined>>

// An inline map infers just as well as a constant one.
export const inline = sseClient(new URL('http://127.0.0.1/s'), { events: { token: Type.String() } })
export type Inline = Expect<Equal<typeof inline, SseClient<{ event: 'token', data: string, id: string | undefined }>>>

// Without a map, events are untyped.
export const untyped = sseClient('/stream')
export type Untyped = Expect<Equal<typeof untyped, SseClient<UntypedClientEvent>>>

export async function consume (): Promise<void> {
  for await (const ev of typed) {
    if (ev.event === 'tick') {
      const n: number = ev.data.n
      const tags: string[] = ev.data.tags
      // @ts-expect-error a tick has no `reason`
      console.log(n, tags, ev.data.reason)
    } else if (ev.event === 'end') {
      const reason: string = ev.data.reason
      console.log(reason)
    } else {
      const text: string = ev.data
      // @ts-expect-error a message's data is a string, not a number
      const wrong: number = ev.data
      console.log(text, wrong)
    }
    // @ts-expect-error 'tock' is not an event of the map
    if (ev.event === 'tock') console.log('never')
  }
  for await (const ev of untyped) {
    const data: unknown = ev.data
    // @ts-expect-error untyped data must be narrowed before use
    console.log(data.anything)
  }
}

sseClient('/s', {
  events,
  onInvalidEvent: (error) => {
    const check: Expect<Equal<typeof error, SseClientError>> = true
    console.log(check, error.code, error.event, error.path)
  },
  onReconnect: ({ attempt, delay, lastEventId }) => console.log(attempt + delay, lastEventId),
  fetch: (input, init) => fetch(input, init)
})

// @ts-expect-error `retry` is a number of milliseconds
sseClient('/s', { events, retry: '3s' })
// @ts-expect-error `heartbeatTimeout` is a number of milliseconds
sseClient('/s', { events, heartbeatTimeout: '45s' })

// The status is a union a page can switch on; each state has its own fields.
export function render (status: SseClientStatus): string {
  switch (status.state) {
    case 'connecting': return `connecting (attempt ${status.attempt})`
    case 'open':
      // @ts-expect-error an open connection has no delay
      return `open ${status.delay}`
    case 'reconnecting': {
      const error: SseClientError | undefined = status.error
      return `reconnecting in ${Math.ceil((status.at - Date.now()) / 1000)} s, attempt ${status.attempt} after ${status.delay} ms (${error?.code ?? 'clean end'}) from ${status.lastEventId ?? 'the start'}`
    }
    case 'closed': {
      const reason: ClosedReason = status.reason
      // @ts-expect-error 'stopped' is not a reason
      if (reason === 'stopped') return ''
      return `closed: ${reason}`
    }
  }
}
export type Reasons = Expect<Equal<ClosedReason, 'initial' | 'done' | 'aborted' | 'ended' | 'error'>>
export type ClientStatus = Expect<Equal<typeof typed.status, SseClientStatus>>
sseClient('/s', {
  events,
  minRetryDelay: 500,
  maxRetryDelay: 30_000,
  maxRetryAfter: 300_000,
  heartbeatTimeout: 0,
  maxEventSize: 1 << 20,
  onComment: (text) => { const check: Expect<Equal<typeof text, string>> = true; console.log(check) },
  onStatus: (status) => console.log(render(status))
})
// @ts-expect-error an event map holds TypeBox schemas
sseClient('/s', { events: { tick: 'not a schema' } })
// @ts-expect-error the URL is required
sseClient({ events })

// The test helper is typed by the same map.
export async function helper (app: import('fastify').FastifyInstance): Promise<void> {
  const result = await collectEvents(app, '/stream', { events, until: 'end' })
  const check: Expect<Equal<typeof result.events, Array<ClientEvent<typeof events>>>> = true
  const byPredicate = await collectEvents('http://127.0.0.1:3000', '/stream', { events, until: ev => ev.event === 'tick' && ev.data.n > 2 })
  const untypedResult = await collectEvents(app, '/stream', { count: 2 })
  const untypedCheck: Expect<Equal<typeof untypedResult.events, UntypedClientEvent[]>> = true
  console.log(check, result.endedBy, byPredicate.endedBy, untypedCheck, untypedResult.lastEventId)
  // @ts-expect-error 'tock' is not an event of the map
  await collectEvents(app, '/stream', { events, until: 'tock' })
  // @ts-expect-error a tick's data has no `reason`
  await collectEvents(app, '/stream', { events, until: ev => ev.event === 'tick' && ev.data.reason === 'x' })
}
