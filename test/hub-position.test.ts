// The Last-Event-ID of a stream of several topics (src/hub/position.ts): what it encodes reads
// back the same, it stays within its length budget, and what a client forges is refused.
import t from 'tap'
import fc from 'fast-check'
import { CHARACTERS_PER_TOPIC, decodePositions, encodePositions, maxTopics, topicTag } from '../src/hub/position.js'
import { multiTopicIds } from '../src/hub/format.js'
import { toEntry } from '../src/hub/backend.js'
import { ENCODED } from '../src/wire.js'

const START = '0-0'
const now = Date.now()

// Ids as the backends make them: a time near now (or long ago), a small sequence; or START.
const position = fc.oneof(
  fc.constant(START),
  fc.tuple(fc.integer({ min: now - 400 * 24 * 3600_000, max: now + 1000 }), fc.integer({ min: 0, max: 62 ** 3 - 1 })).map(([ms, seq]) => `${ms}-${seq}`)
)

t.test('positions read back exactly, for any set of topics, and fit in 9 + 17 characters per topic', async t => {
  fc.assert(fc.property(fc.uniqueArray(fc.string({ minLength: 1, maxLength: 30 }), { minLength: 1, maxLength: 14 }).chain(names =>
    fc.tuple(fc.constant(names), fc.array(position, { minLength: names.length, maxLength: names.length }))), ([names, positions]) => {
    const tags = names.map(topicTag)
    const id = encodePositions(tags, positions)
    return id.length <= 9 + CHARACTERS_PER_TOPIC * names.length && JSON.stringify(decodePositions(tags, id)) === JSON.stringify(positions)
  }), { numRuns: 500 })
  t.pass('500 sets of topics and positions')
  t.equal(maxTopics(256), 14)
  t.equal(maxTopics(5), 0)
})

t.test('the id is compact: three topics publishing about now take about 30 characters', async t => {
  const tags = ['order:17', 'customer:5', 'feed'].map(topicTag)
  const id = encodePositions(tags, [`${now}-0`, `${now - 5000}-3`, START])
  t.match(id, /^~[0-9A-Za-z]{7}\.[0-9A-Za-z]{5}0\.[0-9A-Za-z]{5}[0-9A-Za-z]{3}_3\.[0-9A-Za-z]{5}$/)
  t.ok(id.length <= 32, `${id} (${id.length})`)
})

t.test('a position follows its topic when topics are added, dropped or reordered', async t => {
  const [a, b, c] = ['a', 'b', 'c'].map(topicTag) as [string, string, string]
  const id = encodePositions([a, b], [`${now}-1`, START])
  t.same(decodePositions([b, c, a], id), [START, undefined, `${now}-1`], 'b empty, c new, a where it was')
  t.same(decodePositions([c], id), [undefined], 'a topic of no position')
})

t.test('topics whose tags collide keep their positions apart by their order in the stream', async t => {
  const tags = ['x1y2z', 'x1y2z']
  const id = encodePositions(tags, [`${now}-0`, `${now - 10}-0`])
  t.same(decodePositions(tags, id), [`${now}-0`, `${now - 10}-0`])
})

t.test('a malformed or forged id is refused, with bounded work', async t => {
  const tags = ['aaaaa', 'bbbbb']
  const refused = [
    '', '0-0x', '1-0', '~', '~1', '~1.', '~1.aaaa', '~1.aaaaa!', '~1..aaaaa', '~1.aaaaa1_', '~1.aaaaa_1',
    // A time before 1970, numbers longer than an id's 15 digits.
    '~1.aaaaa2', `~${'z'.repeat(9)}.aaaaa`, `~1.aaaaa0_${'z'.repeat(9)}`, `~${'z'.repeat(10)}.aaaaa`,
    // More parts than any stream has topics, and longer than any id this library writes.
    '~1' + '.aaaaa1'.repeat(65), '~1' + '.aaaaa1'.repeat(10_000)
  ]
  for (const id of refused) t.equal(decodePositions(tags, id), undefined, id.slice(0, 40))
  const started = performance.now()
  for (let n = 0; n < 100; n++) decodePositions(tags, '~1' + '.aaaaa1'.repeat(100_000))
  t.ok(performance.now() - started < 1000, 'a megabyte id is refused at once (a generous bound: only scanning it would break it)')
  t.same(decodePositions(tags, '~1.ccccc1.aaaaa0_1'), ['1-1', undefined], 'an unknown tag is ignored')
})

t.test('a frame whose positions would not fit in maxLastEventIdLength goes without an id (the client keeps its last one), logged once', async t => {
  const errors: unknown[] = []
  const log = { error: (...args: unknown[]) => errors.push(args) } as unknown as Parameters<typeof multiTopicIds>[3]
  const ids = multiTopicIds(['a', 'b'], ['aaaaa', 'bbbbb'], 24, log)
  const entry = toEntry(`${now}-0`, 'data: 1\n')
  // Two positions far apart, one with a sequence of an absurd size: longer than 24 characters.
  const far: Array<{ position: string, key: readonly [number, number] }> = [
    { position: `${now}-0`, key: [now, 0] },
    { position: `1-${62 ** 5}`, key: [1, 62 ** 5] }
  ]
  t.equal(ids.entry(entry, 0, far)[ENCODED], 'data: 1\n\n')
  t.equal(ids.opening(far), undefined)
  t.equal(ids.entry(entry, 0, far)[ENCODED], 'data: 1\n\n')
  t.equal(errors.length, 1, 'logged once')
  const near: Array<{ position: string, key: readonly [number, number] }> = [{ position: '5-0', key: [5, 0] }, { position: '0-0', key: [0, 0] }]
  t.equal(ids.entry(entry, 0, near)[ENCODED], 'data: 1\nid: ~5.aaaaa0.bbbbb\n\n', 'one that fits has its id')
})
