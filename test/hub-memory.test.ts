// The hub on its default backend, in memory: the shared conformance suite, plus option checks.
import t from 'tap'
import Fastify from 'fastify'
import ssePlugin from '../src/index.js'
import { hubConformance } from './hub-conformance.js'

hubConformance(t, { hub: (options = {}) => options })

t.test('the hub works with no hub option at all', async t => {
  const app = Fastify()
  await app.register(ssePlugin)
  t.teardown(() => app.close())
  t.match(await app.sse.topic('t').publish({ data: 1 }), /^\d+-\d+$/)
})

t.test('hub options are checked at register, naming the option', async t => {
  const cases: Array<[unknown, RegExp]> = [
    [{ retain: 0 }, /option "hub\.retain" must be an integer from 1/],
    [{ queueSize: 1.5 }, /option "hub\.queueSize" must be an integer/],
    [{ maxAge: -1 }, /option "hub\.maxAge"/],
    [{ onOverflow: 'block' }, /option "hub\.onOverflow" must be one of "close", "drop-oldest", got "block"/],
    [{ redis: 'localhost:6379' }, /option "hub\.redis" must be a Redis URL/],
    [{ retian: 5 }, /option "hub\.retian" must be one of the known hub options/],
    ['memory', /option "hub" must be an object/]
  ]
  for (const [hub, message] of cases) {
    const app = Fastify()
    await t.rejects(async () => {
      // @ts-expect-error deliberately wrong options
      await app.register(ssePlugin, { hub })
    }, { code: 'FST_SSE_INVALID_OPTION', message })
    await app.close()
  }
})
