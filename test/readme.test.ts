// Every TypeScript block of the README (and of docs/) compiles, as a user pastes it, under
// TypeScript 6 and 7 against the built package, and the programs among them answer a real stream
// request (scripts/readme-blocks.mjs). A fixture of broken blocks goes through the same run, in
// the same compiler programs, to show that the check fails, and names the line, when it should.
import t from 'tap'
import { execFile } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { ensureBuilt } from './helpers/built.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const documents = ['README.md', ...readdirSync(`${root}docs`).filter(name => name.endsWith('.md')).map(name => `docs/${name}`)]
const fixture = 'test/fixtures/readme-blocks.md'

// Through `sh` with NODE_OPTIONS emptied: tap adds its process-info hooks to every node child it
// sees spawned, and inside those TypeScript 7's ES-module bin fails to load (a require cycle).
function run (args: string[]): Promise<{ code: number, output: string }> {
  return new Promise(resolve => {
    execFile('/bin/sh', ['-c', 'NODE_OPTIONS= exec "$@"', 'sh', process.execPath, 'scripts/readme-blocks.mjs', ...args],
      { cwd: root, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1' } },
      (error, stdout, stderr) => resolve({ code: error === null ? 0 : Number(error.code ?? 1), output: `${stdout}${stderr}` }))
  })
}

/** The script's `ok`/`FAILED` lines, each with the indented detail under it. */
function checks (output: string) {
  const found: Array<{ ok: boolean, name: string, detail: string }> = []
  for (const line of output.split('\n')) {
    const head = /^(ok|FAILED) +(.*)$/.exec(line)
    if (head !== null) found.push({ ok: head[1] === 'ok', name: head[2] ?? '', detail: '' })
    else if (line.startsWith('         ') && found.length > 0) found.at(-1)!.detail += `${line.trim()}\n`
  }
  return found
}

const fences = (file: string) => readFileSync(`${root}${file}`, 'utf8').split('\n').filter(line => /^\s*```(ts|typescript)\s*$/.test(line)).length

await ensureBuilt()
// Two compilers on a machine busy with other work take their time; only a hang should fail this.
t.setTimeout(8 * 60_000)

const { output } = await run([...documents, fixture])
const all = checks(output)
const failed = all.filter(check => !check.ok)

t.test('every README block compiles under TypeScript 6 and 7, and its programs answer a stream', async t => {
  const mine = failed.filter(check => !check.name.includes(fixture))
  t.same(mine.map(check => `${check.name}\n${check.detail}`), [], 'no README or docs block fails')
  for (const file of documents) {
    const skipped = output.split('\n').filter(line => line.startsWith(`skip   ${file}:`)).length
    for (const compiler of ['TS 6', 'TS 7']) {
      const passed = all.filter(check => check.ok && check.name.startsWith(`${compiler}: ${file}:`)).length
      t.equal(passed + skipped, fences(file), `${compiler}: each of the ${fences(file)} blocks of ${file} is checked`)
    }
  }
  // One real request to each program; what it answers first, as a client reads it.
  const runs = all.filter(check => check.name.startsWith('run: README.md')).map(check => check.name.replace(/README\.md:\d+ /, ''))
  t.same(runs.sort(), [
    'run: GET /c/7 answers 200 text/event-stream; charset=utf-8 with the frame "event: tick\\ndata: {\\"n\\":7}\\n\\n"',
    'run: GET /clock answers 200 text/event-stream; charset=utf-8 with the frame "event: tick\\ndata: {\\"n\\":0}\\nid: 0\\n\\n"',
    'run: GET /rooms/42/events answers 200 text/event-stream; charset=utf-8 with the frame "id: 0\\n\\n"'
  ])
})

t.test('a block that does not compile, or does not fail as it says, or does not stream, fails naming its line', async t => {
  const mine = failed.filter(check => check.name.includes(fixture))
  t.same(mine.map(check => check.name), [
    `TS 6: ${fixture}:7 compiles`,
    `TS 6: ${fixture}:16 fails to compile with "is not assignable"`,
    `TS 7: ${fixture}:7 compiles`,
    `TS 7: ${fixture}:16 fails to compile with "is not assignable"`,
    `run: ${fixture}:23 GET /plain answers 200 application/json; charset=utf-8 with the frame "{\\"hello\\":\\"world\\"}"`
  ])
  // The block's third line, under both compilers.
  t.equal(mine[0]?.detail, `${fixture}:10: TS2322: Type 'number' is not assignable to type 'string'.\n`)
  t.equal(mine[2]?.detail, `${fixture}:10: TS2322: Type 'number' is not assignable to type 'string'.\n`)
  t.match(output, `ok     TS 7: ${fixture}:30 fails to compile with "Type 'string' is not assignable to type 'number'"`)
  t.match(output, `skip   ${fixture}:39: pseudo-code`)
})
