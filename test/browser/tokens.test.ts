// The tokens example in a real browser: the page POSTs a prompt and reads the answer with the
// typed client (fastify-typed-sse/client, bundled for the page), token by token; Stop aborts it;
// a dropped connection shows "reconnecting in N s" and the answer resumes where it was.
import t, { type Test } from 'tap'
import { Writable } from 'node:stream'
import { buildTokens } from '../../examples/tokens/server.js'
import { tokensFor } from '../../examples/tokens/model.js'
import { launchBrowser, listen, newPage, screenshot } from '../helpers/browser.js'
import { until } from '../helpers/server.js'

interface LogLine { msg: string, from?: number, sent?: number, total?: number, stopped?: boolean, req?: { headers?: Record<string, string> } }

async function start (t: Test, tokenMs: number) {
  const logs: LogLine[] = []
  const stream = new Writable({
    write (chunk, _encoding, callback) {
      for (const line of String(chunk).split('\n')) if (line !== '') logs.push(JSON.parse(line))
      callback()
    }
  })
  const app = await buildTokens({ tokenMs, logger: { level: 'info', stream } })
  const url = await listen(t, app)
  const page = await newPage(t, await launchBrowser(t))
  await page.goto(url)
  // Every text the status lines show, as they change.
  await page.evaluate(() => {
    const seen: string[] = []
    const connection = document.querySelector('#connection')!
    new MutationObserver(() => seen.push(connection.textContent ?? '')).observe(connection, { childList: true, characterData: true, subtree: true })
    Object.assign(window, { connectionTexts: seen })
  })
  return { page, logs, app }
}

function connectionTexts (page: import('playwright-core').Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { connectionTexts: string[] }).connectionTexts)
}

t.test('the typed client in the page shows the answer token by token, raw strings intact', async t => {
  const { page, logs } = await start(t, 10)
  const prompt = 'Why stream tokens?'
  const expected = tokensFor(prompt)
  await page.evaluate(() => {
    const lengths: number[] = []
    const output = document.querySelector('#output')!
    new MutationObserver(() => lengths.push(output.textContent?.length ?? 0)).observe(output, { childList: true, characterData: true, subtree: true })
    Object.assign(window, { lengths })
  })
  await page.fill('#prompt', prompt)
  await page.click('text=Ask')
  await page.locator('#status', { hasText: /^done: / }).waitFor({ timeout: 15_000 })

  t.equal(await page.locator('#status').textContent(), `done: ${expected.length} tokens (stop)`, 'the typed done event arrived')
  t.equal(await page.locator('#output').textContent(), expected.join(''),
    'the text is every token in order, spaces and line breaks kept (raw string data)')
  const lengths = await page.evaluate(() => (window as unknown as { lengths: number[] }).lengths)
  t.ok(new Set(lengths).size >= expected.length / 2, `the answer grew token by token (${lengths.length} updates)`)
  await screenshot(page, 'tokens')
  await until(() => logs.some(line => line.msg === 'answer ended'), 'the server to log the end of the answer')
  t.match(logs.find(line => line.msg === 'answer ended'), { from: 0, sent: expected.length, stopped: false })
  t.same(await connectionTexts(page), ['connecting…', 'connected', 'disconnected'], 'the connection line followed the client\'s status')
})

t.test('a connection dropped mid-answer: the page shows "reconnecting in N s", then the answer resumes where it was', async t => {
  const { page, logs, app } = await start(t, 40)
  const prompt = 'Does it survive a dropped connection?'
  const expected = tokensFor(prompt)
  await page.fill('#prompt', prompt)
  await page.click('text=Ask')
  await page.waitForFunction(() => parseInt(document.querySelector('#status')?.textContent ?? '', 10) >= 5, undefined, { timeout: 10_000 })
  // The network drops every connection, as a proxy restarting would.
  ;(app.server as import('node:http').Server).closeAllConnections()
  await page.locator('#connection', { hasText: /^reconnecting in \d+ s \(attempt 1\)$/ }).waitFor({ timeout: 10_000 })
  await screenshot(page, 'tokens-reconnecting')
  await page.locator('#status', { hasText: /^done: / }).waitFor({ timeout: 20_000 })

  t.equal(await page.locator('#output').textContent(), expected.join(''), 'every token once, in order, across the reconnect')
  t.equal(await page.locator('#status').textContent(), `done: ${expected.length} tokens (stop)`)
  const texts = await connectionTexts(page)
  t.match(texts, ['connecting…', 'connected', /^reconnecting in [0-3] s \(attempt 1\)$/], 'the countdown was shown')
  t.same(texts.slice(-3), ['connecting… (attempt 1)', 'connected', 'disconnected'])
  await until(() => logs.filter(line => line.msg === 'answer ended').length === 2, 'both connections to end')
  const [first, second] = logs.filter(line => line.msg === 'answer ended')
  t.equal(second?.from, (first?.from ?? 0) + (first?.sent ?? 0), 'the second connection started after the last token the page had')
  t.equal(second?.stopped, false)
})

t.test('Stop aborts the request, and the server stops generating', async t => {
  // Slow enough that the answer cannot finish while the test presses Stop.
  const { page, logs } = await start(t, 200)
  await page.click('text=Ask')
  await page.waitForFunction(() => parseInt(document.querySelector('#status')?.textContent ?? '', 10) >= 2, undefined, { timeout: 10_000 })
  await page.click('#stop')
  await page.locator('#status', { hasText: /^stopped after \d+ tokens$/ }).waitFor({ timeout: 10_000 })

  await until(() => logs.some(line => line.msg === 'answer ended'), 'the server to notice the client left')
  const ended = logs.find(line => line.msg === 'answer ended')
  const shown = parseInt((await page.locator('#status').textContent())!.replace('stopped after ', ''), 10)
  t.equal(ended?.stopped, true, 'the source ended before the answer was complete')
  t.ok(ended !== undefined && ended.sent! < ended.total!, `it sent ${ended?.sent} of ${ended?.total} tokens`)
  t.ok(ended !== undefined && ended.sent! >= shown, 'at least what the page showed')
})
