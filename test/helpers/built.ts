// For the tests that load the package as an installed app would (plain `node` resolving
// "fastify-typed-sse" through package.json "exports" to dist/): builds dist/ first when it is
// missing or older than src/ (scripts/ensure-built.mjs), so those tests work from a clean clone
// and no other test waits for a build.
import tap from 'tap'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const root = fileURLToPath(new URL('../..', import.meta.url))

// A build takes half a minute on an idle machine and several minutes on a busy one: far more
// than the per-file timeout of .taprc. Only a hang should break this bound.
const BUILD_TIMEOUT_MS = 10 * 60_000

/**
 * Builds dist/ if it is stale. Afterwards the file's timeout is the configured one again: a
 * test file that needs a longer one sets it after this call.
 */
export async function ensureBuilt (): Promise<void> {
  // The root test's timeout is the whole file's (tap's runner is told of it): lift it for the
  // build, then give the rest of the file its usual time again.
  tap.setTimeout(BUILD_TIMEOUT_MS)
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' }
  // The compiler's own coverage is not wanted: c8 would collect megabytes of it.
  delete env.NODE_V8_COVERAGE
  try {
    await promisify(execFile)(process.execPath, ['scripts/ensure-built.mjs'], { cwd: root, env, timeout: BUILD_TIMEOUT_MS })
  } catch (err) {
    const { stdout = '', stderr = '' } = err as { stdout?: string, stderr?: string }
    throw new Error(`building dist/ failed:\n${stdout}${stderr}`, { cause: err })
  } finally {
    tap.setTimeout(Number(process.env.TAP_TIMEOUT ?? 30) * 1000)
  }
}
