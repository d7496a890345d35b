// What a hostile client tries against the chat example does not work: posting without a session
// or with a cookie the server did not seal, naming another author in the body, posting faster than
// the limit, minting sessions to get round it, using a session after it has ended. What people see
// is checked in a real browser; what a script sends, over plain HTTP.
import t from 'tap'
import { screenshot } from '../helpers/browser.js'
import { setupChat } from '../helpers/chat.js'

t.test('the author is the session\'s: a post without a session is refused, and an author named in the body is ignored', async t => {
  const { url, person, open, cookieOf, post, shows } = await setupChat(t)
  const annContext = await person()
  const ann = await open(annContext, 'ann')
  const bob = await open(await person(), 'bob')
  const annCookie = await cookieOf(annContext)

  const anonymous = await post(undefined, { from: 'bob', text: 'I am bob' })
  t.equal(anonymous.status, 401, 'no session: 401')
  t.match(await anonymous.json(), { message: /sign in/ }, 'and the answer says what to do')
  // The shape of a sealed cookie (ciphertext;nonce, base64), sealed with some other key.
  const sealedElsewhere = `${Buffer.alloc(64, 7).toString('base64')};${Buffer.alloc(24, 1).toString('base64')}`
  const forgedCookie = await post(`session=${encodeURIComponent(sealedElsewhere)}`, { text: 'let me in' })
  t.equal(forgedCookie.status, 401, 'a cookie the server did not seal: 401')
  const stream = await fetch(`${url}/events`, { headers: { accept: 'text/event-stream' } })
  t.equal(stream.status, 401, 'the stream needs a session too')
  await stream.body?.cancel()

  const forged = await post(annCookie, { from: 'bob', fromId: 'someone-else', text: 'I am bob' })
  t.equal(forged.status, 201, 'ann\'s post naming bob as its author is accepted…')
  await shows(bob, ['annI am bob'], '…and shown as ann\'s: the author came from her session')
  t.same(await bob.locator('#messages li.mine').count(), 0, 'bob\'s tab does not take it for his')
  t.same(await ann.locator('#messages li.mine').allTextContents(), ['annI am bob'], 'ann\'s tab knows it for hers')

  // Limits count characters as a person does: 500 emoji are 500 characters (1000 UTF-16 units).
  const longest = '😀'.repeat(500)
  t.equal((await post(annCookie, { text: longest })).status, 201, 'the longest message, in emoji, is accepted')
  await shows(bob, ['annI am bob', `ann${longest}`], 'and shown')
  t.equal((await post(annCookie, { text: 'x'.repeat(501) })).status, 400, 'one character more is refused by the route\'s schema')
  t.equal((await post(annCookie, { text: 'x'.repeat(10_000) })).status, 413, 'a body far over the limit is refused before it is parsed')
  t.equal((await post(annCookie, { text: '' })).status, 400, 'an empty message is refused')

  const spoof = await fetch(`${url}/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: '\u202Enna' }) })
  t.equal(spoof.status, 400, 'a name with a right-to-left override (shown as "ann") is refused')
  t.same(await bob.locator('#messages li').allTextContents(), ['annI am bob', `ann${longest}`], 'nothing else reached the room')

  // Signing out drops the cookie from her browser, and the page no longer streams.
  await ann.click('text=Sign out')
  await ann.locator('#signin-note', { hasText: 'Signed out.' }).waitFor({ timeout: 10_000 })
  t.equal((await annContext.cookies(url)).find(cookie => cookie.name === 'session'), undefined, 'signed out, the browser holds no session cookie')
  await ann.reload()
  await ann.locator('#signin').waitFor({ timeout: 10_000 })
  t.equal(await ann.locator('#room').isHidden(), true, 'and a reload shows the sign-in form, not the room')
})

t.test('posting faster than the limit gets 429 with Retry-After, per person; signing in is limited per address', async t => {
  const { person, open, say, shows, cookieOf, post, signInRaw, url } = await setupChat(t, {
    postLimit: { max: 3, timeWindow: 60_000 },
    signInLimit: { max: 4, timeWindow: 60_000 }
  })
  const annContext = await person()
  const ann = await open(annContext, 'ann')
  const bob = await open(await person(), 'bob')
  const seen: string[] = []
  for (const n of [1, 2, 3]) {
    await say(ann, `ann ${n}`)
    seen.push(`annann ${n}`)
    await shows(bob, seen, `ann's message ${n} arrives`)
  }
  await say(ann, 'ann 4')
  await ann.locator('#status', { hasText: /^Slow down: try again in \d+ s\.$/ }).waitFor({ timeout: 10_000 })
  const over = await post(await cookieOf(annContext), { text: 'ann 5' })
  t.equal(over.status, 429, 'over the limit: 429')
  const retryAfter = Number(over.headers.get('retry-after'))
  t.ok(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 60, `Retry-After says when to try again, within the window (${retryAfter} s)`)
  t.equal(await ann.inputValue('#text'), 'ann 4', 'the refused message stays in ann\'s input, to send later')
  await screenshot(ann, 'chat-rate-limited')

  // Bob has his own allowance, though both come from the same address.
  await say(bob, 'bob 1')
  seen.push('bobbob 1')
  await shows(ann, seen, 'bob can still post; ann\'s refused messages were never shown')
  await shows(bob, seen, 'bob sees the same')

  // Two sign-ins so far (ann, bob); two more are allowed, then 429, so a script cannot mint a
  // fresh session, and with it a fresh allowance, for every message.
  await signInRaw('cy')
  await signInRaw('dee')
  const refused = await fetch(`${url}/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'eve' }) })
  t.equal(refused.status, 429, 'the fifth sign-in from one address in the window: 429')
  t.ok(Number(refused.headers.get('retry-after')) > 0, 'with Retry-After')
})

t.test('a session ends after its idle timeout or its lifetime; an open tab renews it, and is told when it has ended', async t => {
  // The stream is renewed every idleTimeout / 2; the other half is the margin for the browser's
  // reconnect, generous so that a slow machine does not fail the test.
  const idleTimeout = 6000
  const lifetime = 15_000
  const { url, requests, person, open, signIn, connected, say, shows, cookieOf, post, signInRaw } = await setupChat(t, {
    retry: 200, sessions: { idleTimeout, lifetime }
  })
  const annContext = await person()
  // Taken before she signs in: her session ends no sooner than this plus its lifetime.
  const signedInAt = Date.now()
  const ann = await open(annContext, 'ann')
  const annCookie = await cookieOf(annContext)
  const idle = await signInRaw('cy')
  const connects = requests.length

  // Ann's tab does nothing but keep its stream open, for longer than the idle timeout.
  await new Promise(resolve => setTimeout(resolve, idleTimeout + 2000))
  t.equal((await post(idle, { text: 'still me?' })).status, 401, 'cy, whose session nobody used for the idle timeout, is refused')
  const stream = await fetch(`${url}/events`, { headers: { cookie: idle } })
  t.equal(stream.status, 401, 'on the stream too')
  await stream.body?.cancel()
  t.ok(requests.length > connects, 'ann\'s stream was ended and reopened to check her session again')
  await connected(ann)
  await say(ann, 'still here')
  await shows(ann, ['annstill here'], 'ann, whose tab stayed open, is still signed in and can post')

  // At the end of its lifetime the session ends, however active: the stream ends, the reconnect
  // is refused, and the tab says so.
  await ann.locator('#signin-note', { hasText: 'Your session has ended: sign in again.' }).waitFor({ timeout: lifetime + 10_000 })
  t.ok(Date.now() >= signedInAt + lifetime, 'not before the end of its lifetime')
  t.equal((await post(annCookie, { text: 'with my old cookie' })).status, 401, 'the server refuses the old cookie, even sent by a script that kept it')
  t.equal(await ann.locator('#room').isHidden(), true, 'the room is hidden until she signs in again')
  await screenshot(ann, 'chat-session-ended')
  await signIn(ann, 'ann')
  await connected(ann)
  await shows(ann, ['annstill here'], 'signed in again, she has the room\'s history')
})
