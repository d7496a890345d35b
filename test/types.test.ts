// The type tests (test/dts/*.tst.*) against the built .d.ts, under both compilers: tstyche with
// TypeScript 6, and scripts/check-types-ts7.mjs with TypeScript 7's tsc. Each pins the messages
// it expects, so a typing that stops catching a wrong payload, or says it worse, fails here.
// It builds dist/ first when src/ changed since the last build.
import t from 'tap'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { ensureBuilt } from './helpers/built.js'

const root = fileURLToPath(new URL('..', import.meta.url))

// Through `sh` with NODE_OPTIONS emptied: tap adds its process-info hooks to every node child it
// sees spawned, and inside those TypeScript 7's ES-module bin fails to load (a require cycle).
function run (script: string, args: string[]): Promise<{ code: number, output: string }> {
  return new Promise(resolve => {
    execFile('/bin/sh', ['-c', 'NODE_OPTIONS= exec "$@"', 'sh', process.execPath, script, ...args],
      { cwd: root, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1' } },
      (error, stdout, stderr) => resolve({ code: error === null ? 0 : Number(error.code ?? 1), output: `${stdout}${stderr}` }))
  })
}

await ensureBuilt()

// A compiler on a machine busy with other work takes its time; only a hang should fail this.
t.setTimeout(8 * 60_000)

// Both at once: they are separate compilers, and each mostly waits on the other's CPU anyway.
const ts6 = run('node_modules/tstyche/build/bin.js', [])
const ts7 = run('scripts/check-types-ts7.mjs', [])

t.test('TypeScript 6 (tstyche): every assertion of test/dts holds, with the messages it pins', async t => {
  const { code, output } = await ts6
  if (code !== 0) t.comment(output)
  t.equal(code, 0, 'tstyche passes')
  t.match(output, /uses TypeScript 6\./)
  t.match(output, /Test files:\s+\d+ passed, \d+ total/)
})

t.test('TypeScript 7 (its tsc): the same files raise exactly the errors they expect', async t => {
  const { code, output } = await ts7
  if (code !== 0) t.comment(output)
  t.equal(code, 0, 'every expected error, and no other')
  t.match(output, /all type tests pass under Version 7\./)
})
