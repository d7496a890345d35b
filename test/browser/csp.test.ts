// The typed client on a page whose Content-Security-Policy forbids eval (no 'unsafe-eval'):
// TypeBox's compiler cannot build its checks from source text there, so it checks with its
// interpreter; events are still checked, and explained the same way.
import t from 'tap'
import Fastify from 'fastify'
import { build } from 'esbuild'
import { fileURLToPath } from 'node:url'
import ssePlugin from '../../src/index.js'
import { launchBrowser, listen, newPage } from '../helpers/browser.js'

// The page's script: the client and a TypeBox 1 map, bundled as an app would bundle them.
const pageScript = `
import { Type } from 'typebox'
import { sseClient } from './src/client/index.ts'

const events = { tick: Type.Object({ n: Type.Integer() }), state: Type.Union([Type.Literal('on'), Type.Literal('off')]) }
const results = window.results = { evalAllowed: undefined, received: [], refused: [], done: false }
try { new Function('return 1')(); results.evalAllowed = true } catch { results.evalAllowed = false }
const client = sseClient('/s', {
  events,
  reconnect: false,
  onInvalidEvent: error => results.refused.push({ event: error.event, path: error.path, reason: error.reason })
})
for await (const ev of client) results.received.push({ event: ev.event, data: ev.data })
results.done = true
`

t.test('where eval is forbidden, the client still checks each event against its schema', async t => {
  const bundle = await build({
    stdin: { contents: pageScript, resolveDir: fileURLToPath(new URL('../..', import.meta.url)), loader: 'ts' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent'
  })
  const app = Fastify()
  await app.register(ssePlugin)
  // Only scripts from this origin; no 'unsafe-eval', so `new Function` throws in the page.
  app.addHook('onSend', async (_request, reply) => { reply.header('content-security-policy', "script-src 'self'") })
  app.get('/', (_request, reply) => reply.type('text/html').send('<!doctype html><title>csp</title><script type="module" src="/page.js"></script>'))
  app.get('/page.js', (_request, reply) => reply.type('text/javascript').send(bundle.outputFiles[0]?.text))
  app.get('/s', { sse: true }, async function * () {
    // Untyped, so the server lets the bad ones through for the client to refuse.
    yield { event: 'tick', data: { n: 1 } }
    yield { event: 'tick', data: { n: 1.5 } }
    yield { event: 'state', data: '"dim"' }
    yield { event: 'state', data: '"on"' }
  })
  const url = await listen(t, app)
  const page = await newPage(t, await launchBrowser(t))
  await page.goto(url)
  const read = () => page.evaluate(() => (window as unknown as { results: Record<string, unknown> }).results)
  // The script runs as a module after load; poll until its loop has read the whole stream.
  let results = await read()
  for (const deadline = Date.now() + 10_000; results?.done !== true; results = await read()) {
    if (Date.now() > deadline) throw new Error(`the page did not finish reading: ${JSON.stringify(results)}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  t.equal(results.evalAllowed, false, 'the page really forbids eval')
  t.same(results.received, [{ event: 'tick', data: { n: 1 } }, { event: 'state', data: 'on' }])
  t.same(results.refused, [
    { event: 'tick', path: '/n', reason: 'must be integer' },
    { event: 'state', path: '', reason: 'must be "on" or "off"' }
  ])
})
