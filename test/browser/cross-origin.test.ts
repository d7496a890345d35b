// The cross-origin example in a real browser: the page (one origin) signs in at the API (another
// origin), which sets an HttpOnly cookie; `new EventSource(url, { withCredentials: true })` sends
// it, and the stream says whose session it saw. Without credentials the API refuses the stream.
import t from 'tap'
import type { Response } from 'playwright-core'
import { startCrossOrigin } from '../../examples/cross-origin/server.js'
import { launchBrowser, newPage, screenshot } from '../helpers/browser.js'

t.test('a credentialed EventSource on another origin carries the API cookie, under an exact CORS allowance', async t => {
  const { page: pageApp, api, pageUrl, apiUrl } = await startCrossOrigin({ host: '127.0.0.1', pagePort: 0, apiPort: 0, tickMs: 100, logger: false })
  t.after(() => Promise.all([pageApp.close(), api.close()]))
  t.not(new URL(pageUrl).origin, new URL(apiUrl).origin, 'page and API are different origins')

  const page = await newPage(t, await launchBrowser(t))
  const streamResponses: Response[] = []
  page.on('response', response => { if (response.url() === `${apiUrl}/events`) streamResponses.push(response) })
  await page.goto(pageUrl)
  await page.fill('#name', 'Grace')
  await page.click('button')

  await page.locator('#with-status', { hasText: /^signed in as Grace/ }).waitFor({ timeout: 10_000 })
  await page.locator('#without-status', { hasText: /^refused/ }).waitFor({ timeout: 10_000 })
  await page.waitForFunction(() => Number(document.querySelector('#ticks')?.textContent) >= 3, undefined, { timeout: 10_000 })

  const cookies = await page.context().cookies(apiUrl)
  const session = cookies.find(cookie => cookie.name === 'session')
  t.ok(session, 'the API set a session cookie')
  t.equal(session?.httpOnly, true, 'which the page script cannot read')
  t.equal(await page.evaluate(() => document.cookie), '', 'document.cookie does not show it')
  t.equal(await page.locator('#with-status').textContent(), `signed in as Grace, session ${session?.value.slice(0, 8)}…`,
    'the stream names the session the cookie holds: the browser sent it with the EventSource request')
  t.equal(await page.locator('#without-status').textContent(), 'refused: no cookie was sent (401)')

  const statuses = streamResponses.map(response => response.status()).sort()
  t.same(statuses, [200, 401], 'one stream accepted (with credentials), one refused (without)')
  const accepted = streamResponses.find(response => response.status() === 200)
  const headers = await accepted?.allHeaders()
  t.equal(headers?.['access-control-allow-origin'], pageUrl, 'CORS names the page origin, never *')
  t.equal(headers?.['access-control-allow-credentials'], 'true')
  t.match(headers?.['content-type'], /^text\/event-stream/)
  await screenshot(page, 'cross-origin')

  // Another origin is not granted: the allowance still names the page only (neither the asking
  // origin nor *), so a browser would not let that origin read the stream.
  const foreign = await fetch(`${apiUrl}/events`, { headers: { origin: 'http://evil.example', cookie: `session=${session?.value}` } })
  t.equal(foreign.headers.get('access-control-allow-origin'), pageUrl, 'another origin is answered with the page origin, not its own')
  await foreign.body?.cancel()
})
