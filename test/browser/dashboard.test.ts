// The dashboard example in a real browser: one EventSource for three topics, the orders topic
// filtered to the signed-in customer. While a tab is away (reloaded, or gone to another page and
// back), every topic publishes; back, the tab shows exactly what it had plus what it missed, in
// each panel, once, and never another customer's order. A topic that can no longer resume gets
// its own reset, and only its panel is refetched.
import t, { type Test } from 'tap'
import type { Page } from 'playwright-core'
import { buildDashboard, newsEvents, serviceEvents } from '../../examples/dashboard/server.js'
import { launchBrowser, listen, screenshot } from '../helpers/browser.js'

const KEY = 'fastify-typed-sse dashboard'

async function setup (t: Test, retain?: number) {
  const dashboard = await buildDashboard({ logger: false, retry: 500, ...(retain === undefined ? {} : { retain }) })
  // The lastEventId each stream request came with.
  const streams: Array<string | undefined> = []
  dashboard.addHook('onRequest', async request => {
    if (request.routeOptions.url === '/events') streams.push((request.query as { lastEventId?: string }).lastEventId)
  })
  const url = await listen(t, dashboard)
  const browser = await launchBrowser(t)
  const errors: string[] = []
  t.after(() => { if (errors.length > 0) throw new Error(`a page threw: ${errors.join('; ')}`) })
  const open = async (name: string): Promise<Page> => {
    const context = await browser.newContext({ viewport: { width: 1000, height: 700 } })
    t.after(() => context.close())
    const page = await context.newPage()
    page.on('pageerror', error => errors.push(error.message))
    await page.goto(url)
    await page.fill('#name', name)
    await page.click('text=Sign in')
    await connected(page)
    return page
  }
  const connected = (page: Page) => page.locator('#status', { hasText: /^connected$/ }).waitFor({ timeout: 10_000 })
  const order = async (page: Page, item: string) => {
    await page.fill('#item', item)
    await page.click('#order button')
  }
  const news = dashboard.sse.topic('shop:news', { events: newsEvents })
  const service = dashboard.sse.topic('shop:service', { events: serviceEvents })
  return { url, streams, open, order, news, service }
}

/** What each panel shows. */
async function panels (page: Page) {
  return {
    orders: await page.locator('#orders li').allTextContents(),
    news: await page.locator('#news li').allTextContents(),
    service: await page.locator('#service').textContent()
  }
}

/** Waits until the panels show `expected` (a doubled or missing line fails). */
async function shows (t: Test, page: Page, expected: Awaited<ReturnType<typeof panels>>, what: string) {
  await page.waitForFunction(({ orders, news, service }) =>
    document.querySelectorAll('#orders li').length >= orders &&
    document.querySelectorAll('#news li').length >= news &&
    document.querySelector('#service')?.textContent === service,
  { orders: expected.orders.length, news: expected.news.length, service: expected.service }, { timeout: 10_000 })
  // A moment for anything doubled to show up too.
  await page.waitForTimeout(100)
  t.same(await panels(page), expected, what)
}

t.test('one stream, three topics: each customer sees their own orders and everyone\'s news; a reload resumes every topic exactly', async t => {
  const { url, streams, open, order, news, service } = await setup(t)
  const ann = await open('ann')
  const bob = await open('bob')
  await order(ann, 'teapot')
  await order(bob, 'kettle')
  await news.publish({ event: 'news', data: { text: 'Spring sale', at: '2026-03-01T00:00:00Z' } })
  const expectedAnn = { orders: ['teapot: placed'], news: ['Spring sale'], service: 'No news is good news.' }
  await shows(t, ann, expectedAnn, 'ann sees her order and the news, not bob\'s order')
  await shows(t, bob, { orders: ['kettle: placed'], news: ['Spring sale'], service: 'No news is good news.' }, 'bob sees his')

  // Ann leaves the page; meanwhile every topic publishes, bob's orders included.
  const held = await ann.evaluate(key => JSON.parse(sessionStorage.getItem(key)!).lastEventId as string, KEY)
  t.match(held, /^~[0-9A-Za-z]+(\.[0-9A-Za-z]{5}[0-9A-Za-z_]*){3}$/, 'the id the page keeps holds a position per topic')
  await ann.goto('about:blank')
  await order(bob, 'toaster')
  await service.publish({ event: 'service', data: { level: 'degraded', text: 'Payments are slow' } })
  await news.publish({ event: 'news', data: { text: 'New teapots in stock', at: '2026-03-02T00:00:00Z' } })
  await service.publish({ event: 'service', data: { level: 'ok', text: 'All systems normal' } })
  const before = streams.length
  await ann.goto(url)
  await shows(t, ann, { orders: ['teapot: placed'], news: ['Spring sale', 'New teapots in stock'], service: 'All systems normal' },
    'back: what she had, what she missed in each topic, once; none of bob\'s orders')
  t.equal(streams[before], held, 'the page resumed with ?lastEventId= holding every topic\'s position')

  // A reload in the middle of things: her next order, and news, while the page reloads.
  await order(ann, 'cups')
  await shows(t, ann, { orders: ['teapot: placed', 'cups: placed'], news: ['Spring sale', 'New teapots in stock'], service: 'All systems normal' }, 'her second order')
  const reloading = ann.reload()
  await news.publish({ event: 'news', data: { text: 'Cups restocked', at: '2026-03-03T00:00:00Z' } })
  await reloading
  await shows(t, ann, { orders: ['teapot: placed', 'cups: placed'], news: ['Spring sale', 'New teapots in stock', 'Cups restocked'], service: 'All systems normal' }, 'after a reload, exactly once each')
  await screenshot(ann, 'dashboard-ann')
  await shows(t, bob, { orders: ['kettle: placed', 'toaster: placed'], news: ['Spring sale', 'New teapots in stock', 'Cups restocked'], service: 'All systems normal' }, 'bob saw it all live, and only his orders')
})

t.test('a topic that can no longer resume gets its own reset: only its panel is refetched, the others resume exactly', async t => {
  const { url, open, order, news, service } = await setup(t, 3)
  const ann = await open('ann')
  await order(ann, 'teapot')
  await news.publish({ event: 'news', data: { text: 'n0', at: '2026-03-01T00:00:00Z' } })
  await shows(t, ann, { orders: ['teapot: placed'], news: ['n0'], service: 'No news is good news.' }, 'before')
  await ann.goto('about:blank')
  // More news than the topic keeps (3), one service update.
  for (let n = 1; n <= 5; n++) await news.publish({ event: 'news', data: { text: `n${n}`, at: '2026-03-01T00:00:00Z' } })
  await service.publish({ event: 'service', data: { level: 'degraded', text: 'Payments are slow' } })
  await ann.goto(url)
  await shows(t, ann, { orders: ['teapot: placed'], news: ['n0', 'Some news may be missing.'], service: 'Payments are slow' },
    'the news topic was reset (the page says so); orders and service resumed exactly')
  await news.publish({ event: 'news', data: { text: 'n6', at: '2026-03-01T00:00:00Z' } })
  await shows(t, ann, { orders: ['teapot: placed'], news: ['n0', 'Some news may be missing.', 'n6'], service: 'Payments are slow' }, 'then live again')
  await screenshot(ann, 'dashboard-reset')
})
