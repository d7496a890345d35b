// Runs client scenarios in headless Chromium: a page, served by the server under test on its own
// origin (so no CORS), whose script is the client and test/helpers/client-run.ts bundled by
// esbuild with code splitting, as an app would ship it (the validator is a chunk of its own,
// loaded only when the page validates).
import { build } from 'esbuild'
import type { FastifyInstance } from 'fastify'
import type { Page } from 'playwright-core'
import { launchBrowser, newPage } from './browser.js'
import type { RunLog, RunOptions, StopAt } from './client-run.js'

interface Teardown { after (fn: () => unknown): void }

export type HarnessFiles = Map<string, { type: string, body: string | Uint8Array }>

let bundled: Promise<HarnessFiles> | undefined

/** The page and its scripts, by path (built once per test file). */
export function harnessFiles (): Promise<HarnessFiles> {
  bundled ??= (async () => {
    const result = await build({
      entryPoints: [new URL('./harness-page.ts', import.meta.url).pathname],
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      outdir: '/harness',
      write: false,
      logLevel: 'silent'
    })
    const files: HarnessFiles = new Map()
    files.set('/harness/', { type: 'text/html; charset=utf-8', body: '<!doctype html><meta charset="utf-8"><title>client harness</title><script type="module" src="/harness/harness-page.js"></script>' })
    // Chromium asks for one; answered here, it is not taken for a request of the stream.
    files.set('/favicon.ico', { type: 'image/x-icon', body: '' })
    for (const file of result.outputFiles) files.set(file.path, { type: 'text/javascript; charset=utf-8', body: file.contents })
    return files
  })()
  return bundled
}

/** Serves the harness from a Fastify app (call before it listens). */
export async function serveHarness (app: FastifyInstance): Promise<void> {
  const files = await harnessFiles()
  for (const [path, file] of files) app.get(path, (_request, reply) => reply.type(file.type).header('cache-control', 'no-store').send(file.body))
}

/** A Chromium page on `origin`'s harness, ready to run scenarios. */
export async function openHarness (t: Teardown, origin: string): Promise<Page> {
  const page = await newPage(t, await launchBrowser(t))
  await page.goto(`${origin}/harness/`)
  await page.waitForFunction(() => 'runClient' in globalThis)
  return page
}

/** Runs `runClient` in the page, against a path of the page's own origin. */
export function runInPage (page: Page, path: string, options: RunOptions, stop: StopAt): Promise<RunLog> {
  return page.evaluate(([path, options, stop]) => (globalThis as unknown as {
    runClient (url: string, options: RunOptions, stop: StopAt): Promise<RunLog>
  }).runClient(new URL(path, location.href).href, options, stop), [path, options, stop] as const)
}
