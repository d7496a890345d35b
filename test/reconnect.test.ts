// Reconnection: the `retry` option, and Last-Event-ID (header or query) handed to the source,
// non-ASCII ids included, with a real browser reconnecting.
import t from 'tap'
import { EventSource } from 'eventsource'
import { Type } from '@sinclair/typebox'
import { startApp, until } from './helpers/server.js'
import { rawGet } from './helpers/raw.js'
import { launchBrowser, newPage } from './helpers/browser.js'

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

t.test('a non-ASCII Last-Event-ID reads the same by header (UTF-8, as browsers send it) and by query', async t => {
  const seen: Array<string | undefined> = []
  const { port } = await startApp(t, app => {
    app.get('/s', (_request, reply) => reply.sse(({ lastEventId }) => { seen.push(lastEventId); return [] }))
  })
  // rawGet writes the request head as UTF-8: the bytes E2 82 AC for €.
  await (await rawGet(port, '/s', { 'last-event-id': '€42' })).ended
  await (await rawGet(port, `/s?lastEventId=${encodeURIComponent('€42')}`)).ended
  await (await rawGet(port, '/s', { 'last-event-id': '日本-7' })).ended
  t.same(seen, ['€42', '€42', '日本-7'])
})

t.test('a Last-Event-ID that is not UTF-8 is read as Latin-1, one byte per character (as Node\'s fetch sends it)', async t => {
  const seen: Array<string | undefined> = []
  const { port } = await startApp(t, app => {
    app.get('/s', (_request, reply) => reply.sse(({ lastEventId }) => { seen.push(lastEventId); return [] }))
  })
  // The single byte E9 is not UTF-8; as Latin-1 it is é.
  await (await rawGet(port, '/s', { 'last-event-id': 'é42' }, { encoding: 'latin1' })).ended
  t.same(seen, ['é42'])
})

t.test('a browser reconnecting after a non-ASCII id resumes from that id', async t => {
  const resumedFrom: Array<string | undefined> = []
  const { url } = await startApp(t, app => {
    app.get('/', (_request, reply) => reply.type('text/html').send(`<!doctype html><script>
      const source = new EventSource('/clock')
      window.received = []
      source.onmessage = event => {
        window.received.push([event.data, event.lastEventId])
        if (event.data.startsWith('resumed')) source.close()
      }
    </script>`))
    app.get('/clock', (_request, reply) => reply.sse(({ lastEventId }): Array<{ data: string, id?: string }> => {
      resumedFrom.push(lastEventId)
      // The first connection sends one event with a non-ASCII id and ends: the browser
      // reconnects by itself, sending that id back.
      return lastEventId === undefined
        ? [{ data: 'first', id: '€42-日本' }]
        : [{ data: `resumed after ${lastEventId}` }]
    }, { retry: 10 }))
  })
  const browser = await launchBrowser(t)
  const page = await newPage(t, browser)
  await page.goto(url)
  await page.waitForFunction(() => (window as unknown as { received: unknown[] }).received.length === 2)
  const received = await page.evaluate(() => (window as unknown as { received: unknown[] }).received)
  t.same(resumedFrom, [undefined, '€42-日本'], 'the server read the id the browser sent back')
  t.same(received, [['first', '€42-日本'], ['resumed after €42-日本', '€42-日本']])
})
