// Hub behaviour of round 2, part of the conformance suite (test/hub-conformance.ts calls it, so it
// runs unchanged on every backend): replay of everything retained, per-subscriber filters, and
// several topics merged in one stream with exact resume per topic.
import type { Test } from 'tap'
import { Type } from '@sinclair/typebox'
import type { HubOptions } from '../src/index.js'
import { rawGet, type RawResponse } from './helpers/raw.js'
import { startApp } from './helpers/server.js'

export interface HubUnderTest {
  /** Hub options for a fresh hub that shares nothing with the other tests. */
  hub (options?: HubOptions): HubOptions
}

const events = {
  message: Type.Object({ from: Type.String(), text: Type.String() })
}

/** The texts of the events received so far. */
function texts (response: RawResponse): string[] {
  return response.events.map(event => event.event === 'reset' ? `reset:${JSON.parse(event.data).reason}` : JSON.parse(event.data).text)
}

export function mergeConformance (t: Test, backend: HubUnderTest): void {
  t.test('Last-Event-ID 0-0 (header or query) replays every retained event', async t => {
    const { app, port } = await startApp(t, app => {
      const room = app.sse.topic('room', { events })
      app.get('/room', (_request, reply) => reply.sse(room.subscribe()))
    }, { plugin: { hub: backend.hub({ retain: 3 }) } })
    const room = app.sse.topic('room', { events })
    const only = await room.publish({ data: { from: 'ann', text: 'only' } })
    const first = await rawGet(port, '/room', { 'last-event-id': '0-0' })
    t.teardown(() => first.close())
    await first.waitFor(() => first.events.length === 1, 'the only event')
    t.same(first.events, [{ event: undefined, id: only, data: '{"from":"ann","text":"only"}' }], 'the one retained event, not a reset')
    // More than `retain` published: 0-0 asks for what is kept, so the oldest being gone is no reset.
    const ids = [only]
    for (const text of ['b', 'c', 'd', 'e']) ids.push(await room.publish({ data: { from: 'ann', text } }))
    const all = await rawGet(port, '/room?lastEventId=0-0')
    t.teardown(() => all.close())
    await all.waitFor(() => all.events.length === 3, 'the retained events')
    const next = await room.publish({ data: { from: 'ann', text: 'f' } })
    await all.waitFor(() => all.events.length === 4, 'the live event')
    t.same(all.events.map(event => event.id), [...ids.slice(2), next])
    t.same(texts(all), ['c', 'd', 'e', 'f'])
  })
}
