// The hub over TLS: a real redis-server that serves TLS only, with a certificate for 127.0.0.1
// signed by a CA made for this test. A rediss:// URL checks the certificate against the CAs
// Node trusts; a client with `tls: { ca }` names its own.
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { Type } from '@sinclair/typebox'
import { Redis } from 'ioredis'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import ssePlugin from '../src/index.js'
import { rawGet } from './helpers/raw.js'
import { startRedis, type RedisServer } from './helpers/redis.js'
import { startApp } from './helpers/server.js'

const events = { message: Type.Object({ from: Type.String(), text: Type.String() }) }

t.test('the hub on Redis over TLS', async t => {
  const redis = await startRedis(t, { tls: true })
  const tls = redis.tls!

  t.test('a client with the CA: publish, live events and replay work', async t => {
    const client = new Redis(redis.url, { tls: { ca: tls.ca }, lazyConnect: true })
    t.teardown(() => client.disconnect())
    const { app, port } = await startApp(t, app => {
      const room = app.sse.topic('room', { events })
      app.get('/room', (_request, reply) => reply.sse(room.subscribe()))
    }, { plugin: { hub: { redis: client, keyPrefix: 'client:' } } })
    const room = app.sse.topic('room', { events })
    const live = await rawGet(port, '/room')
    t.teardown(() => live.close())
    const first = await room.publish({ data: { from: 'x', text: 'one' } })
    const second = await room.publish({ data: { from: 'x', text: 'two' } })
    await live.waitFor(() => live.events.length === 2, 'the live events')
    t.same(live.events.map(event => event.id), [first, second])
    const replay = await rawGet(port, '/room', { 'last-event-id': first })
    t.teardown(() => replay.close())
    await replay.waitFor(() => replay.events.length === 1, 'the replay')
    t.same(replay.events.map(event => event.id), [second])
  })

  t.test('a rediss:// URL whose certificate Node does not trust fails at register, saying why', async t => {
    const app = Fastify()
    await t.rejects(async () => { await app.register(ssePlugin, { hub: { redis: redis.url, redisTimeout: 2000 } }) }, {
      code: 'FST_SSE_HUB_UNAVAILABLE',
      message: new RegExp(`could not connect to rediss://127\\.0\\.0\\.1:${redis.port}: Redis is unavailable \\(.*certificate`)
    })
    await app.close()
  })

  t.test('a rediss:// URL works once Node trusts the CA (NODE_EXTRA_CA_CERTS), in an instance of its own', async t => {
    const instance = await startInstance(t, redis, tls.caFile)
    const response = await rawGet(instance.port, '/rooms/42/events')
    t.teardown(() => response.close())
    const id = await instance.publish('over tls')
    await response.waitFor(() => response.events.length === 1, 'the event')
    t.same([response.events[0]?.id, JSON.parse(response.events[0]!.data).text], [id, 'over tls'])
  })
})

async function startInstance (t: Test, redis: RedisServer, caFile: string): Promise<{ port: number, publish (text: string): Promise<string> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('./fixtures/hub-instance.ts', import.meta.url).pathname, redis.url, 'url:'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile }
  })
  t.teardown(() => new Promise(resolve => {
    if (child.exitCode !== null) return resolve(undefined)
    child.once('exit', resolve)
    child.kill('SIGTERM')
  }))
  const lines = createInterface({ input: child.stdout })
  const { port } = await new Promise<{ port: number }>((resolve, reject) => {
    lines.once('line', line => resolve(JSON.parse(line)))
    child.once('exit', code => reject(new Error(`the instance exited with code ${code}`)))
  })
  return {
    port,
    async publish (text) {
      const response = await fetch(`http://127.0.0.1:${port}/publish`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text })
      })
      return (await response.json() as { id: string }).id
    }
  }
}
