// What the client costs a page: `fastify-typed-sse/client` bundled for the browser by esbuild,
// minified and gzipped, as an app would ship it. Without validation a page loads the entry only;
// the validator (TypeBox's compiler) is a chunk of its own, fetched when a client validates.
import t from 'tap'
import { build, type Metafile } from 'esbuild'
import { gzipSync } from 'node:zlib'
import { fileURLToPath } from 'node:url'
import { Type } from '@sinclair/typebox'
import { isRawText } from '../src/client/decode.js'
import { isStringSchema } from '../src/validator.js'

/** The budget of the entry, gzipped: what a page that does not validate loads. */
const ENTRY_BUDGET = 5 * 1024

const root = fileURLToPath(new URL('..', import.meta.url))

async function bundle (splitting: boolean) {
  const result = await build({
    // Everything the subpath exports, not only what one app would use: the worst case.
    stdin: { contents: "export * from 'fastify-typed-sse/client'", resolveDir: root, loader: 'ts' },
    absWorkingDir: root,
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    splitting,
    outdir: '/out',
    write: false,
    metafile: true,
    logLevel: 'silent'
  })
  const outputs = Object.entries((result.metafile as Metafile).outputs)
  return result.outputFiles.map(file => {
    const name = file.path.split('/').pop() ?? ''
    const output = outputs.find(([path]) => path.endsWith(`/${name}`))?.[1]
    return {
      name,
      minified: file.contents.length,
      gzip: gzipSync(file.contents, { level: 9 }).length,
      inputs: Object.keys(output?.inputs ?? {})
    }
  })
}

t.test(`without validation a page loads at most ${ENTRY_BUDGET / 1024} KB gzip of client`, async t => {
  const files = await bundle(true)
  const entry = files.find(file => file.name === 'stdin.js')!
  const validator = files.find(file => file.inputs.some(input => input.endsWith('src/validator.ts')))!
  const shared = files.filter(file => file !== entry && file !== validator)
  const entryGzip = entry.gzip + shared.reduce((sum, file) => sum + file.gzip, 0)
  t.comment(`entry: ${entry.minified} B minified, ${entryGzip} B gzip; validator chunk: ${validator.minified} B minified, ${validator.gzip} B gzip`)
  t.ok(entryGzip <= ENTRY_BUDGET, `the entry is ${entryGzip} B gzip (budget ${ENTRY_BUDGET})`)
  t.same(entry.inputs.filter(input => input.includes('node_modules')), [], 'the entry holds no dependency: no TypeBox, no parser library')
  t.notOk(entry.inputs.some(input => input.endsWith('src/validator.ts')), 'nor the validator')
  t.same(validator.inputs.filter(input => !input.includes('node_modules/') && !input.endsWith('src/validator.ts')), [],
    'the validator chunk holds the validator and what it imports, nothing of the client')
})

t.test('bundled without code splitting, everything is one file', async t => {
  const [only] = await bundle(false)
  t.comment(`one file: ${only!.minified} B minified, ${only!.gzip} B gzip`)
  t.ok(only!.inputs.some(input => input.endsWith('src/validator.ts')), 'the validator is inlined')
})

t.test('the client reads a schema as raw text exactly when the server does', async t => {
  // decode.ts repeats validator.ts's rule so the client need not load the validator to decode.
  const schemas = {
    string: Type.String(),
    'string with a format': Type.String({ format: 'email' }),
    literal: Type.Literal('done'),
    'union of literals': Type.Union([Type.Literal('a'), Type.Literal('b')]),
    number: Type.Number(),
    object: Type.Object({ a: Type.String() }),
    array: Type.Array(Type.String()),
    'string or null': Type.Union([Type.String(), Type.Null()]),
    'plain JSON Schema string': { type: 'string' },
    'plain JSON Schema list of types': { type: ['string', 'null'] },
    any: Type.Any()
  }
  for (const [name, schema] of Object.entries(schemas)) {
    t.equal(isRawText(schema), isStringSchema(schema as never), name)
  }
})
