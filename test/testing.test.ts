// The test helper: collect a route's typed events (first N, up to an event, until a time-out,
// from a Last-Event-ID) from an app it starts or one already listening, then close the stream.
import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import Fastify from 'fastify'
import { Type } from '@sinclair/typebox'
import ssePlugin from '../src/index.js'
import { appUrl, collectEvents, CollectError } from '../src/testing/index.js'
import { startApp, until } from './helpers/server.js'

const events = {
  tick: Type.Object({ n: Type.Integer() }),
  end: Type.Object({ total: Type.Integer() })
}

// A clock that resumes after Last-Event-ID, sends `end` after tick 4 and ends; or never ends.
async function clock (app: import('fastify').FastifyInstance, state: { open: number, resumedFrom: Array<string | undefined> }) {
  app.get('/clock', { sse: { events } }, async function * (request, _reply, { lastEventId, signal }) {
    state.open++
    state.resumedFrom.push(lastEventId)
    const last = (request.query as { endless?: string }).endless === undefined ? 4 : Infinity
    try {
      for (let n = lastEventId === undefined ? 0 : Number(lastEventId) + 1; n <= last; n++) {
        yield { event: 'tick', id: n, data: { n } }
        await new Promise(resolve => setTimeout(resolve, 5))
        if (signal.aborted) return
      }
      yield { event: 'end', data: { total: 5 } }
    } finally {
      state.open--
    }
  })
}

t.test('starts an app that is not listening and collects the first N typed events', async t => {
  const state = { open: 0, resumedFrom: [] }
  const app = Fastify()
  t.after(() => app.close())
  await app.register(ssePlugin)
  await clock(app, state)
  let opened = 0
  let closed = 0
  app.server.on('connection', socket => { opened++; socket.once('close', () => closed++) })
  const result = await collectEvents(app, '/clock?endless', { events, count: 3 })
  t.same(result, {
    events: [0, 1, 2].map(n => ({ event: 'tick', data: { n }, id: String(n) })),
    lastEventId: '2',
    endedBy: 'count'
  })
  // Typed by the map: the data of a tick has `n`.
  const first = result.events[0]
  if (first?.event === 'tick') t.equal(first.data.n, 0)
  t.ok(app.server.listening, 'the helper started the app')
  t.match(await appUrl(app), /^http:\/\/127\.0\.0\.1:\d+$/)
  await until(() => state.open === 0, 'the server to see the stream closed')
  await until(() => closed === opened, 'every connection to close')
  t.equal(opened, 1, 'one connection, not kept for reuse (a spare would hold app.close())')
  t.equal(state.open, 0)
})

t.test('reuses a listening app; collects until an event name, including it', async t => {
  const state = { open: 0, resumedFrom: [] }
  const { app, url } = await startApp(t, app => clock(app, state))
  t.equal(await appUrl(app), url, 'the app\'s own address')
  const result = await collectEvents(app, '/clock', { events, until: 'end' })
  t.same(result.events.map(e => e.event), ['tick', 'tick', 'tick', 'tick', 'tick', 'end'])
  t.equal(result.endedBy, 'until')
  const last = result.events.at(-1)
  if (last?.event === 'end') t.equal(last.data.total, 5)
  else t.fail('the last event is end')
})

t.test('until also takes a predicate, and a base URL may stand for the app', async t => {
  const state = { open: 0, resumedFrom: [] }
  const { url } = await startApp(t, app => clock(app, state))
  const result = await collectEvents(url, '/clock?endless', { events, until: ev => ev.event === 'tick' && ev.data.n === 2 })
  t.same(result.events.map(e => e.id), ['0', '1', '2'])
  t.equal(result.endedBy, 'until')
})

t.test('collects until a time-out, then closes the stream', async t => {
  const state = { open: 0, resumedFrom: [] }
  const { app } = await startApp(t, app => clock(app, state))
  const result = await collectEvents(app, '/clock?endless', { events, timeout: 100 })
  t.equal(result.endedBy, 'timeout')
  t.ok(result.events.length > 0, 'some ticks arrived')
  t.same(result.events.map(e => e.id), result.events.map((_e, n) => String(n)), 'in order, none lost')
  await until(() => state.open === 0, 'the server to see the stream closed')
  t.equal(state.open, 0)
})

t.test('without count or until, collects until the server ends the stream', async t => {
  const state = { open: 0, resumedFrom: [] }
  const { app } = await startApp(t, app => clock(app, state))
  const result = await collectEvents(app, '/clock', { events })
  t.equal(result.endedBy, 'end')
  t.equal(result.events.length, 6)
})

