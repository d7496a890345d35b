// Reconnection: the `retry` option, and Last-Event-ID (header or query) handed to the source.
import t from 'tap'
import { EventSource } from 'eventsource'
import { Type } from '@sinclair/typebox'
import { startApp, until } from './helpers/server.js'
import { rawGet } from './helpers/raw.js'

const events = { tick: Type.Object({ n: Type.Integer() }), message: Type.String() }

t.test('EventSource reconnects with Last-Event-ID and the source resumes after it', async t => {
  const resumedFrom: Array<string | undefined> = []
  const { url } = await startApp(t, app => {
    app.get('/clock', (_request, reply) => reply.sse(async function * ({ lastEventId }) {
      resumedFrom.push(lastEventId)
      const from = lastEventId === undefined ? 0 : Number(lastEventId) + 1
      // Each connection sends three ticks and ends: the browser reconnects by itself.
      for (let n = from; n < from + 3 && n < 7; n++) yield { event: 'tick', id: n, data: { n } }
      if (from >= 7) yield { data: 'done' }
    }, { events, retry: 10 }))
  })
  const source = new EventSource(`${url}/clock`)
  t.teardown(() => source.close())
  const ticks: number[] = []
  const messages: string[] = []
  source.addEventListener('tick', event => ticks.push(JSON.parse(event.data).n))
  source.onmessage = event => { messages.push(event.data); source.close() }
  await until(() => messages.length > 0, 'the done message')
  t.same(ticks, [0, 1, 2, 3, 4, 5, 6], 'no tick lost or repeated across reconnects')
  t.same(resumedFrom, [undefined, '2', '5', '6'])
  t.same(messages, ['done'])
})

t.test('the retry option is sent first, before any event', async t => {
  const { port } = await startApp(t, app => {
    app.get('/s', (_request, reply) => reply.sse([{ data: 'x' }], { retry: 2500 }))
  })
  const response = await rawGet(port, '/s')
  await response.ended
  t.equal(response.body(), 'retry: 2500\n\ndata: x\n\n')
})

t.test('a lastEventId query parameter is used when there is no header; the header wins', async t => {
  const seen: Array<string | undefined> = []
  const { port } = await startApp(t, app => {
    app.get('/s', (_request, reply) => reply.sse(({ lastEventId }) => { seen.push(lastEventId); return [] }))
  })
  await (await rawGet(port, '/s?lastEventId=41')).ended
  await (await rawGet(port, '/s?lastEventId=41', { 'last-event-id': '42' })).ended
  await (await rawGet(port, '/s')).ended
  t.same(seen, ['41', '42', undefined])
})

t.test('a Last-Event-ID that is too long or holds NUL is ignored and logged', async t => {
  const seen: Array<string | undefined> = []
  const { port, logs } = await startApp(t, app => {
    app.get('/s', (_request, reply) => reply.sse(({ lastEventId }) => { seen.push(lastEventId); return [] }, { maxLastEventIdLength: 8 }))
  })
  await (await rawGet(port, '/s', { 'last-event-id': '123456789' })).ended
  await (await rawGet(port, '/s?lastEventId=a%00b')).ended
  await (await rawGet(port, '/s', { 'last-event-id': '12345678' })).ended
  t.same(seen, [undefined, undefined, '12345678'])
  t.equal(logs.filter(line => line.msg === 'fastify-typed-sse: ignored an invalid or too long Last-Event-ID').length, 2)
})
