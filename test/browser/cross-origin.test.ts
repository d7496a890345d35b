// The cross-origin example in a real browser: the page (one origin) signs in at the API (another
// origin), which sets an HttpOnly cookie; `new EventSource(url, { withCredentials: true })` sends
// it, and the stream says whose session it saw. Without credentials the API refuses the stream.
// Sessions end: the stream ends with its session, and the browser's reconnect (or anyone else's
// request) with the expired cookie gets a 401.
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
  // The cookie is sealed: only the API can open it and read the session id inside.
  const sessionId = api.decodeSecureSession(decodeURIComponent(session?.value ?? ''))?.get('sessionId')
  t.match(await page.locator('#with-status').textContent(), new RegExp(`^signed in as Grace, session ${sessionId?.slice(0, 8)}…, until \\d\\d:\\d\\d:\\d\\d$`),
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

t.test('a session ends after its lifetime: the stream ends with it, and the reconnect with the expired cookie gets a 401', async t => {
  const sessionLifetime = 3000
  const { page: pageApp, api, pageUrl, apiUrl } = await startCrossOrigin({ host: '127.0.0.1', pagePort: 0, apiPort: 0, tickMs: 100, sessionLifetime, logger: false })
  t.after(() => Promise.all([pageApp.close(), api.close()]))
  const page = await newPage(t, await launchBrowser(t))
  const statuses: number[] = []
  page.on('response', response => { if (response.url() === `${apiUrl}/events`) statuses.push(response.status()) })
  await page.goto(pageUrl)
  await page.fill('#name', 'Grace')
  const signIn = page.waitForResponse(`${apiUrl}/session`)
  await page.click('button')
  const { expiresAt } = await (await signIn).json() as { expiresAt: string }
  const endsAt = Date.parse(expiresAt)
  await page.locator('#with-status', { hasText: /^signed in as Grace/ }).waitFor({ timeout: 10_000 })
  const cookie = (await page.context().cookies(apiUrl)).find(cookie => cookie.name === 'session')
  t.ok(cookie, 'the API set a session cookie')
  // Max-Age is in whole seconds, rounded up.
  t.ok(cookie!.expires > 0 && cookie!.expires * 1000 <= endsAt + 1000, 'which the browser keeps no longer than the session lasts')

  await page.locator('#with-status', { hasText: 'refused by the API: no live session, sign in again' }).waitFor({ timeout: sessionLifetime + 10_000 })
  t.ok(Date.now() >= endsAt, 'not before the session\'s end')
  const ticks = Number(await page.locator('#ticks').textContent())
  t.ok(ticks > 0 && ticks <= sessionLifetime / 100, `the stream ticked while the session lasted, and no more (${ticks} ticks)`)

  // The browser has dropped the cookie by now (Max-Age), but the API does not rely on that: the
  // same cookie, sent by a client that kept it, is refused.
  const replayed = await fetch(`${apiUrl}/events`, { headers: { origin: pageUrl, cookie: `session=${cookie!.value}` } })
  t.equal(replayed.status, 401, 'the expired cookie, sent again, gets a 401')
  t.match(await replayed.json(), { message: /sign in/ }, 'saying what to do')
  t.same(statuses.sort(), [200, 401, 401], 'the credentialed stream was accepted, and refused when it reconnected after the session\'s end (the other 401 is the stream without credentials)')

  // Signing in again starts a new session and a new stream.
  await page.click('button')
  await page.locator('#with-status', { hasText: /^signed in as Grace/ }).waitFor({ timeout: 10_000 })
  await page.waitForFunction(() => Number(document.querySelector('#ticks')?.textContent) >= 1, undefined, { timeout: 10_000 })
})
