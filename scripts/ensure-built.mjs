// Builds dist/ when it is missing or older than its sources, and otherwise does nothing: the
// tests that load the built package (test/helpers/built.ts) and `npm pack` (prepack) call it, so
// `npx tap test/x.test.ts` works from a clean clone and `npm test` builds only when a test needs
// dist/. "Older" is decided by content, not mtimes: a hash of every build input is written to
// dist/.build-stamp after a build. Several test processes may call this at once; a lock
// directory lets one of them build while the others wait for it.
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const stamp = join(root, 'dist', '.build-stamp')
const lock = join(root, '.build-lock')
// What the build reads, and the compiler that reads it (its package.json holds its version).
// Of our own package.json the compiler reads only `type` (and `imports`), hashed below: a new
// script or dependency range does not make dist/ stale.
const inputs = ['src', 'tsconfig.json', 'tsconfig.build.json', 'tsconfig.cjs.json', 'scripts/write-cjs-package.mjs',
  'node_modules/typescript/package.json']
// A build takes about 30 s on an idle machine; a lock older than this was left by a killed build.
const STALE_LOCK_MS = 10 * 60_000

function files (path) {
  const full = join(root, path)
  if (!existsSync(full)) return []
  try {
    return readdirSync(full, { withFileTypes: true })
      .flatMap(entry => files(join(path, entry.name)))
  } catch {
    return [path]
  }
}

function sourceHash () {
  const hash = createHash('sha256')
  const { type, imports } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
  hash.update(JSON.stringify({ type, imports }) + '\0')
  for (const file of inputs.flatMap(files).sort()) {
    hash.update(relative(root, join(root, file)) + '\0')
    hash.update(readFileSync(join(root, file)))
    hash.update('\0')
  }
  return hash.digest('hex')
}

function fresh (hash) {
  try {
    return readFileSync(stamp, 'utf8') === hash
  } catch {
    return false
  }
}

function takeLock () {
  const started = Date.now()
  for (;;) {
    try {
      mkdirSync(lock)
      writeFileSync(join(lock, 'pid'), String(process.pid))
      return
    } catch (err) {
      if (err.code !== 'EEXIST') throw err
    }
    if (lockIsStale()) {
      rmSync(lock, { recursive: true, force: true })
      continue
    }
    if (Date.now() - started > STALE_LOCK_MS) throw new Error(`ensure-built: ${lock} is held for too long; remove it if no build is running`)
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200)
  }
}

function lockIsStale () {
  try {
    const pid = Number(readFileSync(join(lock, 'pid'), 'utf8'))
    process.kill(pid, 0)
    return false
  } catch (err) {
    if (err.code === 'ESRCH') return true
    // No pid file: the holder is between mkdir and write, or died there.
    try {
      return err.code === 'ENOENT' && Date.now() - statSync(lock).mtimeMs > 60_000
    } catch {
      return false
    }
  }
}

export function ensureBuilt () {
  const hash = sourceHash()
  if (fresh(hash)) return false
  takeLock()
  try {
    // Another process may have built while this one waited for the lock.
    if (fresh(hash)) return false
    // Coverage of the compiler itself is not wanted (c8 would collect megabytes of it).
    const env = { ...process.env }
    delete env.NODE_V8_COVERAGE
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], env })
    writeFileSync(stamp, hash)
    return true
  } finally {
    rmSync(lock, { recursive: true, force: true })
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const built = ensureBuilt()
  console.error(built ? 'ensure-built: dist/ rebuilt' : 'ensure-built: dist/ is up to date')
}
