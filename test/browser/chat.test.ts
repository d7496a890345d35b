// The chat example in a real browser: tabs see each other's messages; when the server drops the
// connections, the tabs reconnect with Last-Event-ID and get what was published meanwhile; a tab
// that leaves and comes back resumes from the id it kept. Nothing is lost, nothing shown twice.
import t from 'tap'
import type { Page } from 'playwright-core'
import { buildChat } from '../../examples/chat/server.js'
import { launchBrowser, listen, newPage, screenshot } from '../helpers/browser.js'

interface StreamRequest { at: number, header: string | undefined, query: string | undefined }

t.test('tabs share the room, and resume by Last-Event-ID after a drop and after leaving', async t => {
  const app = await buildChat({ retry: 1000, logger: false })
  const requests: StreamRequest[] = []
  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.url !== '/events') return
    const header = request.headers['last-event-id']
    requests.push({ at: Date.now(), header: typeof header === 'string' ? header : undefined, query: (request.query as { lastEventId?: string }).lastEventId })
  })
  const url = await listen(t, app)
  const browser = await launchBrowser(t)
  const context = await browser.newContext({ viewport: { width: 800, height: 700 } })
  t.after(() => context.close())
  const errors: string[] = []
  const open = async (name: string): Promise<Page> => {
    const page = await context.newPage()
    page.on('pageerror', error => errors.push(error.message))
    await page.goto(url)
    await page.fill('#from', name)
    await page.locator('#status', { hasText: 'connected' }).waitFor({ timeout: 10_000 })
    return page
  }
  const lines = (page: Page) => page.locator('#messages li').allTextContents()
  const say = async (page: Page, text: string) => {
    await page.fill('#text', text)
    await page.click('text=Send')
  }
  // Waits until a tab shows exactly `expected`, in order (an extra or doubled line fails).
  const shows = async (page: Page, expected: string[], what: string) => {
    await page.waitForFunction(count => document.querySelectorAll('#messages li').length >= count, expected.length, { timeout: 10_000 })
    t.same(await lines(page), expected, what)
  }
  // A message posted by someone with no tab open, straight to the API; returns its id.
  const post = async (from: string, text: string): Promise<string> => {
    const response = await fetch(`${url}/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ from, text }) })
    t.equal(response.status, 201)
    return ((await response.json()) as { id: string }).id
  }

  const ann = await open('ann')
  const bob = await open('bob')
  const seen: string[] = []
  await say(ann, 'hello from ann')
  seen.push('annhello from ann')
  await shows(bob, seen, 'bob sees ann\'s message')
  await say(bob, 'hi ann')
  seen.push('bobhi ann')
  await shows(ann, seen, 'ann sees bob\'s message, after her own')

  // The server drops every connection; while the tabs wait `retry` to reconnect, more is said.
  const lastSeenId = await ann.evaluate(() => JSON.parse(sessionStorage.getItem('fastify-typed-sse chat: lobby')!).lastEventId as string)
  const before = requests.length
  app.server.closeAllConnections()
  await post('cy', 'anyone there?')
  await post('cy', 'hello?')
  const publishedAt = Date.now()
  seen.push('cyanyone there?', 'cyhello?')
  await shows(ann, seen, 'ann gets what was said while she was disconnected, once')
  await shows(bob, seen, 'so does bob')
  const reconnects = requests.slice(before)
  t.equal(reconnects.length, 2, 'each tab reconnected once')
  t.ok(reconnects.every(request => request.at > publishedAt), 'the messages were published before the tabs were back')
  t.same(reconnects.map(request => request.header), [lastSeenId, lastSeenId], 'both reconnected with Last-Event-ID: the id of the last message seen')
  await ann.locator('#status', { hasText: 'connected' }).waitFor()

  // Ann leaves the page (its sessionStorage stays with the tab); bob talks; ann comes back.
  const annLastId = await ann.evaluate(() => JSON.parse(sessionStorage.getItem('fastify-typed-sse chat: lobby')!).lastEventId as string)
  await ann.goto('about:blank')
  await say(bob, 'ann left?')
  seen.push('bobann left?')
  await shows(bob, seen, 'bob sees his own message')
  const annBack = requests.length
  await ann.goto(url)
  await shows(ann, seen, 'ann, back, shows what she had and what she missed, each once')
  t.equal(requests[annBack]?.query, annLastId, 'the page resumed with ?lastEventId= (a new EventSource cannot send the header)')

  // A plain reload shows the same lines, and live messages still arrive.
  await ann.reload()
  await ann.locator('#status', { hasText: 'connected' }).waitFor({ timeout: 10_000 })
  await say(bob, 'welcome back')
  seen.push('bobwelcome back')
  await shows(ann, seen, 'after a reload: the same history, then the new message, nothing twice')
  await shows(bob, seen, 'bob, who stayed, has every message once')
  await screenshot(ann, 'chat')
  t.same(errors, [], 'no script errors in the tabs')
})

t.test('a tab whose id can no longer be resumed says some messages are lost, once, then goes on', async t => {
  const app = await buildChat({ retry: 1000, logger: false })
  const url = await listen(t, app)
  const page = await newPage(t, await launchBrowser(t))
  await page.goto(url)
  await page.fill('#from', 'dee')
  // An id from before a restart of the (in-memory) server: older than anything it holds.
  await page.evaluate(() => sessionStorage.setItem('fastify-typed-sse chat: lobby', JSON.stringify({ lastEventId: '1-0', messages: [], name: 'dee' })))
  await page.reload()
  await page.locator('#messages li.notice', { hasText: 'Some messages could not be recovered.' }).waitFor({ timeout: 10_000 })
  await page.fill('#text', 'still here')
  await page.click('text=Send')
  await page.locator('#messages li', { hasText: 'still here' }).waitFor({ timeout: 10_000 })
  await page.reload()
  await page.locator('#status', { hasText: 'connected' }).waitFor({ timeout: 10_000 })
  t.same(await page.locator('#messages li').allTextContents(), ['Some messages could not be recovered.', 'deestill here'],
    'after the reset the tab resumes normally: no second notice, no lost or doubled message')
})
