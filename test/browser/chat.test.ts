// The chat room in a real browser, as people use it: each signs in with a name and sees the
// others' messages under their names. When the server drops the connections, the tabs reconnect
// with Last-Event-ID and get what was published meanwhile; a tab that leaves and comes back
// resumes from the id it kept. Nothing is lost, nothing shown twice.
import t from 'tap'
import { screenshot } from '../helpers/browser.js'
import { KEY, setupChat } from '../helpers/chat.js'

t.test('two people see each other\'s messages under their names, and resume by Last-Event-ID after a drop and after leaving', async t => {
  const { app, url, requests, person, open, say, shows, signInRaw, post } = await setupChat(t)
  const ann = await open(await person(), 'ann')
  const bob = await open(await person(), 'bob')
  // Someone with no tab open, posting straight to the API; returns the message's id. (Signed in
  // when first needed: the drop below would cut a connection kept alive since.)
  let cy: string | undefined
  const postAsCy = async (text: string): Promise<string> => {
    cy ??= await signInRaw('cy')
    const response = await post(cy, { text })
    t.equal(response.status, 201)
    return ((await response.json()) as { id: string }).id
  }

  const seen: string[] = []
  await say(ann, 'hello from ann')
  seen.push('annhello from ann')
  await shows(bob, seen, 'bob sees ann\'s message, under her name')
  await say(bob, 'hi ann')
  seen.push('bobhi ann')
  await shows(ann, seen, 'ann sees bob\'s message, after her own')
  t.same(await ann.locator('#messages li.mine').allTextContents(), ['annhello from ann'], 'ann\'s tab marks her own message as hers')
  t.same(await bob.locator('#messages li.mine').allTextContents(), ['bobhi ann'], 'and bob\'s his')

  // The server drops every connection; while the tabs wait `retry` to reconnect, more is said.
  const lastSeenId = await ann.evaluate(key => JSON.parse(sessionStorage.getItem(key)!).lastEventId as string, KEY)
  const before = requests.length
  app.server.closeAllConnections()
  await postAsCy('anyone there?')
  await postAsCy('hello?')
  const publishedAt = Date.now()
  seen.push('cyanyone there?', 'cyhello?')
  await shows(ann, seen, 'ann gets what was said while she was disconnected, once')
  await shows(bob, seen, 'so does bob')
  const reconnects = requests.slice(before)
  t.equal(reconnects.length, 2, 'each tab reconnected once')
  t.ok(reconnects.every(request => request.at > publishedAt), 'the messages were published before the tabs were back')
  t.same(reconnects.map(request => request.header), [lastSeenId, lastSeenId], 'both reconnected with Last-Event-ID: the id of the last message seen')
  await ann.locator('#status', { hasText: 'connected' }).waitFor()

  // Ann leaves the page (its sessionStorage stays with the tab); bob talks; ann comes back, still
  // signed in (the cookie stayed in her browser).
  const annLastId = await ann.evaluate(key => JSON.parse(sessionStorage.getItem(key)!).lastEventId as string, KEY)
  await ann.goto('about:blank')
  await say(bob, 'ann left?')
  seen.push('bobann left?')
  await shows(bob, seen, 'bob sees his own message')
  const annBack = requests.length
  await ann.goto(url)
  await shows(ann, seen, 'ann, back, shows what she had and what she missed, each once')
  t.equal(await ann.locator('#me').textContent(), 'ann', 'still signed in as ann')
  t.equal(requests[annBack]?.query, annLastId, 'the page resumed with ?lastEventId= (a new EventSource cannot send the header)')

  // A plain reload shows the same lines, and live messages still arrive.
  await ann.reload()
  await ann.locator('#status', { hasText: 'connected' }).waitFor({ timeout: 10_000 })
  await say(bob, 'welcome back')
  seen.push('bobwelcome back')
  await shows(ann, seen, 'after a reload: the same history, then the new message, nothing twice')
  await shows(bob, seen, 'bob, who stayed, has every message once')
  await screenshot(ann, 'chat')
})

t.test('a tab whose id can no longer be resumed says some messages are lost, once, then goes on', async t => {
  const { person, open, connected, say } = await setupChat(t)
  const page = await open(await person(), 'dee')
  // An id from before a restart of the (in-memory) server: older than anything it holds.
  await page.evaluate(key => sessionStorage.setItem(key, JSON.stringify({ lastEventId: '1-0', messages: [] })), KEY)
  await page.reload()
  await page.locator('#messages li.notice', { hasText: 'Some messages could not be recovered.' }).waitFor({ timeout: 10_000 })
  await say(page, 'still here')
  await page.locator('#messages li', { hasText: 'still here' }).waitFor({ timeout: 10_000 })
  await page.reload()
  await connected(page)
  t.same(await page.locator('#messages li').allTextContents(), ['Some messages could not be recovered.', 'deestill here'],
    'after the reset the tab resumes normally: no second notice, no lost or doubled message')
})
