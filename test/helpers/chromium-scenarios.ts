// Runs a group of client scenarios (test/helpers/client-scenarios.ts) in headless Chromium, one
// page per scenario on the scenario's origin, with the browser's own fetch and streams; the heap
// is read over the DevTools protocol.
import type { Test } from 'tap'
import type { Page } from 'playwright-core'
import { launchBrowser, newPage } from './browser.js'
import { runScenarios, type ScenarioStart } from './client-scenarios.js'
import { runInPage } from './harness.js'

export async function runInChromium (t: Test, group: Record<string, ScenarioStart>): Promise<void> {
  const browser = await launchBrowser(t)
  let current: Page | undefined
  await runScenarios(t, group, async scenario => {
    current = await newPage(t, browser)
    await current.goto(`${scenario.origin}/harness/`)
    await current.waitForFunction(() => 'runClient' in globalThis)
    return runInPage(current, scenario.url, scenario.options, scenario.stop)
  }, async () => {
    if (current === undefined) return 0
    const cdp = await current.context().newCDPSession(current)
    const { usedSize } = await cdp.send('Runtime.getHeapUsage')
    await cdp.detach()
    return usedSize
  })
}
