// The clock example in a real browser: EventSource's onmessage fills the time, a named `tick`
// event counts up through addEventListener, and `end` closes the stream.
import t from 'tap'
import { buildClock } from '../../examples/clock/server.js'
import { launchBrowser, listen, newPage, screenshot } from '../helpers/browser.js'

t.test('the page shows the time from onmessage, counts named tick events and closes on end', async t => {
  const ticks = 4
  const app = await buildClock(ticks, { intervalMs: 100, logger: false })
  const url = await listen(t, app)
  const page = await newPage(t, await launchBrowser(t))
  await page.goto(url)

  await page.locator('#status', { hasText: `ended: ${ticks} ticks done` }).waitFor({ timeout: 10_000 })
  const time = await page.locator('#time').textContent()
  t.match(time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'the time came from an unnamed event')
  t.equal(await page.locator('#ticks').textContent(), String(ticks), 'every tick event was counted')
  await screenshot(page, 'clock')
})
