// The client's event stream parser (src/client/parse.ts) against the HTML standard's rules, the
// encoder's output, and eventsource-parser (the inverse tool) on random streams cut at random
// places; and its bound: it never holds more than maxEventSize characters.
import t from 'tap'
import fc from 'fast-check'
import { createParser as referenceParser } from 'eventsource-parser'
import { createParser, type Frame } from '../src/client/parse.js'
import { encodeFrame } from '../src/wire.js'

interface Parsed { frames: Frame[], retries: number[], comments: string[], tooLarge: number | undefined }

/** Parses `chunks` in order; `max` is the size bound. */
function parse (chunks: string[], max = 1_000_000): Parsed {
  const out: Parsed = { frames: [], retries: [], comments: [], tooLarge: undefined }
  const parser = createParser(max, {
    onFrame: frame => out.frames.push(frame),
    onRetry: ms => out.retries.push(ms),
    onComment: text => out.comments.push(text),
    onTooLarge: size => { out.tooLarge = size }
  })
  for (const chunk of chunks) if (!parser.feed(chunk)) break
  return out
}

t.test('fields, as the standard reads them', async t => {
  const { frames, retries, comments } = parse([
    'data: one\n\n',
    // "If the line contains a colon": one leading space is removed, not two; a line with no
    // colon is a field with an empty value.
    'data:  two spaces\ndata\ndata:\n\n',
    'event: named\nid: 7\ndata: {"a":1}\n\n',
    // An empty event name is the default type.
    'event:\ndata: x\n\n',
    // Unknown fields and a retry that is not all digits are ignored.
    'foo: bar\nretry: 1.5\nretry: 12x\nretry: 250\ndata: y\n\n',
    ': a comment\n:\n:no space\n\n',
    // An id holding NUL is ignored; an id alone (no data) still counts: no event, but the id.
    'id: a\0b\ndata: z\n\nid: 9\n\n',
    // Nothing dispatched: no data and no id.
    'event: lonely\n\n'
  ])
  t.same(frames, [
    { event: undefined, data: 'one', id: undefined },
    { event: undefined, data: ' two spaces\n\n', id: undefined },
    { event: 'named', data: '{"a":1}', id: '7' },
    { event: undefined, data: 'x', id: undefined },
    { event: undefined, data: 'y', id: undefined },
    { event: undefined, data: 'z', id: undefined },
    { event: undefined, data: undefined, id: '9' }
  ])
  t.same(retries, [250])
  t.same(comments, ['a comment', '', 'no space'])
})

t.test('CRLF, CR and LF end lines, also when split between chunks', async t => {
  const text = 'data: a\r\ndata: b\rdata: c\n\r\ndata: d\r\r'
  const whole = parse([text]).frames
  t.same(whole.map(f => f.data), ['a\nb\nc', 'd'])
  for (let i = 0; i <= text.length; i++) {
    t.same(parse([text.slice(0, i), text.slice(i)]).frames, whole, `split at ${i}`)
  }
  t.same(parse([...text]).frames, whole, 'one character per chunk')
  t.same(parse(['data: a\r', '', '\ndata: b\n\n']).frames.map(f => f.data), ['a\nb'], 'an empty chunk between CR and LF')
})

t.test('an event without its blank line is not dispatched, and reset() forgets it', async t => {
  const frames: Frame[] = []
  const parser = createParser(100, { onFrame: f => frames.push(f), onRetry () {}, onComment () {}, onTooLarge () {} })
  parser.feed('id: 5\ndata: half')
  parser.reset()
  parser.feed('\n\ndata: whole\n\n')
  t.same(frames, [{ event: undefined, data: 'whole', id: undefined }], 'the id and data of the cut event are gone')
})

t.test('the bound: the data being built plus the line being read, never more', async t => {
  t.equal(parse(['data: ' + 'x'.repeat(94) + '\n\n'], 100).frames[0]?.data?.length, 94, 'a line of exactly the limit')
  t.equal(parse(['data: ' + 'x'.repeat(95) + '\n\n'], 100).tooLarge, 101, 'one more is refused, with its size')
  t.equal(parse(['data: ' + 'x'.repeat(50), 'x'.repeat(50)], 100).tooLarge, 106, 'a line that has not ended yet')
  // After 18 lines the data is 18 × 4 + 17 LFs = 89, and the 19th line (10) would make 99; the
  // 20th is refused.
  t.equal(parse(['data: 1234\n'.repeat(30)], 100).tooLarge, 104, 'data lines that add up')
  t.equal(parse(['data: 1234\n'.repeat(8) + '\n'.repeat(1) + 'data: 1234\n'.repeat(8) + '\n'], 100).frames.length, 2, 'a blank line empties it')
  t.equal(parse([': comment\n'.repeat(100)], 100).tooLarge, undefined, 'comments are not kept, so they do not count')
  const parser = createParser(10, { onFrame () {}, onRetry () {}, onComment () {}, onTooLarge () {} })
  t.equal(parser.feed('data: 0123456789'), false)
  t.equal(parser.feed('\n\n'), false, 'it stays stopped')
  parser.reset()
  t.equal(parser.feed('data: ok\n\n'), true, 'until reset for a new connection')
})

t.test('random streams, cut anywhere, parse as eventsource-parser parses them', async t => {
  const text = fc.string({
    unit: fc.constantFrom('\n', '\r', '\r\n', ' ', ':', 'data', 'data: ', 'event: e', 'id: 1', 'retry: 5', 'x', 'é', '😀'),
    maxLength: 60
  })
  fc.assert(fc.property(text, fc.array(fc.nat(), { maxLength: 5 }), (stream, cuts) => {
    const at = [...new Set(cuts.map(c => c % (stream.length + 1)))].sort((a, b) => a - b)
    // A final LF: eventsource-parser holds a CR at the very end until it sees what follows (is
    // it CRLF?), where the standard ends the line at once, as this parser does.
    const chunks = [0, ...at].map((from, i) => stream.slice(from, at[i] ?? stream.length)).concat('\n')
    const ours = parse(chunks)
    const theirs: Array<{ event: string | undefined, data: string }> = []
    const retries: number[] = []
    const reference = referenceParser({ onEvent: e => theirs.push({ event: e.event, data: e.data }), onRetry: ms => retries.push(ms) })
    for (const chunk of chunks) reference.feed(chunk)
    // eventsource-parser forgets an id at each blank line and skips id-only frames; the
    // standard keeps it (checked above), so only events and their names are compared.
    const events = ours.frames.filter(f => f.data !== undefined).map(f => ({ event: f.event, data: f.data }))
    t.same(events, theirs, JSON.stringify(chunks))
    t.same(ours.retries, retries)
    return true
  }), { numRuns: 1000 })
})

t.test('what the server encodes, the client parses back', async t => {
  const data = fc.string({ unit: fc.constantFrom('a', ' ', '\n', '\r\n', ':', 'é'), maxLength: 20 })
  fc.assert(fc.property(data, fc.option(fc.stringMatching(/^[a-z]{1,8}$/)), fc.option(fc.stringMatching(/^[!-~]{1,8}$/)), (text, event, id) => {
    const { frames } = parse([encodeFrame({ data: text, event: event ?? undefined, id: id ?? undefined })])
    t.same(frames, [{ event: event ?? undefined, data: text.replace(/\r\n/g, '\n'), id: id ?? undefined }])
    return true
  }), { numRuns: 500 })
})
