// The built package imports the ways users write it: ESM default and named, and CommonJS
// require() (which Fastify unwraps through `default`). `npm test` builds dist/ first.
import t from 'tap'
import { createRequire } from 'node:module'
import Fastify from 'fastify'
import type { FastifyPluginCallback } from 'fastify'
import { rawGet } from './helpers/raw.js'

const require = createRequire(import.meta.url)

async function streams (t: Tap, plugin: unknown): Promise<string> {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(plugin as FastifyPluginCallback)
  app.get('/s', (_request, reply) => reply.sse([{ data: 'ok' }]))
  await app.listen({ port: 0, host: '127.0.0.1' })
  const response = await rawGet((app.server.address() as { port: number }).port, '/s')
  await response.ended
  return response.body()
}
type Tap = { teardown (fn: () => unknown): void }

t.test('ESM: default and named exports are the same plugin', async t => {
  const esm = await import('fastify-typed-sse')
  t.equal(typeof esm.default, 'function')
  t.equal(esm.default, esm.ssePlugin)
  t.equal(await streams(t, esm.default), 'data: ok\n\n')
})

t.test('CommonJS: require() gives the plugin, as `default` and as `ssePlugin`', async t => {
  const cjs = require('fastify-typed-sse') as { default: unknown, ssePlugin: unknown, SseError: unknown }
  t.equal(typeof cjs.default, 'function')
  t.equal(cjs.default, cjs.ssePlugin)
  t.equal(typeof cjs.SseError, 'function')
  t.equal(await streams(t, cjs), 'data: ok\n\n', 'fastify.register(require(...)) works')
  t.equal(await streams(t, cjs.ssePlugin), 'data: ok\n\n')
})

t.test('the package declares its types for both module systems', async t => {
  const pkg = require('../package.json') as { exports: Record<string, { import: { types: string }, require: { types: string } }> }
  const { existsSync } = await import('node:fs')
  for (const [entry, conditions] of Object.entries(pkg.exports)) {
    if (typeof conditions === 'string') continue
    t.ok(existsSync(new URL(`../${conditions.import.types}`, import.meta.url)), `${entry} ESM types exist`)
    t.ok(existsSync(new URL(`../${conditions.require.types}`, import.meta.url)), `${entry} CJS types exist`)
  }
})
