// The chat example, served on a free port, with a real Chromium and what the chat tests do with
// them: people (a browser context each, so a cookie jar each), tabs, posts from the page and
// from plain HTTP as a script would send them.
import type { Test } from 'tap'
import type { BrowserContext, Page } from 'playwright-core'
import { buildChat, type ChatOptions } from '../../examples/chat/server.js'
import { launchBrowser, listen } from './browser.js'

export interface StreamRequest { at: number, header: string | undefined, query: string | undefined }

/** Where a chat tab keeps what it has seen (sessionStorage). */
export const KEY = 'fastify-typed-sse chat: lobby'

/** A chat server on a free port, a browser, and what the tests do with them. */
export async function setupChat (t: Test, options: ChatOptions = {}) {
  const app = await buildChat({ retry: 1000, logger: false, ...options })
  const requests: StreamRequest[] = []
  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.url !== '/events') return
    const header = request.headers['last-event-id']
    requests.push({ at: Date.now(), header: typeof header === 'string' ? header : undefined, query: (request.query as { lastEventId?: string }).lastEventId })
  })
  const url = await listen(t, app)
  const browser = await launchBrowser(t)
  const errors: string[] = []
  // Errors in the pages' own script would otherwise pass silently.
  t.after(() => {
    if (errors.length > 0) throw new Error(`a tab threw: ${errors.join('; ')}`)
  })

  /** One person: a browser context of their own, so a cookie jar of their own. */
  const person = async (): Promise<BrowserContext> => {
    const context = await browser.newContext({ viewport: { width: 800, height: 700 } })
    t.after(() => context.close())
    return context
  }
  /** A tab of `context`, signed in as `name` (if not already) and connected. */
  const open = async (context: BrowserContext, name?: string): Promise<Page> => {
    const page = await context.newPage()
    page.on('pageerror', error => errors.push(error.message))
    await page.goto(url)
    if (name !== undefined) await signIn(page, name)
    await connected(page)
    return page
  }
  const signIn = async (page: Page, name: string) => {
    await page.locator('#signin').waitFor({ timeout: 10_000 })
    await page.fill('#name', name)
    await page.click('text=Sign in')
  }
  const connected = (page: Page) => page.locator('#status', { hasText: /^connected$/ }).waitFor({ timeout: 10_000 })
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
  /** The session cookie a browser context holds, as a Cookie header. */
  const cookieOf = async (context: BrowserContext): Promise<string> => {
    const cookie = (await context.cookies(url)).find(cookie => cookie.name === 'session')
    t.ok(cookie, 'the browser holds a session cookie')
    return `session=${cookie?.value}`
  }
  /** Signs in over plain HTTP, as a script would: returns the session cookie. */
  const signInRaw = async (name: string): Promise<string> => {
    const response = await fetch(`${url}/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }) })
    t.equal(response.status, 200, `${name} signs in`)
    const cookie = response.headers.getSetCookie().find(cookie => cookie.startsWith('session='))
    t.ok(cookie, 'the answer sets a session cookie')
    return cookie!.split(';')[0]!
  }
  /** A post over plain HTTP, with whatever cookie and body a client chooses. */
  const post = (cookie: string | undefined, body: unknown) => fetch(`${url}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(cookie === undefined ? {} : { cookie }) },
    body: JSON.stringify(body)
  })
  return { app, url, requests, person, open, signIn, connected, lines, say, shows, cookieOf, signInRaw, post }
}
