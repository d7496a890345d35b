// The type tests (test/dts/*.tst.*) under TypeScript 7. tstyche runs them under TypeScript 6
// through the compiler's JavaScript API; TypeScript 7 has none yet, so this runs its `tsc` on the
// same files and reads the diagnostics it prints, with tstyche's rules: an error must fall inside
// `expect(…)` of a `.type.toRaiseError(…)` assertion and match its message (a string it contains,
// a regular expression, or a code), one per target; `.type.not.toRaiseError()` and every other
// line must compile. TypeScript 6's parser only locates the assertions in the files.
import { execFile } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import ts from 'typescript'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const dir = join(root, 'test/dts')
// The `typescript-7` devDependency's own tsc (its "exports" does not list the bin).
const tsc7 = join(dirname(createRequire(import.meta.url).resolve('typescript-7/package.json')), 'bin/tsc')

const version = (await promisify(execFile)(process.execPath, [tsc7, '--version'])).stdout.trim()
const run = await promisify(execFile)(process.execPath, [tsc7, '-p', join(dir, 'tsconfig.json'), '--pretty', 'false'], { cwd: root, maxBuffer: 64 * 1024 * 1024 })
  .catch(error => error) // exit code 2 when there are errors, which the files expect

// `file(line,col): error TSnnnn: message`, its chain on the indented lines that follow; the text
// is the chain's messages joined by newlines, as tstyche matches it.
const diagnostics = []
for (const line of String(run.stdout).split('\n')) {
  const head = /^(.+?)\((\d+),(\d+)\): error TS(\d+): (.*)$/.exec(line)
  if (head !== null) {
    diagnostics.push({ file: resolve(root, head[1]), line: Number(head[2]), column: Number(head[3]), code: Number(head[4]), text: head[5] })
  } else if (/^\s+\S/.test(line) && diagnostics.length > 0) {
    diagnostics.at(-1).text += '\n' + line.trim()
  } else if (line.trim() !== '') {
    diagnostics.push({ file: undefined, line: 0, column: 0, code: 0, text: line })
  }
}

const failures = []
let assertions = 0
const files = readdirSync(dir).filter(name => /\.tst\.[cm]?tsx?$/.test(name)).map(name => join(dir, name))
for (const file of files) {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true)
  const expects = []
  const visit = (node) => {
    const assertion = assertionOf(node)
    if (assertion !== undefined) expects.push(assertion)
    ts.forEachChild(node, visit)
  }
  visit(source)
  assertions += expects.length
  const mine = diagnostics.filter(d => d.file === file)
  for (const diagnostic of mine) {
    const at = source.getPositionOfLineAndCharacter(diagnostic.line - 1, diagnostic.column - 1)
    const owner = expects.find(e => at >= e.start && at < e.end)
    if (owner === undefined) failures.push(`${where(file, diagnostic)}: an error outside any expected one:\n${diagnostic.text}`)
    else owner.diagnostics.push(diagnostic)
  }
  for (const e of expects) {
    const place = `${where(file, e)} (${e.matcher}${e.isNot ? ', not' : ''})`
    if (e.matcher !== 'toRaiseError' || e.isNot) {
      for (const d of e.diagnostics) failures.push(`${place}: expected to compile, raised:\n${d.text}`)
      continue
    }
    if (e.diagnostics.length === 0) {
      failures.push(`${place}: expected an error, none was raised`)
    } else if (e.targets.length > 0 && e.diagnostics.length !== e.targets.length) {
      failures.push(`${place}: expected ${e.targets.length} error(s), raised ${e.diagnostics.length}:\n${e.diagnostics.map(d => d.text).join('\n--\n')}`)
    } else {
      e.targets.forEach((target, index) => {
        const d = e.diagnostics[index]
        if (!matches(d, target)) failures.push(`${place}: the error does not match ${target.getText()}:\n${d.text}`)
      })
    }
  }
}
for (const d of diagnostics.filter(d => !files.includes(d.file))) failures.push(`${d.file ?? 'tsc'}(${d.line},${d.column}): ${d.text}`)

console.log(`${version}: ${assertions} assertions in ${files.length} files, ${diagnostics.length} errors raised`)
if (failures.length > 0) {
  console.error(failures.join('\n\n'))
  console.error(`\n${failures.length} failed`)
  process.exitCode = 1
} else {
  console.log('all type tests pass under', version)
}

// `expect(source)…type[.not].matcher(targets)`: the span of its source, what it expects.
function assertionOf (node) {
  if (!ts.isCallExpression(node) || !ts.isPropertyAccessExpression(node.expression)) return undefined
  const matcher = node.expression.name.text
  let modifier = node.expression.expression
  let isNot = false
  if (ts.isPropertyAccessExpression(modifier) && modifier.name.text === 'not') {
    isNot = true
    modifier = modifier.expression
  }
  if (!ts.isPropertyAccessExpression(modifier) || modifier.name.text !== 'type') return undefined
  const call = modifier.expression
  if (!ts.isCallExpression(call) || !ts.isIdentifier(call.expression) || call.expression.text !== 'expect') return undefined
  const source = call.typeArguments ?? call.arguments
  return { start: source.pos, end: source.end, matcher, isNot, targets: [...node.arguments], diagnostics: [], node: call }
}

function matches (diagnostic, target) {
  if (ts.isNumericLiteral(target)) return Number(target.text) === diagnostic.code
  if (ts.isRegularExpressionLiteral(target)) {
    const text = target.text
    return new RegExp(text.slice(1, text.lastIndexOf('/')), text.slice(text.lastIndexOf('/') + 1)).test(diagnostic.text)
  }
  return ts.isStringLiteralLike(target) && diagnostic.text.includes(target.text)
}

function where (file, { line, node }) {
  const at = node === undefined ? line : node.getSourceFile().getLineAndCharacterOfPosition(node.getStart()).line + 1
  return `${file.slice(root.length + 1)}:${at}`
}
