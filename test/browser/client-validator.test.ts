// The validator in a page: a chunk of its own in the bundle, fetched only when the client
// validates; a missing chunk is a clear error.
import t from 'tap'
import { launchBrowser, newPage } from '../helpers/browser.js'
import { harnessFiles, runInPage } from '../helpers/harness.js'
import { openStream, startRawServer, write } from '../helpers/hostile.js'

t.test('the page loads the validator chunk only to validate, and checks events with it', async t => {
  const server = await startRawServer(t, async (_request, response) => {
    openStream(response)
    await write(response, 'event: tick\ndata: {"n":1}\n\nevent: tick\ndata: {"n":"two"}\n\n')
  }, await harnessFiles())
  const page = await newPage(t, await launchBrowser(t))
  const scripts: string[] = []
  page.on('request', request => { if (request.url().endsWith('.js')) scripts.push(new URL(request.url()).pathname) })
  await page.goto(`${server.url}/harness/`)
  await page.waitForFunction(() => 'runClient' in globalThis)
  const unchecked = await runInPage(page, '/s', { map: 'ticks', validate: false, reconnect: false }, { events: 2, ms: 10_000 })
  t.same(unchecked.events.map(e => e.data), [{ n: 1 }, { n: 'two' }], 'validate: false decodes without checking')
  t.same(scripts.filter(path => path.includes('validator')), [], 'and never loads the validator')

  const checked = await runInPage(page, '/s', { map: 'ticks', reconnect: false }, { events: 2, ms: 10_000 })
  t.same(checked.events.map(e => e.data), [{ n: 1 }])
  t.match(checked.error, { code: 'FST_SSE_CLIENT_INVALID_EVENT', message: 'fastify-typed-sse/client: event "tick" has invalid data at "/n": must be integer' })
  t.equal(scripts.filter(path => /\/validator-[^/]+\.js$/.test(path)).length, 1, 'validating loaded the validator chunk')
})

t.test('a validator chunk that cannot be loaded is FST_SSE_CLIENT_VALIDATOR_UNAVAILABLE, before any event', async t => {
  const files = new Map([...await harnessFiles()].filter(([path]) => !path.includes('validator')))
  const server = await startRawServer(t, async (request, response) => {
    if (request.url?.endsWith('.js') === true) {
      response.writeHead(404).end()
      return
    }
    openStream(response)
    await write(response, 'event: tick\ndata: {"n":1}\n\n')
  }, files)
  const page = await newPage(t, await launchBrowser(t))
  await page.goto(`${server.url}/harness/`)
  await page.waitForFunction(() => 'runClient' in globalThis)
  const log = await runInPage(page, '/s', { map: 'ticks' }, { events: 1, ms: 10_000 })
  t.same(log.events, [])
  t.match(log.error, { code: 'FST_SSE_CLIENT_VALIDATOR_UNAVAILABLE', message: /the schema validator could not be loaded \(serve the bundle's validator chunk, or pass validate: false\)/ })
  t.equal(server.requests.filter(r => r.path === '/s').length, 1, 'not retried')
})
