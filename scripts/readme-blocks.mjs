#!/usr/bin/env node
// Every ```ts block of README.md (and of docs/*.md) as a user would paste it: each block becomes
// a file of a scratch app, outside the repository, whose node_modules links `fastify-typed-sse`
// to this package as built (resolved through package.json "exports" to dist/, the way an
// installed copy is) and the libraries the blocks use to ours. Then:
//
//   - one TypeScript 6 program and one TypeScript 7 program type-check all of the blocks, with
//     the settings a new app has (`tsc --init`'s: `strict`, `module: nodenext`,
//     `exactOptionalPropertyTypes`, `noUncheckedIndexedAccess`, `verbatimModuleSyntax`);
//   - blocks marked `run=<path>` are run: the JavaScript TypeScript 6 emitted is imported, the
//     block's `app` listens on a free port, and one real request to <path> must answer 200 with
//     `text/event-stream` and a first frame, which is printed; then the app is closed.
//
// A block that is not a whole program says what it needs in an HTML comment on the line just
// before its fence (see "README examples" in CONTRIBUTING.md):
//
//   <!-- readme-test: prelude=app,events run=/a -->     declarations to put before the block
//   <!-- readme-test: fails="not assignable" -->         must NOT compile, with that in a message
//   <!-- readme-test: skip: <why> -->                    not checked (shell-like or pseudo-code)
//
// Prints `ok`/`FAILED` per check, naming `README.md:<line>` of the block's fence (and of the line
// in it that fails), and exits with 1 if anything failed. Needs dist/ (`node
// scripts/ensure-built.mjs`). Other markdown files may be named as arguments (the test adds a
// fixture of blocks that must fail). KEEP=1 keeps the scratch folder.
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const tsc6 = join(root, 'node_modules/typescript/bin/tsc')
// The `typescript-7` devDependency's own tsc (its "exports" does not list the bin).
const tsc7 = join(dirname(createRequire(import.meta.url).resolve('typescript-7/package.json')), 'bin/tsc')

// What the scratch app has installed next to the plugin (links to this repository's copies).
const installed = ['fastify', 'typebox', '@sinclair/typebox', '@fastify/type-provider-typebox', '@fastify/swagger',
  'ioredis', '@types/node', 'undici-types']

// Named declarations a fragment can ask for, each in the words of the README section it comes
// from; `needs` are put first. Real code wherever it can run, `declare` for what an app would
// have elsewhere (a session hook, a token).
const preludes = {
  fastify: {
    code: `import Fastify from 'fastify'
import ssePlugin from 'fastify-typed-sse'
import { Type } from 'typebox'
const app = Fastify()`
  },
  app: { needs: ['fastify'], code: 'await app.register(ssePlugin)' },
  // The map of "Usage".
  events: {
    needs: ['fastify'],
    code: `const events = {
  tick: Type.Object({ n: Type.Integer() }),
  end: Type.Object({ reason: Type.String() })
}`
  },
  // "Broadcast hub": the room and its map.
  room: {
    needs: ['app'],
    code: `const events = {
  message: Type.Object({ from: Type.String(), text: Type.String() }),
  joined: Type.Object({ who: Type.String() })
}
const room = app.sse.topic('room:42', { events })`
  },
  // A session hook that sets request.user, as an app's auth plugin would.
  user: {
    code: `import type { onRequestHookHandler } from 'fastify'
declare module 'fastify' { interface FastifyRequest { user: { id: string } } }
declare const requireUser: onRequestHookHandler`
  },
  // "Filters": the notifications topic, and the topics of the dashboard.
  topics: {
    needs: ['app', 'user'],
    code: `const notifications = app.sse.topic('notifications', {
  events: { notification: Type.Object({ userId: Type.String(), text: Type.String() }) }
})
const orderEvents = { status: Type.Object({ status: Type.String() }) }
const customerEvents = { profile: Type.Object({ name: Type.String() }) }
const feed = app.sse.topic('feed', { events: { news: Type.String() } })
declare const id: string
declare const customerId: string`
  },
  // What a client page has besides the block: the server's map, a token, an element.
  token: { code: 'declare const token: string' },
  client: {
    code: `import { sseClient } from 'fastify-typed-sse/client'
import { events } from './events.js'
declare const line: HTMLElement`
  },
  test: {
    needs: ['events'],
    code: `import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyInstance } from 'fastify'
declare function buildApp (): Promise<FastifyInstance>`
  },
  redis: { code: 'declare const password: string' },
  // "OpenAPI": a source, and swagger's info.
  openapi: {
    needs: ['app', 'events'],
    code: `declare const source: AsyncIterable<{ event: 'tick', data: { n: number } }>
declare const info: { title: string, version: string }`
  },
  data: { needs: ['room'], code: 'declare const data: { from: string, text: string }' },
  retry: {
    needs: ['room'],
    code: `import { setTimeout } from 'node:timers/promises'
import { SseError, type PublishEvent } from 'fastify-typed-sse'`
  }
}

