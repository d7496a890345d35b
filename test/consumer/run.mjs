#!/usr/bin/env node
// The consumer check (`npm run test:consumer`): installs the packed plugin into scratch apps
// from the npm registry, the way users install it, and checks what a user would hit first.
//
//   a  an existing app on the oldest Fastify 5 minor we support, TypeBox 0.34, type provider 5;
//      the tarball is installed into it afterwards (npm then keeps what the app has)
//   b  a new app on the newest Fastify 5, TypeBox 1 (`typebox`), type provider 6, installed in
//      one go with the tarball
//   c  a CommonJS app: plain require() from a .cjs file, and .cts files with import x = require()
//
// For each app: one copy of fastify (and of the app's TypeBox) in the tree, and the plugin's
// fast-json-stringify is Fastify's own; the app type-checks under TypeScript 6 and 7; a planted
// wrong payload fails to compile under both, at its marker, with the expected message; and the
// app, built and run, serves real streams to a real client, whose output is compared with the
// app's expected-output.txt.
//
// Everything happens in one temporary directory, npm's cache included (shared by the apps), and
// is removed at the end (KEEP=1 keeps it). CONSUMER_APPS=a,c runs some apps only.
import { execFile } from 'node:child_process'
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../..', import.meta.url))
const appsDir = fileURLToPath(new URL('./apps/', import.meta.url))

const apps = [
  { id: 'a', dir: 'a-oldest-fastify-typebox-034', install: 'existing', typebox: '@sinclair/typebox', run: ['out/app.js'] },
  { id: 'b', dir: 'b-latest-fastify-typebox-1', install: 'fresh', typebox: 'typebox', run: ['out/app.js'] },
  { id: 'c', dir: 'c-commonjs', install: 'fresh', typebox: '@sinclair/typebox', run: ['out/app.cjs', 'src/plain.cjs'] }
]
const compilers = [
  { name: 'TS 6', bin: 'node_modules/typescript/bin/tsc' },
  { name: 'TS 7', bin: 'node_modules/typescript7/bin/tsc' }
]

const only = process.env.CONSUMER_APPS?.split(',')
const work = await mkdtemp(join(tmpdir(), 'fastify-typed-sse-consumer-'))
const env = {
  ...process.env,
  npm_config_cache: join(work, 'npm-cache'),
  npm_config_audit: 'false',
  npm_config_fund: 'false',
  npm_config_update_notifier: 'false',
  NODE_OPTIONS: ''
}
delete env.NODE_V8_COVERAGE

/** Runs a command; never rejects: the caller decides what an exit code means. */
function run (cmd, args, cwd, timeout = 10 * 60_000) {
  return new Promise(resolve => {
    execFile(cmd, args, { cwd, env, timeout, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (error.code ?? error.signal ?? 1) : 0, stdout, stderr, output: `${stdout}${stderr}`.trim() })
    })
  })
}

const results = []
const started = Date.now()
function check (app, name, ok, detail = '') {
  results.push({ app: app.id, name, ok, detail })
  const seconds = Math.round((Date.now() - started) / 1000)
  console.log(`${ok ? 'ok    ' : 'FAILED'} ${app.id}: ${name} (${seconds} s)${ok || detail === '' ? '' : `\n${indent(detail)}`}`)
}
const indent = text => text.split('\n').slice(0, 40).map(line => `         ${line}`).join('\n')

// Diagnostics as tsc prints them without --pretty: `file(line,col): error TSn: message`, then
// the indented lines of the message chain.
function diagnostics (output) {
  const found = []
  for (const line of output.split('\n')) {
    const head = line.match(/^(.+?)\((\d+),(\d+)\): error (TS\d+): (.*)$/)
    if (head) found.push({ file: head[1], line: Number(head[2]), text: `${head[4]}: ${head[5]}` })
    else if (found.length > 0 && /^\s/.test(line)) found.at(-1).text += `\n${line}`
  }
  return found
}

// The apps hold their program (src/app.*) and planted mistakes (src/wrong.*) in one project, so
// each compiler reads it once. Each `// expect-error: text` marker in the wrong file owns the
// lines up to the next marker: at least one error there must contain the text. Any other error,
// in the app or anywhere else, fails the "type-checks the app" check.
async function checkTypes (app, cwd, compiler, result) {
  const wrongFile = app.dir === 'c-commonjs' ? 'src/wrong.cts' : 'src/wrong.ts'
  const source = (await readFile(join(cwd, wrongFile), 'utf8')).split('\n')
  const markers = source.flatMap((line, i) => {
    const m = line.match(/\/\/ expect-error: (.*)$/)
    return m ? [{ line: i + 1, text: m[1] }] : []
  })
  const found = diagnostics(result.output)
  const planted = d => d.file.endsWith(wrongFile) && d.line > (markers[0]?.line ?? Infinity)
  const unexpected = found.filter(d => !planted(d))
  check(app, `${compiler.name} type-checks the app`, unexpected.length === 0 && (result.code === 0 || found.length > 0),
    unexpected.length > 0 ? unexpected.map(d => `${d.file}:${d.line}: ${d.text}`).join('\n') : result.output)
  const problems = []
  markers.forEach((marker, i) => {
    const end = markers[i + 1]?.line ?? source.length + 1
    const here = found.filter(d => planted(d) && d.line > marker.line && d.line < end)
    if (!here.some(d => d.text.includes(marker.text))) {
      problems.push(`line ${marker.line}: expected an error containing "${marker.text}", got ${here.length === 0 ? 'none' : `\n${here.map(d => `line ${d.line}: ${d.text}`).join('\n')}`}`)
    }
  })
  check(app, `${compiler.name} reports the ${markers.length} planted wrong payloads at their lines, with the expected message`, problems.length === 0, problems.join('\n'))
}

