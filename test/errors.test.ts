// The error catalogue: one code per condition, each raised from one place in src/errors.ts and
// listed in the README; errors in Fastify's shape (code, statusCode, a message saying what to
// fix) that are recognised across the ESM and CommonJS builds, where `instanceof` on one class
// cannot see the other's.
import t from 'tap'
import { execFile } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { Type } from '@sinclair/typebox'
import { ERROR_CODES, isSseError, SseError, type SseErrorCode } from '../src/errors.js'
import { ensureBuilt } from './helpers/built.js'
import { rawGet } from './helpers/raw.js'
import { startApp } from './helpers/server.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const read = (file: string): string => readFileSync(join(root, file), 'utf8')
const codes = Object.keys(ERROR_CODES) as SseErrorCode[]

function sourceFiles (dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap(entry =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [])
}

t.test('each code is raised from exactly one place, in src/errors.ts', async t => {
  const catalogue = read('src/errors.ts')
  for (const code of codes) {
    const raised = catalogue.match(new RegExp(`(?:sseError|super)\\('${code}'`, 'g')) ?? []
    t.equal(raised.length, 1, `${code} is raised once`)
  }
  for (const file of sourceFiles('src').filter(file => file !== join('src', 'errors.ts'))) {
    t.notMatch(read(file), /new (?:SseError|InvalidEventError)\(/, `${file} takes its errors from the catalogue`)
  }
})

t.test('the README lists every code, with its status, and no other', async t => {
  const rows = [...read('README.md').matchAll(/^\| `(FST_SSE_[A-Z_]+)` \| [^|]+ \| (\d{3}) \|/gm)]
  // The client's and the test helper's codes have tables of their own.
  const server = rows.filter(([, code]) => !/^FST_SSE_(CLIENT|TESTING)_/.test(code!))
  t.same(server.map(([, code]) => code).sort(), [...codes].sort())
  for (const [, code, status] of server) t.equal(Number(status), ERROR_CODES[code as SseErrorCode], `${code} status`)
})

t.test('an error has a code, a status, and says which plugin raised it', async t => {
  const { app } = await startApp(t, () => {})
  let error: unknown
  try {
    app.sse.topic('')
  } catch (err) {
    error = err
  }
  t.ok(isSseError(error, 'FST_SSE_INVALID_OPTION'))
  t.match(error, { name: 'SseError', code: 'FST_SSE_INVALID_OPTION', statusCode: 500, message: /^fastify-typed-sse: option "topic name" must be a non-empty string/ })
  t.equal(String(error), `SseError [FST_SSE_INVALID_OPTION]: ${(error as Error).message}`)
  t.notOk(isSseError(new Error('x')))
  t.notOk(isSseError(Object.assign(new Error('x'), { code: 'FST_SSE_INVALID_OPTION' })), 'a look-alike is not one')
  t.notOk(isSseError(error, 'FST_SSE_HUB_CLOSED'), 'the code is checked when given')
  t.notOk(isSseError(null))
})

t.test('a value that is not an event and a bad publish have codes of their own', async t => {
  const { port, logs, app } = await startApp(t, app => {
    app.get('/s', (_request, reply) => reply.sse([42, { data: 'ok' }] as never))
  })
  const response = await rawGet(port, '/s')
  await response.ended
  t.equal(response.body(), 'data: ok\n\n')
  t.match(logs.find(line => line.level === 50), { err: { code: 'FST_SSE_NOT_AN_EVENT', message: /a source must yield objects like \{ event\?, data, id\?, retry\?, comment\? \}, got 42/ } })

  const topic = app.sse.topic('t', { events: { message: Type.String() } })
  await t.rejects(topic.publish('hello' as never), { code: 'FST_SSE_INVALID_PUBLISH', message: /topic\.publish\(\) needs an event like \{ event, data \}, got "hello"/ })
  await t.rejects(topic.publish({ data: 7 } as never), { code: 'FST_SSE_INVALID_EVENT', event: 'message', path: '' })
})

t.test('the ESM and CommonJS builds recognise each other\'s errors, and so does @fastify/error', async t => {
  await ensureBuilt()
  const script = `
    import { createRequire } from 'node:module'
    import Fastify from 'fastify'
    import { FastifyError } from '@fastify/error'
    const esm = await import('fastify-typed-sse')
    const cjs = createRequire(import.meta.url)('fastify-typed-sse')
    let error
    try {
      await Fastify().register(cjs.ssePlugin, { retry: -1 })
    } catch (err) {
      error = err
    }
    console.log(JSON.stringify({
      esmClassSeesCjsError: error instanceof esm.SseError,
      cjsClassSeesCjsError: error instanceof cjs.SseError,
      esmHelper: esm.isSseError(error, 'FST_SSE_INVALID_OPTION'),
      notAnInvalidEvent: error instanceof esm.InvalidEventError,
      fastifyError: error instanceof FastifyError,
      distinctClasses: esm.SseError !== cjs.SseError
    }))`
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: root, env: { ...process.env, NODE_OPTIONS: '' } })
  t.same(JSON.parse(stdout), {
    esmClassSeesCjsError: true,
    cjsClassSeesCjsError: true,
    esmHelper: true,
    notAnInvalidEvent: false,
    fastifyError: true,
    distinctClasses: true
  })
})

t.test('instanceof still works within one build, for the class and its subclass', async t => {
  const { app } = await startApp(t, () => {})
  const topic = app.sse.topic('typed', { events: { message: Type.Object({ n: Type.Number() }) } })
  const error = await topic.publish({ data: { n: 'x' } } as never).catch((err: unknown) => err)
  t.ok(error instanceof SseError)
  t.ok(error instanceof Error)
  t.ok(isSseError(error, 'FST_SSE_INVALID_EVENT'))
})