// Other files of the scratch app that blocks import.
const scratchFiles = {
  // "Typed client" imports the server's map from './events.js'.
  'events.ts': `import { Type } from 'typebox'
export const events = {
  tick: Type.Object({ n: Type.Integer() }),
  end: Type.Object({ reason: Type.String() })
}
`
}

// What `tsc --init` writes under TypeScript 6 (strict, nodenext, and the stricter checks it now
// turns on), with Node's types, which an app using `node:` modules installs.
const tsconfig = {
  compilerOptions: {
    target: 'es2022',
    lib: ['es2023', 'dom'],
    module: 'nodenext',
    moduleResolution: 'nodenext',
    strict: true,
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    verbatimModuleSyntax: true,
    isolatedModules: true,
    noUncheckedSideEffectImports: true,
    moduleDetection: 'force',
    skipLibCheck: true,
    types: ['node'],
    outDir: 'out'
  },
  include: ['*.ts']
}

/** The ```ts blocks of a markdown file, with the readme-test comment just before each. */
export function blocksOf (file, text) {
  const lines = text.split('\n')
  const blocks = []
  for (let i = 0; i < lines.length; i++) {
    const fence = /^(\s*)(`{3,})(\w*)\s*$/.exec(lines[i])
    if (fence === null) continue
    const [, indent, ticks, lang] = fence
    let end = i + 1
    while (end < lines.length && !(lines[end].startsWith(indent + ticks) && lines[end].trim() === ticks)) end++
    if (lang === 'ts' || lang === 'typescript') {
      const marker = /^\s*<!--\s*readme-test:\s*(.*?)\s*-->\s*$/.exec(lines[i - 1] ?? '')
      blocks.push({
        file,
        line: i + 1, // its opening fence, 1-based
        code: lines.slice(i + 1, end).map(l => l.slice(indent.length)).join('\n'),
        ...parseMarker(marker?.[1] ?? '', `${file}:${i}`)
      })
    }
    i = end
  }
  return blocks
}

function parseMarker (text, where) {
  if (text === '') return { prelude: [] }
  const skip = /^skip:\s*(.+)$/.exec(text)
  if (skip !== null) return { prelude: [], skip: skip[1] }
  const options = { prelude: [] }
  for (const [, key, quoted, bare] of text.matchAll(/(\w[\w-]*)=(?:"([^"]*)"|(\S+))/g)) {
    const value = quoted ?? bare
    if (key === 'prelude') options.prelude = value.split(',')
    else if (key === 'run') options.run = value
    else if (key === 'fails') options.fails = value
    else throw new Error(`${where}: unknown readme-test option "${key}"`)
  }
  for (const name of options.prelude) if (!(name in preludes)) throw new Error(`${where}: no prelude named "${name}" (scripts/readme-blocks.mjs)`)
  return options
}

/** The preludes asked for, each after those it needs, each once. */
function preludeOf (names) {
  const order = []
  const add = name => {
    if (order.includes(name)) return
    for (const need of preludes[name].needs ?? []) add(need)
    order.push(name)
  }
  names.forEach(add)
  return order.map(name => preludes[name].code).join('\n')
}

function run (cmd, args, cwd) {
  return new Promise(resolve => {
    const env = { ...process.env, NODE_OPTIONS: '' }
    delete env.NODE_V8_COVERAGE
    execFile(cmd, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : (error.code ?? 1), output: `${stdout}${stderr}` }))
  })
}

// `file(line,col): error TSnnnn: message`, its chain on the indented lines that follow.
function diagnosticsOf (output) {
  const found = []
  for (const line of output.split('\n')) {
    const head = /^(.+?)\((\d+),(\d+)\): error (TS\d+): (.*)$/.exec(line)
    if (head !== null) found.push({ file: head[1], line: Number(head[2]), text: `${head[4]}: ${head[5]}` })
    else if (found.length > 0 && /^\s+\S/.test(line)) found.at(-1).text += `\n${line.trim()}`
    else if (line.trim() !== '') found.push({ file: undefined, line: 0, text: line })
  }
  return found
}

/** Reads `path` from a running app: status, content type, and the first whole frame. */
async function firstFrame (port, path) {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(new Error('no frame within 5 s')), 5000)
  try {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: controller.signal })
    let text = ''
    const decoder = new TextDecoder()
    for await (const chunk of response.body) {
      text += decoder.decode(chunk, { stream: true })
      const end = text.indexOf('\n\n')
      if (end !== -1) return { status: response.status, type: response.headers.get('content-type'), frame: text.slice(0, end + 2) }
    }
    return { status: response.status, type: response.headers.get('content-type'), frame: text }
  } finally {
    clearTimeout(timer)
    controller.abort()
  }
}

/** README.md and docs/*.md, the files checked when none is named. */
export async function documents () {
  return ['README.md', ...(await readdir(join(root, 'docs'))).filter(name => name.endsWith('.md')).map(name => `docs/${name}`)]
}

/**
 * Checks the blocks of `sources` (paths from the repository's root) in one scratch app; resolves
 * with true when every check passed.
 */
export async function checkBlocks ({ sources, keep = process.env.KEEP === '1' }) {
  const blocks = []
  for (const file of sources) blocks.push(...blocksOf(file, await readFile(join(root, file), 'utf8')))

  const work = await mkdtemp(join(tmpdir(), 'fastify-typed-sse-readme-'))
  const results = []
  const check = (name, ok, detail = '') => {
    results.push({ name, ok })
    console.log(`${ok ? 'ok    ' : 'FAILED'} ${name}${ok || detail === '' ? '' : `\n${detail.replace(/^/gm, '         ')}`}`)
  }
  try {
    await mkdir(join(work, 'node_modules', '@fastify'), { recursive: true })
    await mkdir(join(work, 'node_modules', '@sinclair'), { recursive: true })
    await mkdir(join(work, 'node_modules', '@types'), { recursive: true })
    await symlink(root, join(work, 'node_modules', 'fastify-typed-sse'), 'dir')
    for (const name of installed) await symlink(join(root, 'node_modules', name), join(work, 'node_modules', name), 'dir')
    await writeFile(join(work, 'package.json'), '{ "name": "readme-app", "private": true, "type": "module" }\n')
    await writeFile(join(work, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2))
    for (const [name, text] of Object.entries(scratchFiles)) await writeFile(join(work, name), text)

    // One file per block: the prelude, the block, and an export that makes it a module (so
    // that blocks do not share names) and hands a runnable block's app to the runner.
    const checked = blocks.filter(block => block.skip === undefined)
    for (const block of blocks.filter(block => block.skip !== undefined)) console.log(`skip   ${block.file}:${block.line}: ${block.skip}`)
    for (const block of checked) {
      const prelude = preludeOf(block.prelude)
      block.offset = prelude === '' ? 0 : prelude.split('\n').length + 1
      block.name = `${block.file.replace(/\W/g, '-')}-L${block.line}`
      block.where = `${block.file}:${block.line}`
      const text = `${prelude === '' ? '' : prelude + '\n// ---- the block ----\n'}${block.code}\n${block.run === undefined ? 'export {}' : 'export { app }'}\n`
      await writeFile(join(work, `${block.name}.ts`), text)
    }

    const [ts6, ts7] = await Promise.all([
      run(process.execPath, [tsc6, '-p', '.', '--pretty', 'false'], work),
      run(process.execPath, [tsc7, '-p', '.', '--pretty', 'false', '--noEmit'], work)
    ])
    for (const [compiler, result] of [['TS 6', ts6], ['TS 7', ts7]]) {
      const diagnostics = diagnosticsOf(result.output)
      for (const block of checked) {
        const mine = diagnostics.filter(d => d.file === `${block.name}.ts`)
        const at = d => d.line > block.offset
          ? `${block.file}:${block.line + d.line - block.offset}`
          : `${block.where} (its prelude "${block.prelude.join(',')}", line ${d.line})`
        if (block.fails !== undefined) {
          check(`${compiler}: ${block.where} fails to compile with "${block.fails}"`,
            mine.some(d => d.text.includes(block.fails)),
            mine.length === 0 ? 'it compiles' : mine.map(d => `${at(d)}: ${d.text}`).join('\n'))
        } else {
          check(`${compiler}: ${block.where} compiles`, mine.length === 0, mine.map(d => `${at(d)}: ${d.text}`).join('\n'))
        }
      }
      const others = diagnostics.filter(d => !checked.some(block => d.file === `${block.name}.ts`))
      if (others.length > 0) check(`${compiler}: nothing else fails`, false, others.map(d => `${d.file ?? ''}(${d.line}): ${d.text}`).join('\n'))
    }

    // Run: TypeScript 6 emitted JavaScript even for a block with errors; running one that does
    // not compile says nothing more, so those are left out.
    for (const block of checked.filter(block => block.run !== undefined)) {
      if (!results.filter(r => r.name.includes(`${block.where} `)).every(r => r.ok)) continue
      let app
      try {
        ({ app } = await import(pathToFileURL(join(work, 'out', `${block.name}.js`)).href))
        await app.listen({ port: 0, host: '127.0.0.1' })
        const { status, type, frame } = await firstFrame(app.server.address().port, block.run)
        const ok = status === 200 && /^text\/event-stream/.test(type ?? '') && frame.endsWith('\n\n')
        check(`run: ${block.where} GET ${block.run} answers ${status} ${type} with the frame ${JSON.stringify(frame)}`, ok)
      } catch (err) {
        check(`run: ${block.where} GET ${block.run}`, false, err.stack ?? String(err))
      } finally {
        await app?.close()
      }
    }
  } finally {
    if (keep) console.log(`kept ${work}`)
    else await rm(work, { recursive: true, force: true })
  }
  const failed = results.filter(r => !r.ok).length
  console.log(`${blocks.length} blocks: ${results.length - failed} checks passed, ${failed} failed`)
  return failed === 0
}

// `node scripts/readme-blocks.mjs [file.md …]`: README.md and docs/*.md unless files are named.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const named = process.argv.slice(2)
  process.exitCode = (await checkBlocks({ sources: named.length > 0 ? named : await documents() })) ? 0 : 1
}