/** Paths of every installed copy of `name` in the app's tree. */
async function copies (cwd, name) {
  const { stdout } = await run('npm', ['ls', name, '--all', '--parseable'], cwd)
  return [...new Set(stdout.split('\n').filter(path => path.endsWith(join('node_modules', name))))]
}

async function checkApp (app, tarball) {
  const cwd = join(work, app.dir)
  await cp(join(appsDir, app.dir), cwd, { recursive: true })

  if (app.install === 'existing') {
    const base = await run('npm', ['install'], cwd)
    if (base.code !== 0) return check(app, 'the app installs', false, base.output)
    const added = await run('npm', ['install', tarball], cwd)
    check(app, 'npm install <tarball> into the existing app', added.code === 0, added.output)
    if (added.code !== 0) return
  } else {
    const pkg = JSON.parse(await readFile(join(cwd, 'package.json'), 'utf8'))
    pkg.dependencies['fastify-typed-sse'] = `file:${tarball}`
    await writeFile(join(cwd, 'package.json'), JSON.stringify(pkg, null, 2))
    const installed = await run('npm', ['install'], cwd)
    check(app, 'npm install, the tarball with the app\'s dependencies', installed.code === 0, installed.output)
    if (installed.code !== 0) return
  }
  const { stdout: versions } = await run('npm', ['ls', 'fastify', app.typebox, 'typescript', 'typescript7', '--depth', '0'], cwd)
  console.log(`       ${app.id}: ${versions.split('\n').slice(1).map(line => line.replace(/^\W+/, '')).filter(Boolean).join(', ')}`)

  for (const name of ['fastify', app.typebox]) {
    const found = await copies(cwd, name)
    check(app, `one copy of ${name} in the tree`, found.length === 1, `npm ls ${name} found ${found.length}:\n${found.join('\n')}`)
  }
  const resolve = (from, what) => `require('node:module').createRequire(require('node:fs').realpathSync(${JSON.stringify(from)}) + '/package.json').resolve(${JSON.stringify(what)})`
  const fjs = await run(process.execPath, ['-p', `[${resolve('node_modules/fastify-typed-sse', 'fast-json-stringify')}, ${resolve('node_modules/fastify', 'fast-json-stringify')}].join('\\n')`], cwd)
  const [ours, fastifys] = fjs.stdout.trim().split('\n')
  check(app, 'the plugin\'s fast-json-stringify is Fastify\'s own copy', fjs.code === 0 && ours === fastifys, fjs.code === 0 ? `plugin: ${ours}\nfastify: ${fastifys}` : fjs.output)

  // TypeScript 6 checks and emits (the JavaScript is emitted despite the planted errors);
  // TypeScript 7 checks only.
  for (const compiler of compilers) {
    const args = [compiler.bin, '-p', 'tsconfig.json', '--pretty', 'false', ...(compiler === compilers[0] ? [] : ['--noEmit'])]
    await checkTypes(app, cwd, compiler, await run(process.execPath, args, cwd))
  }
  let output = ''
  for (const script of app.run) {
    const ran = await run(process.execPath, [script], cwd, 60_000)
    output += ran.stdout
    if (ran.code !== 0) output += `(${script} exited with ${ran.code})\n${ran.stderr}`
  }
  const expected = await readFile(join(cwd, 'expected-output.txt'), 'utf8')
  check(app, 'real streams reach a real client as expected', output === expected, `expected:\n${expected}got:\n${output}`)
}

let failed = true
try {
  console.log(`consumer check in ${work}`)
  // The package as it would be published: prepack builds dist/ if it is stale.
  const packed = await run('npm', ['pack', '--pack-destination', work, '--json'], root)
  if (packed.code !== 0) throw new Error(`npm pack failed:\n${packed.output}`)
  const tarball = join(work, JSON.parse(packed.stdout.slice(packed.stdout.indexOf('[')))[0].filename)
  const selected = apps.filter(app => only === undefined || only.includes(app.id))
  // The apps install and check side by side; each waits on the network or on its compiler.
  await Promise.all(selected.map(app => checkApp(app, tarball).catch(err => check(app, 'the check ran', false, err.stack))))
  const bad = results.filter(r => !r.ok)
  console.log(`\n${results.length - bad.length} passed, ${bad.length} failed`)
  for (const r of bad) console.log(`  failed: ${r.app}: ${r.name}`)
  failed = bad.length > 0 || results.length === 0
} finally {
  if (process.env.KEEP === '1') console.log(`kept ${work}`)
  else await rm(work, { recursive: true, force: true })
}
process.exitCode = failed ? 1 : 0
