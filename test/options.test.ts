// Options are checked when the plugin is registered (or the route declared), with a message
// that names the option.
import t from 'tap'
import Fastify from 'fastify'
import ssePlugin from '../src/index.js'
import { startApp } from './helpers/server.js'
import { rawGet } from './helpers/raw.js'

const cases: Array<[string, Record<string, unknown>, RegExp]> = [
  ['a negative heartbeat', { heartbeatInterval: -1 }, /option "heartbeatInterval" must be an integer from 0 to 2147483647, got -1/],
  ['a fractional retry', { retry: 1.5 }, /option "retry" must be an integer from 0 to \d+, got 1.5/],
  ['a zero high-water mark', { highWaterMark: 0 }, /option "highWaterMark" must be an integer from 1/],
  ['an unknown policy', { onInvalidEvent: 'ignore' }, /option "onInvalidEvent" must be one of "skip", "error-event", "close", got "ignore"/],
  ['an unknown source-error policy', { onSourceError: 'retry' }, /option "onSourceError" must be one of "close", "error-event", got "retry"/],
  ['a non-boolean validate', { validate: 'yes' }, /option "validate" must be a boolean, got "yes"/],
  ['a misspelt option', { heartbeatIntervall: 1000 }, /option "heartbeatIntervall" must be one of the known options/],
  ['a negative write timeout', { writeTimeout: -1 }, /option "writeTimeout" must be an integer from 0 to 2147483647, got -1/],
  ['a zero stream limit', { maxStreams: 0 }, /option "maxStreams" must be an integer from 1 to \d+, got 0/],
  ['a stream limit that is not a number', { maxStreams: '100' }, /option "maxStreams" must be an integer from 1 to \d+, got "100"/]
]

for (const [what, options, message] of cases) {
  t.test(`register fails on ${what}`, async t => {
    const app = Fastify()
    t.teardown(() => app.close())
    // register() returns Fastify itself, a thenable: await it inside a function.
    await t.rejects(async () => { await app.register(ssePlugin, options as never) }, { code: 'FST_SSE_INVALID_OPTION', message })
  })
}

t.test('a bad `sse` route option fails when the route is declared', async t => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(ssePlugin)
  t.throws(() => app.get('/s', { sse: { heartbeatInterval: -5 } as never }, async function * () {}), { code: 'FST_SSE_INVALID_OPTION' })
})

t.test('a bad option given to reply.sse() answers that request with a 500 and a clear log', async t => {
  const { port, logs } = await startApp(t, app => {
    app.get('/s', (_request, reply) => reply.sse([], { retry: -1 }))
  })
  const response = await rawGet(port, '/s')
  t.equal(response.status, 500)
  t.match(logs.find(line => line.level === 50), { err: { code: 'FST_SSE_INVALID_OPTION', message: /option "retry"/ } })
})

t.test('calling reply.sse() on a reply already sent is refused', async t => {
  const { port, logs } = await startApp(t, app => {
    app.get('/s', async (_request, reply) => {
      await reply.send('already')
      await reply.sse([])
    })
  })
  const response = await rawGet(port, '/s')
  await response.waitFor(body => body === 'already')
  t.match(logs.find(line => line.level >= 40 && JSON.stringify(line).includes('FST_SSE_REPLY_SENT')), {})
})

t.test('an `sse` route option that is neither true nor an object fails when the route is declared', async t => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(ssePlugin)
  t.throws(() => app.get('/s', { sse: 'yes' } as never, async function * () {}), {
    code: 'FST_SSE_INVALID_OPTION',
    message: /option "sse \(route GET \/s\)" must be true or an object of stream options, got "yes"/
  })
})

t.test('retry: undefined at the call sends no retry line, even with a plugin-wide retry', async t => {
  const { port } = await startApp(t, app => {
    app.get('/default', (_request, reply) => reply.sse([{ data: 'x' }]))
    app.get('/none', (_request, reply) => reply.sse([{ data: 'x' }], { retry: undefined }))
  }, { plugin: { retry: 1500 } })
  const withDefault = await rawGet(port, '/default')
  t.equal(await withDefault.waitFor(body => body.endsWith('data: x\n\n')), 'retry: 1500\n\ndata: x\n\n')
  const without = await rawGet(port, '/none')
  t.equal(await without.waitFor(body => body.endsWith('data: x\n\n')), 'data: x\n\n')
})
