// The progress example in a real browser: the bar fills from `progress` events, and after the
// typed `end` event the page closes the EventSource, so the browser does not reconnect.
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildProgress } from '../../examples/progress/server.js'
import { countRequests, launchBrowser, listen, newPage, screenshot } from '../helpers/browser.js'
import { until } from '../helpers/server.js'

// The example sends `retry: 500`: a browser that meant to reconnect would do so within this.
const RECONNECT_WINDOW_MS = 2000

t.test('the bar fills to 100% from progress events, and end closes the stream for good', async t => {
  const steps = 20
  const app = await buildProgress({ steps, stepMs: 30, logger: false })
  const streams = countRequests(app, '/jobs/:id/events')
  const url = await listen(t, app)
  const page = await newPage(t, await launchBrowser(t))
  await page.goto(url)

  // Record every percentage the page shows, to see the bar fill step by step.
  await page.evaluate(() => {
    const shown: string[] = []
    const percent = document.querySelector('#percent')!
    new MutationObserver(() => shown.push(percent.textContent ?? '')).observe(percent, { childList: true, characterData: true, subtree: true })
    Object.assign(window, { shown })
  })
  await page.click('#start')
  await page.locator('#status', { hasText: /^done: / }).waitFor({ timeout: 10_000 })

  t.equal(await page.locator('#bar').evaluate(bar => (bar as HTMLProgressElement).value), 100, 'the progress bar is full')
  t.equal(await page.locator('#percent').textContent(), '100%')
  t.equal(await page.locator('#step').textContent(), `step ${steps} of ${steps}`)
  const shown = (await page.evaluate(() => (window as unknown as { shown: string[] }).shown)).map(text => parseInt(text, 10))
  t.ok(shown.length >= steps / 2, `the bar moved in steps (${shown.join(', ')})`)
  t.same(shown, [...shown].sort((a, b) => a - b), 'and only forward')
  await screenshot(page, 'progress')

  t.equal(streams.count, 1, 'one stream request while the job ran')
  await sleep(RECONNECT_WINDOW_MS)
  t.equal(streams.count, 1, 'no reconnect after end: the page called close()')

  // The same stream watched without close(): the browser does reconnect, and the server sees it.
  // This is what the check above would have counted had the page not closed.
  await page.evaluate(async () => {
    const { id } = await (await fetch('/jobs', { method: 'POST' })).json() as { id: string }
    Object.assign(window, { careless: new EventSource(`/jobs/${id}/events`) })
  })
  await until(() => streams.count >= 3, 'a page without close() to reconnect after end')
  await page.evaluate(() => (window as unknown as { careless: EventSource }).careless.close())
  t.pass('a page without close() reconnects after end')
})
