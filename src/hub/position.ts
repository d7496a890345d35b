// Where a stream of several topics is, in one Last-Event-ID. Ids are not ordered across topics
// (each topic counts its own; on Redis each is its own stream), so the only exact position is one
// per topic: the id of the last event of that topic the client has. The browser keeps one
// Last-Event-ID, so every frame of a merged stream carries all of them, compactly:
//
//   ~<base>.<tag>[<delta>[_<seq>]].<tag>[<delta>[_<seq>]]…
//
// - `~` marks the form (a single topic's ids are `<ms>-<seq>`, digits only, and stay as they are);
// - numbers are base 62 (`0-9A-Za-z`); `base` is the largest millisecond part among the positions,
//   and each topic gives its own as `base - delta`, which is short for topics that publish at
//   about the same time; `_<seq>` is left out when the sequence is 0;
// - `tag` is 5 characters of a hash of the topic's name, so a position follows its topic when the
//   route adds, drops or reorders topics; a tag alone (no delta) means "before its first event"
//   (the topic had none when the client last heard from it).
//
// Example (three topics, the last one empty): `~1pRwmW6.k2Jb70.Uu9Qx1b_2.aL0eZ`.
// A client may also send `0-0`: every topic from its oldest retained event.
//
// The id comes from the client, so it is read as untrusted text: bounded in length and in
// topics, every number checked, and a tag that names no topic of the stream is ignored. Nothing
// in it is used but as a position to read a topic from.
import { createHash } from 'node:crypto'
import { parseId, START } from './backend.js'

const DIGITS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
const TAG_LENGTH = 5
/** The largest millisecond or sequence part an id may have (parseId's 15 digits). */
const MAX_PART = 999_999_999_999_999
const NUMBER = '[0-9A-Za-z]{1,9}'
const FORM = new RegExp(`^~(${NUMBER})((?:\\.[0-9A-Za-z]{${TAG_LENGTH}}(?:${NUMBER}(?:_${NUMBER})?)?)+)$`)
const PART = new RegExp(`^([0-9A-Za-z]{${TAG_LENGTH}})(?:(${NUMBER})(?:_(${NUMBER}))?)?$`)
/** More parts than any stream has topics is not an id this library wrote. */
const MAX_PARTS = 64

/**
 * What one topic of a stream may add to the id: `.`, the tag, and a delta and sequence as long as
 * real ids make them (milliseconds below 62^7, until 2081; a sequence below 62^3).
 */
export const CHARACTERS_PER_TOPIC = 1 + TAG_LENGTH + 7 + 1 + 3
/** `~` and the base (7 digits until 2081, one more to spare). */
const CHARACTERS_FIXED = 1 + 8

/** How many topics one stream can follow with ids of at most `maxLength` characters. */
export function maxTopics (maxLength: number): number {
  return Math.max(0, Math.floor((maxLength - CHARACTERS_FIXED) / CHARACTERS_PER_TOPIC))
}

/** The short hash that stands for a topic in the id. */
export function topicTag (name: string): string {
  const hash = createHash('sha256').update(name).digest()
  let tag = ''
  for (let i = 0; i < TAG_LENGTH; i++) tag += DIGITS[hash[i]! % 62]
  return tag
}

/** One position per topic (an id, or START) as the id of a merged stream. */
export function encodePositions (tags: readonly string[], positions: readonly string[]): string {
  return encodeKeys(tags, positions.map(position => position === START ? undefined : parseId(position)))
}

/** The same from ids already parsed (undefined for START): what a subscriber writes per frame. */
export function encodeKeys (tags: readonly string[], parsed: ReadonlyArray<readonly [number, number] | undefined>): string {
  let base = 0
  for (const id of parsed) if (id !== undefined && id[0] > base) base = id[0]
  let text = '~' + toBase62(base)
  for (const [i, id] of parsed.entries()) {
    text += '.' + tags[i]!
    if (id === undefined) continue
    text += toBase62(base - id[0])
    if (id[1] !== 0) text += '_' + toBase62(id[1])
  }
  return text
}

/**
 * The position of each topic in `text`, by index in `tags`: an id, START, or undefined for a
 * topic the id does not mention (one added to the stream since). Undefined when `text` is not an
 * id of this form, or is malformed.
 */
export function decodePositions (tags: readonly string[], text: string): Array<string | undefined> | undefined {
  // Bounded before any pattern runs, whatever maxLastEventIdLength lets through.
  if (text.length > CHARACTERS_FIXED + MAX_PARTS * (1 + TAG_LENGTH + 9 + 1 + 9)) return undefined
  const form = FORM.exec(text)
  if (form === null) return undefined
  const base = fromBase62(form[1]!)
  const parts = form[2]!.slice(1).split('.')
  if (parts.length > MAX_PARTS || base > MAX_PART) return undefined
  const positions: Array<string | undefined> = tags.map(() => undefined)
  for (const part of parts) {
    const match = PART.exec(part)
    if (match === null) return undefined
    const [, tag, delta, seq] = match
    let position = START
    if (delta !== undefined) {
      const ms = base - fromBase62(delta)
      const sequence = seq === undefined ? 0 : fromBase62(seq)
      if (ms < 0 || sequence > MAX_PART) return undefined
      position = `${ms}-${sequence}`
    }
    // Two topics of one stream may share a tag: their positions are written in the stream's
    // order, and read back in the same order.
    const index = tags.findIndex((candidate, i) => candidate === tag && positions[i] === undefined)
    if (index !== -1) positions[index] = position
  }
  return positions
}

function toBase62 (value: number): string {
  let text = ''
  do {
    text = DIGITS[value % 62]! + text
    value = Math.floor(value / 62)
  } while (value > 0)
  return text
}

function fromBase62 (text: string): number {
  let value = 0
  for (const char of text) value = value * 62 + DIGITS.indexOf(char)
  return value
}
