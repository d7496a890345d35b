// The WHATWG `text/event-stream` wire format: one frame as text, and the checks that keep a value
// from breaking the framing. Pure string work: knows nothing of Fastify or TypeBox, so it can be
// tested byte for byte and lets the hub encode a published event once for every subscriber.
import { invalidField, type SseError } from './errors.js'
import type { ControlFrame } from './events.js'

/** The fields of one frame, already checked and with `data` already turned into text. */
export interface FrameText {
  event?: string | undefined
  id?: string | undefined
  retry?: number | undefined
  comment?: string | undefined
  /** The payload as text. `undefined` sends no `data:` line; `''` sends one empty line. */
  data?: string | undefined
}

// The spec ends a line at CRLF, a lone CR or a lone LF. Any of them inside a value would end
// the field early, so values are split on all three.
const LINE_BREAK = /\r\n|\r|\n/
const HAS_LINE_BREAK = /[\r\n]/
const HAS_BREAK_OR_NUL = /[\r\n\0]/

/** A comment frame that keeps idle connections open through proxies. */
export const HEARTBEAT = ':\n\n'

/**
 * Encodes one frame. `dataIsOneLine` skips the line-break scan for text known to have none
 * (JSON never contains a raw CR or LF: they are escaped inside strings).
 * Returns `''` for a frame with no fields at all.
 */
export function encodeFrame (frame: FrameText, dataIsOneLine = false): string {
  let out = ''
  if (frame.comment !== undefined) out += lines(': ', frame.comment)
  // `message` is what an unnamed event dispatches as, so the line would only cost bytes.
  if (frame.event !== undefined && frame.event !== 'message') out += 'event: ' + frame.event + '\n'
  if (frame.data !== undefined) {
    out += dataIsOneLine ? 'data: ' + frame.data + '\n' : lines('data: ', frame.data)
  }
  if (frame.id !== undefined) out += 'id: ' + frame.id + '\n'
  if (frame.retry !== undefined) out += 'retry: ' + frame.retry + '\n'
  return out === '' ? '' : out + '\n'
}

function lines (prefix: string, text: string): string {
  // Always `prefix` with its space: the parser strips exactly one leading space, so a value that
  // itself starts with a space keeps it.
  if (!HAS_LINE_BREAK.test(text)) return prefix + text + '\n'
  let out = ''
  for (const line of text.split(LINE_BREAK)) out += prefix + line + '\n'
  return out
}

/**
 * Checks the fields that are written verbatim. Returns the error, or `undefined` when the
 * frame is safe: a CR or LF in `event` or `id` would let a value inject its own fields, and the
 * spec makes a client ignore an `id` with NUL.
 */
export function checkFields (event: string | undefined, id: string | undefined, retry: unknown): SseError | undefined {
  if (event !== undefined && HAS_BREAK_OR_NUL.test(event)) return invalidField('event', `must not contain CR, LF or NUL, got ${JSON.stringify(event)}`)
  if (id !== undefined && HAS_BREAK_OR_NUL.test(id)) return invalidField('id', `must not contain CR, LF or NUL, got ${JSON.stringify(id)}`)
  if (retry !== undefined && !(Number.isSafeInteger(retry) && (retry as number) >= 0)) {
    return invalidField('retry', `must be a non-negative integer, got ${JSON.stringify(retry)}`)
  }
  return undefined
}

/** An id as the client will see it: numbers in decimal. */
export function idText (id: string | number | undefined): string | undefined {
  return typeof id === 'number' ? String(id) : id
}

/** True when `text` contains CR, LF or NUL; used for ids read from a request. */
export function hasBreakOrNul (text: string): boolean {
  return HAS_BREAK_OR_NUL.test(text)
}

/** Marks a frame encoded ahead of time. */
export const ENCODED: unique symbol = Symbol('fastify-typed-sse.encoded')

/**
 * A frame that is already wire text, written as it is. The hub checks and encodes a published
 * event once and hands the same text to every subscriber. Typed as a control frame so it fits
 * any source; only code that has checked the event itself should make one.
 */
export interface EncodedFrame extends ControlFrame {
  readonly [ENCODED]: string
}

export function encodedFrame (text: string): EncodedFrame {
  return { [ENCODED]: text }
}
