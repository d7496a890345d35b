// The hub on its default backend, in memory: the shared conformance suite, plus option checks.
import t from 'tap'
import Fastify from 'fastify'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { Redis } from 'ioredis'
import ssePlugin from '../src/index.js'
import { hubConformance } from './hub-conformance.js'

const run = promisify(execFile)

hubConformance(t, { hub: (options = {}) => options })

t.test('the hub works with no hub option at all', async t => {
  const app = Fastify()
  await app.register(ssePlugin)
  t.teardown(() => app.close())
  t.match(await app.sse.topic('t').publish({ data: 1 }), /^\d+-\d+$/)
})

t.test('many short-lived topics do not grow the heap: each is dropped once idle for topicTtl', async t => {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const app = Fastify()
  await app.register(ssePlugin, { hub: { topicTtl: 50 } })
  t.teardown(() => app.close())
  const topics = 2000
  const payload = 'x'.repeat(1000)
  // Topic names from user input: each used once, with a few events, then never again.
  const round = async (n: number): Promise<void> => {
    for (let i = 0; i < topics; i++) {
      const topic = app.sse.topic(`user:${n}:${i}`)
      for (let e = 0; e < 3; e++) await topic.publish({ data: payload })
    }
    await new Promise(resolve => setTimeout(resolve, 300))
  }
  const heap = (): number => { gc(); gc(); return process.memoryUsage().heapUsed }
  await round(0)
  const base = heap()
  for (let n = 1; n <= 5; n++) await round(n)
  const grown = heap() - base
  // Kept, five rounds would hold 5 x 2000 x 3 events of 1 KB: about 30 MB.
  t.ok(grown < 3 * 1024 * 1024, `the heap grew by ${(grown / 1024 / 1024).toFixed(1)} MB over five rounds of ${topics} topics`)
})

t.test('hub options are checked at register, naming the option', async t => {
  const cases: Array<[unknown, RegExp]> = [
    [{ retain: 0 }, /option "hub\.retain" must be an integer from 1/],
    [{ queueSize: 1.5 }, /option "hub\.queueSize" must be an integer/],
    [{ maxAge: -1 }, /option "hub\.maxAge"/],
    [{ topicTtl: 0 }, /option "hub\.topicTtl" must be an integer from 1/],
    [{ idempotencyWindow: 0 }, /option "hub\.idempotencyWindow" must be an integer from 1/],
    [{ onOverflow: 'block' }, /option "hub\.onOverflow" must be one of "close", "drop-oldest", got "block"/],
    [{ redis: 'localhost:6379' }, /option "hub\.redis" must be a Redis URL/],
    [{ redis: { host: 'localhost' } }, /option "hub\.redis" must be a Redis URL like "redis:\/\/127\.0\.0\.1:6379", or an ioredis Redis or Cluster client, got a object/],
    [{ redis: new Redis({ keyPrefix: 'app:', lazyConnect: true }) }, /option "hub\.redis" must be a client without ioredis's keyPrefix option \(set hub\.keyPrefix instead\), got "app:"/],
    [{ keyPrefix: 'app{x}:' }, /option "hub\.keyPrefix" must be a string without "\{" or "\}"/],
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

t.test('hub.redis without the ioredis package installed fails at register, saying what to install', async t => {
  // A child process whose module resolution cannot find ioredis, as in an app that never installed it.
  const hide = 'import { register } from "node:module"; register("data:text/javascript,' + encodeURIComponent(
    'export async function resolve (specifier, context, next) { if (specifier === "ioredis") { const err = new Error("Cannot find package \'ioredis\'"); err.code = "ERR_MODULE_NOT_FOUND"; throw err } return next(specifier, context) }'
  ) + '")'
  const app = new URL('../src/index.ts', import.meta.url).href
  const script = `import Fastify from 'fastify'; import ssePlugin from '${app}'
    const app = Fastify()
    try { await app.register(ssePlugin, { hub: { redis: 'redis://127.0.0.1:1' } }) } catch (err) { console.log(JSON.stringify({ code: err.code, message: err.message })) }`
  const { stdout } = await run(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(hide)}`, '--import', 'tsx', '--input-type=module', '-e', script])
  t.same(JSON.parse(stdout), {
    code: 'FST_SSE_INVALID_OPTION',
    message: 'fastify-typed-sse: option "hub.redis" needs the ioredis package next to the plugin: npm install ioredis'
  })
})
