// A real headless Chromium (Debian's `chromium`) driven by playwright-core, for tests that load an
// example page and check what a person would see. One browser per (sub)test, closed when it ends:
// a browser held by the root test would keep the process alive past its last subtest.
import { access, mkdir } from 'node:fs/promises'
import { constants } from 'node:fs'
import type { FastifyInstance } from 'fastify'
import { chromium, type Browser, type Page } from 'playwright-core'

/** Where Debian's `chromium` package puts the browser; CHROMIUM_PATH overrides it. */
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

// The machine has no internet: without the background-networking flags Chromium keeps trying to
// reach Google services, which slows it down and can stall page loads.
const args = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync'
]

interface Teardown { after (fn: () => unknown): void }

/**
 * Launches Chromium, closed when the test ends. A missing browser is a failure, never a skip:
 * these tests are how the examples are shown to work.
 */
export async function launchBrowser (t: Teardown): Promise<Browser> {
  try {
    await access(chromiumPath, constants.X_OK)
  } catch {
    throw new Error(`Chromium not found at ${chromiumPath}: the browser tests need it. ` +
      'Install it with `apt-get update && apt-get install -y chromium` (or set CHROMIUM_PATH).')
  }
  const browser = await chromium.launch({ executablePath: chromiumPath, args })
  t.after(() => browser.close())
  return browser
}

/** A fresh page in its own context (own cookies), closed when the test ends. */
export async function newPage (t: Teardown, browser: Browser): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 800, height: 600 } })
  t.after(() => context.close())
  const page = await context.newPage()
  // Errors in the page's own script would otherwise pass silently.
  const errors: Error[] = []
  page.on('pageerror', error => errors.push(error))
  t.after(() => {
    if (errors.length > 0) throw new Error(`the page threw: ${errors.map(e => e.message).join('; ')}`)
  })
  return page
}

/** Saves a screenshot of the page as test-artifacts/<name>.png. */
export async function screenshot (page: Page, name: string): Promise<string> {
  const dir = new URL('../../test-artifacts/', import.meta.url)
  await mkdir(dir, { recursive: true })
  const path = new URL(`${name}.png`, dir).pathname
  await page.screenshot({ path, fullPage: true })
  return path
}

/**
 * Counts the requests an app receives on one route (by its URL pattern, e.g. `/jobs/:id/events`),
 * so a test can tell whether the browser reconnected. Call before the app listens.
 */
export function countRequests (app: FastifyInstance, routeUrl: string): { readonly count: number } {
  const counter = { count: 0 }
  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.url === routeUrl) counter.count++
  })
  return counter
}

/** Listens on 127.0.0.1, a free port; closed when the test ends. Returns http://127.0.0.1:PORT. */
export async function listen (t: Teardown, app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.after(() => app.close())
  return originOf(app)
}

export function originOf (app: FastifyInstance): string {
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('expected a TCP address')
  return `http://127.0.0.1:${address.port}`
}
