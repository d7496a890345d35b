// The built package imports the ways users write it: ESM default and named, and CommonJS
// require() (which Fastify unwraps through `default`). Each check runs in plain `node`, without
// tsx, so it loads dist/ through package.json "exports" exactly as an installed package would.
// dist/ is built first when it is missing or stale.
import t from 'tap'
import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { ensureBuilt } from './helpers/built.js'

await ensureBuilt()

const run = promisify(execFile)
const root = fileURLToPath(new URL('..', import.meta.url))

// Registers the plugin as `plugin`, streams one event, prints the body.
const streamOnce = `
  const app = Fastify()
  await app.register(plugin)
  app.get('/s', (request, reply) => reply.sse([{ data: 'ok' }]))
  await app.listen({ port: 0, host: '127.0.0.1' })
  const response = await fetch('http://127.0.0.1:' + app.server.address().port + '/s')
  console.log(JSON.stringify({ type: response.headers.get('content-type'), body: await response.text(), extra }))
  await app.close()
`

async function node (args: string[]): Promise<{ type: string, body: string, extra: unknown }> {
  const { stdout } = await run(process.execPath, args, { cwd: root, env: { ...process.env, NODE_OPTIONS: '' } })
  return JSON.parse(stdout.trim().split('\n').at(-1)!)
}

t.test('ESM: default and named exports are the same plugin, and it streams', async t => {
  const result = await node(['--input-type=module', '-e', `
    import Fastify from 'fastify'
    import plugin, { ssePlugin, SseError } from 'fastify-typed-sse'
    const extra = { same: plugin === ssePlugin, error: typeof SseError }
    ${streamOnce}`])
  t.same(result, { type: 'text/event-stream; charset=utf-8', body: 'data: ok\n\n', extra: { same: true, error: 'function' } })
})

t.test('CommonJS: fastify.register(require(...)) works, as do `default` and `ssePlugin`', async t => {
  const result = await node(['-e', `
    const Fastify = require('fastify')
    const sse = require('fastify-typed-sse')
    const plugin = sse
    const extra = { same: sse.default === sse.ssePlugin, kind: typeof sse.ssePlugin, file: require.resolve('fastify-typed-sse') }
    ;(async () => { ${streamOnce} })()`])
  t.equal(result.body, 'data: ok\n\n')
  t.match(result.extra, { same: true, kind: 'function', file: /dist\/cjs\/index\.js$/ })
})

t.test('every export entry points at built files, with types for both module systems', async t => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    exports: Record<string, string | { import: { types: string, default: string }, require: { types: string, default: string } }>
  }
  for (const [entry, conditions] of Object.entries(pkg.exports)) {
    if (typeof conditions === 'string') continue
    for (const file of [conditions.import.types, conditions.import.default, conditions.require.types, conditions.require.default]) {
      t.ok(existsSync(new URL(`../${file}`, import.meta.url)), `${entry}: ${file}`)
    }
  }
})
