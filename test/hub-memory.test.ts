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
import { rawGet } from './helpers/raw.js'

const run = promisify(execFile)

hubConformance(t, { hub: (options = {}) => options })

t.test('the hub works with no hub option at all', async t => {
  const app = Fastify()
  await app.register(ssePlugin)
  t.teardown(() => app.close())
  t.match(await app.sse.topic('t').publish({ data: 1 }), /^\d+-\d+$/)
})

t.test('a replay whose events a filter all leaves out still lets the event loop run', async t => {
  const app = Fastify()
  await app.register(ssePlugin, { hub: { retain: 20_000 } })
  t.teardown(() => app.close())
  const topic = app.sse.topic('busy')
  let calls = 0
  // A filter that takes some time, and says no to everything.
  const filter = (): boolean => {
    calls++
    const until = performance.now() + 0.05
    while (performance.now() < until);
    return false
  }
  app.get('/busy', (_request, reply) => reply.sse(topic.subscribe({ filter })))
  app.get('/ping', async () => ({ calls }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const total = 20_000
  for (let n = 0; n < total; n++) await topic.publish({ data: n })
  const replay = await rawGet(port, '/busy', { 'last-event-id': '0-0' })
  t.teardown(() => replay.close())
  // About a second of filtering: /ping must get answers in the middle of it.
  const answers: number[] = []
  const ping = async (): Promise<number> => ((await (await fetch(`http://127.0.0.1:${port}/ping`)).json()) as { calls: number }).calls
  // (The filter runs in this process: `calls` changes between the awaits.)
  for (let seenCalls = 0; seenCalls < total;) answers.push(seenCalls = await ping())
  t.ok(answers.some(seenCalls => seenCalls > 0 && seenCalls < total), `/ping answered during the replay (${answers.length} answers, the first after ${answers[0]} of ${total} filter calls)`)
  t.equal(replay.body(), '', 'nothing was sent')
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
    [{ redis: { host: 'localhost' } }, /option "hub\.redis" must be a Redis URL like "redis:\/\/127\.0\.0\.1:6379", or an ioredis Redis or Cluster client, got an object/],
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
    code: 'FST_SSE_REDIS_CLIENT_MISSING',
    message: 'fastify-typed-sse: option "hub.redis" needs the ioredis package next to the plugin: npm install ioredis'
  })
})
