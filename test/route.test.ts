// The `sse` route option: the handler itself is an async generator.
import t from 'tap'
import { Type } from '@sinclair/typebox'
import { startApp } from './helpers/server.js'
import { rawGet } from './helpers/raw.js'

const events = { tick: Type.Object({ n: Type.Integer() }), end: Type.Object({ reason: Type.String() }) }

t.test('a route declared with { sse: { events } } streams what its generator yields, checked', async t => {
  const { port } = await startApp(t, app => {
    app.get('/count/:to', { sse: { events, retry: 100 } }, async function * (request, _reply, { lastEventId }) {
      const from = lastEventId === undefined ? 0 : Number(lastEventId) + 1
      for (let n = from; n <= Number((request.params as { to: string }).to); n++) yield { event: 'tick', id: n, data: { n } }
      yield { event: 'tick', data: { n: 'bad' } as never }
      yield { event: 'end', data: { reason: 'counted' } }
    })
  })
  const response = await rawGet(port, '/count/3', { 'last-event-id': '1' })
  await response.ended
  t.equal(response.body(), 'retry: 100\n\nevent: tick\ndata: {"n":2}\nid: 2\n\nevent: tick\ndata: {"n":3}\nid: 3\n\nevent: end\ndata: {"reason":"counted"}\n\n')
})

t.test('{ sse: true } streams untyped events, and `this` is the Fastify instance', async t => {
  const { port } = await startApp(t, app => {
    app.decorate('greeting', 'hello')
    app.get('/s', { sse: true }, async function * () {
      yield { data: (this as unknown as { greeting: string }).greeting }
    })
  })
  const response = await rawGet(port, '/s')
  await response.ended
  t.equal(response.body(), 'data: hello\n\n')
})

t.test('routes without the option are left alone', async t => {
  const { port } = await startApp(t, app => {
    app.get('/plain', async () => 'plain text')
  })
  const response = await rawGet(port, '/plain')
  await response.waitFor(body => body === 'plain text')
  t.match(response.headers['content-type'], /text\/plain/)
})
