// The encoder against the WHATWG text/event-stream rules, byte for byte, and round-tripped
// through eventsource-parser for arbitrary strings.
import t from 'tap'
import fc from 'fast-check'
import { createParser, type EventSourceMessage } from 'eventsource-parser'
import { checkFields, encodeFrame } from '../src/wire.js'

function parse (text: string): EventSourceMessage[] {
  const events: EventSourceMessage[] = []
  const parser = createParser({ onEvent: event => events.push(event) })
  parser.feed(text)
  return events
}

t.test('a named event with id is written as event, data and id lines ending in a blank line', async t => {
  t.equal(encodeFrame({ event: 'tick', data: '{"n":1}', id: '7' }), 'event: tick\ndata: {"n":1}\nid: 7\n\n')
})

t.test('an unnamed event has no event line, and `message` is written as unnamed', async t => {
  t.equal(encodeFrame({ data: 'hi' }), 'data: hi\n\n')
  t.equal(encodeFrame({ event: 'message', data: 'hi' }), 'data: hi\n\n')
})

t.test('data with LF, CRLF or a lone CR becomes one data line per line', async t => {
  t.equal(encodeFrame({ data: 'a\nb\r\nc\rd' }), 'data: a\ndata: b\ndata: c\ndata: d\n\n')
  t.equal(encodeFrame({ data: 'end\n' }), 'data: end\ndata: \n\n', 'a trailing line break is kept as an empty line')
  t.same(parse(encodeFrame({ data: 'a\r\nb\rc' })).map(e => e.data), ['a\nb\nc'])
})

t.test('empty data is sent and dispatches an event with empty data', async t => {
  t.equal(encodeFrame({ data: '' }), 'data: \n\n')
  t.same(parse(encodeFrame({ data: '' })).map(e => e.data), [''])
})

t.test('id 0 and retry 0 are kept', async t => {
  t.equal(encodeFrame({ id: '0', retry: 0 }), 'id: 0\nretry: 0\n\n')
})

t.test('comments are written as colon lines, one per line of text', async t => {
  t.equal(encodeFrame({ comment: 'hello\nworld' }), ': hello\n: world\n\n')
  t.same(parse(encodeFrame({ comment: 'x\ny' }) + encodeFrame({ data: 'after' })).map(e => e.data), ['after'], 'comments dispatch nothing')
})

t.test('a value that starts with a space keeps it', async t => {
  t.same(parse(encodeFrame({ data: '  two spaces' })).map(e => e.data), ['  two spaces'])
})

t.test('a frame with no fields encodes to nothing', async t => {
  t.equal(encodeFrame({}), '')
})

t.test('UTF-8 text (astral, combining, RTL) is written as it is', async t => {
  const text = 'naïve café 😀 ש"ב \u0301'
  t.equal(encodeFrame({ data: text }), `data: ${text}\n\n`)
  t.same(parse(encodeFrame({ data: text })).map(e => e.data), [text])
})

t.test('CR, LF or NUL in an event name or id is refused, so no field can be injected', async t => {
  for (const bad of ['a\nb', 'a\rb', 'a\r\nretry: 1', 'a\0b']) {
    t.match(checkFields(bad, undefined, undefined), { code: 'FST_SSE_INVALID_FIELD', message: /field "event" must not contain CR, LF or NUL/ })
    t.match(checkFields(undefined, bad, undefined), { code: 'FST_SSE_INVALID_FIELD', message: /field "id" must not contain CR, LF or NUL/ })
  }
  t.equal(checkFields('ok', '0', 0), undefined)
})

t.test('retry must be a non-negative integer', async t => {
  for (const bad of [-1, 1.5, Number.NaN, Infinity, '5']) {
    t.match(checkFields(undefined, undefined, bad), { code: 'FST_SSE_INVALID_FIELD', message: /field "retry" must be a non-negative integer/ }, String(bad))
  }
})

t.test('any string round-trips through the encoder and eventsource-parser', async t => {
  // Lines may be split by CRLF, CR or LF; a parser gives them back joined by LF. NUL and lone
  // surrogates are legal in a JS string but not in UTF-8 text, so they are left out here.
  const text = fc.string({
    unit: fc.oneof(
      fc.constantFrom('\n', '\r', '\r\n', ' ', ':', 'data: x', '\u2028', 'é', '😀'),
      fc.string({ unit: 'grapheme', maxLength: 4 })
    ),
    maxLength: 40
  })
  fc.assert(fc.property(text, fc.option(fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/)), fc.option(fc.stringMatching(/^[ -~]{1,12}$/)), (data, event, id) => {
    const events = parse(encodeFrame({ data, event: event ?? undefined, id: id ?? undefined }))
    const expected = data.replace(/\r\n|\r/g, '\n')
    return events.length === 1 && events[0]?.data === expected && events[0]?.event === (event ?? undefined) && events[0]?.id === (id ?? undefined)
  }), { numRuns: 2000 })
  t.pass('2000 random events round-tripped')
})