t.test('resumes from a given Last-Event-ID', async t => {
  const state = { open: 0, resumedFrom: [] as Array<string | undefined> }
  const { app } = await startApp(t, app => clock(app, state))
  const first = await collectEvents(app, '/clock', { events, count: 2 })
  const resumed = await collectEvents(app, '/clock', { events, lastEventId: first.lastEventId, until: 'end' })
  t.same(resumed.events.map(e => e.id), ['2', '3', '4', undefined])
  t.same(state.resumedFrom, [undefined, '1'], 'sent as the Last-Event-ID header')
})

t.test('count or until not reached: CollectError with what did arrive', async t => {
  const state = { open: 0, resumedFrom: [] }
  const { app } = await startApp(t, app => clock(app, state))
  await t.rejects(collectEvents(app, '/clock', { events, count: 10 }), {
    name: 'CollectError',
    code: 'FST_SSE_TESTING_INCOMPLETE',
    endedBy: 'end',
    message: 'fastify-typed-sse/testing: expected 10 events from /clock, got 6 (tick, tick, tick, tick, tick, end) before the server ended the stream'
  })
  const error = await collectEvents(app, '/clock?endless', { events, until: 'end', timeout: 50 }).catch((err: unknown) => err)
  t.ok(error instanceof CollectError)
  t.match(error, { endedBy: 'timeout', message: /expected an event "end" from \/clock, got \d+ \(tick.*\) before 50 ms passed/ })
  t.ok((error as CollectError).events.length > 0)
})

t.test('client errors pass through: a bad response, bad options', async t => {
  const { app } = await startApp(t, () => {})
  await t.rejects(collectEvents(app, '/missing'), { code: 'FST_SSE_CLIENT_BAD_RESPONSE', status: 404 })
  await t.rejects(collectEvents(app, '/x', { count: 0 }), TypeError)
  await t.rejects(collectEvents(app, '/x', { timeout: -1 }), /option "timeout"/)
})

t.test('sends the client options on: method, headers and body', async t => {
  const { app } = await startApp(t, app => {
    app.post('/echo', { sse: true }, async function * (request) {
      yield { event: 'echo', data: { body: request.body, auth: request.headers.authorization ?? null } }
    })
  })
  const result = await collectEvents(app, '/echo', {
    method: 'POST',
    headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'hi' }),
    count: 1
  })
  t.same(result.events, [{ event: 'echo', data: { body: { prompt: 'hi' }, auth: 'Bearer t' }, id: undefined }])
})

t.test('an app listening on a socket path has no URL: appUrl says to pass one', async t => {
  const app = Fastify()
  t.after(() => app.close())
  // A fresh directory each run (a socket file outlives its server), short enough for a socket path.
  const dir = await mkdtemp(join(tmpdir(), 'sse-testing-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  await app.listen({ path: join(dir, 'app.sock') })
  await t.rejects(appUrl(app), /listens on a pipe or socket path; pass a base URL instead/)
})

t.test('works from node:test as well', async t => {
  // A node:test file in a fixture directory inside the project, so it resolves its packages.
  const dir = t.testdir({ 'clock.test.mts': nodeTestFile() })
  const { code, output } = await run(process.execPath, ['--import', 'tsx', '--test', join(dir, 'clock.test.mts')])
  t.equal(code, 0, output)
  t.match(output, /# pass 1/)
  t.match(output, /# fail 0/)
})

function nodeTestFile (): string {
  const src = (file: string) => JSON.stringify(pathToFileURL(join(import.meta.dirname, '..', 'src', file)).href)
  return `
import { test } from 'node:test'
import assert from 'node:assert/strict'
import Fastify from 'fastify'
import { Type } from '@sinclair/typebox'
import ssePlugin from ${src('index.ts')}
import { collectEvents } from ${src('testing/index.ts')}

test('collects typed events', async (t) => {
  const app = Fastify()
  t.after(() => app.close())
  await app.register(ssePlugin)
  const events = { tick: Type.Object({ n: Type.Integer() }) }
  app.get('/s', { sse: { events } }, async function * () {
    for (let n = 0; n < 3; n++) yield { event: 'tick', data: { n } }
  })
  const { events: got } = await collectEvents(app, '/s', { events, count: 2 })
  assert.deepEqual(got.map(e => e.data.n), [0, 1])
})
`
}

function run (command: string, args: string[]): Promise<{ code: number | null, output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', chunk => { output += chunk })
    child.stderr.on('data', chunk => { output += chunk })
    child.once('error', reject)
    child.once('close', code => resolve({ code, output }))
  })
}
