// The event stream parser of the HTML standard ("Interpreting an event stream", WHATWG HTML
// §9.2.6), written here rather than taken from a library for two reasons: it holds at most
// `maxEventSize` characters, so a server that never ends a line or an event cannot grow the
// page's memory, and it keeps the last event id across events as the standard does.

/** What a blank line ends, as the standard's "dispatch the event" step sees it. */
export interface Frame {
  /** The `event:` field, `undefined` when absent or empty (the `message` type). */
  event: string | undefined
  /**
   * The data lines joined by LF; `undefined` when there was none: no event is dispatched,
   * but an `id` still sets the id to resume from.
   */
  data: string | undefined
  /** The frame's own `id:` field, when it had one (`''` for an `id:` without a value). */
  id: string | undefined
}

export interface ParserHandlers {
  /** A blank line ended a frame that had data or an id. */
  onFrame (frame: Frame): void
  onRetry (ms: number): void
  onComment (text: string): void
  /** Called instead of buffering more than the limit; the parser then holds nothing. */
  onTooLarge (size: number): void
}

export interface Parser {
  /** Feeds decoded text. Returns false once the limit was exceeded (nothing more is parsed). */
  feed (text: string): boolean
  /** Forgets a partial line and event: a new connection starts from a clean state. */
  reset (): void
}

/**
 * A parser that reports events, ids, `retry:` and comments. The size it holds is the data of the
 * event being built plus the line being read; beyond `maxEventSize` characters it calls
 * `onTooLarge` and stops. Comments and unknown fields do not count, as they are not kept.
 */
export function createParser (maxEventSize: number, handlers: ParserHandlers): Parser {
  let line = ''
  let data = ''
  let hasData = false
  let event: string | undefined
  let id: string | undefined
  // A CR ended the last chunk: a LF starting the next one belongs to the same line break.
  let skipLF = false
  let stopped = false

  const reset = (): void => {
    line = ''
    data = ''
    hasData = false
    event = undefined
    id = undefined
    skipLF = false
    stopped = false
  }

  const tooLarge = (size: number): void => {
    reset()
    stopped = true
    handlers.onTooLarge(size)
  }

  // "If the line is empty (a blank line): dispatch the event."
  const dispatch = (): void => {
    // "Set the last event ID string of the event source to the value of the last event ID
    // buffer", even when "the data buffer is an empty string" and no event is dispatched.
    // Only a frame's own id is reported: the caller keeps the last one.
    if (hasData || id !== undefined) handlers.onFrame({ event, data: hasData ? data : undefined, id })
    data = ''
    hasData = false
    event = undefined
    id = undefined
  }

  const processLine = (text: string): void => {
    if (text === '') return dispatch()
    const colon = text.indexOf(':')
    // "If the line starts with a U+003A COLON character (:): ignore the line." We report it,
    // so heartbeats can be seen.
    if (colon === 0) return handlers.onComment(text.slice(text.charCodeAt(1) === 32 ? 2 : 1))
    // "If the line contains a colon: the field is before it, the value after it, without one
    // leading space. Otherwise the whole line is the field and the value is empty."
    const field = colon === -1 ? text : text.slice(0, colon)
    const value = colon === -1 ? '' : text.slice(text.charCodeAt(colon + 1) === 32 ? colon + 2 : colon + 1)
    switch (field) {
      case 'event':
        event = value === '' ? undefined : value
        break
      case 'data':
        // "Append the field value to the data buffer, then a single U+000A LINE FEED"; the
        // last LF is removed at dispatch, which joining with LF does directly. (The line was
        // checked against the limit before, and it is longer than what it adds here.)
        data = hasData ? `${data}\n${value}` : value
        hasData = true
        break
      case 'id':
        // "If the field value does not contain U+0000 NULL, set the last event ID buffer."
        if (!value.includes('\0')) id = value
        break
      case 'retry':
        // "If the field value consists of only ASCII digits, set the reconnection time."
        if (/^\d+$/.test(value)) handlers.onRetry(Number(value))
        break
      // "Otherwise: the field is ignored."
    }
  }

  const feed = (chunk: string): boolean => {
    if (stopped) return false
    let start = 0
    if (skipLF && chunk.length > 0) {
      skipLF = false
      if (chunk.charCodeAt(0) === 10) start = 1
    }
    // Lines end with CRLF, LF or CR. The next of each is found once and searched again only
    // when passed, so a chunk is scanned in linear time.
    let cr = chunk.indexOf('\r', start)
    let lf = chunk.indexOf('\n', start)
    while (cr !== -1 || lf !== -1) {
      const end = lf === -1 || (cr !== -1 && cr < lf) ? cr : lf
      let next = end + 1
      if (end === cr) {
        if (next === chunk.length) skipLF = true
        else if (chunk.charCodeAt(next) === 10) next++
      }
      const piece = chunk.slice(start, end)
      const text = line === '' ? piece : line + piece
      line = ''
      if (text.length + data.length > maxEventSize) {
        tooLarge(text.length + data.length)
        return false
      }
      processLine(text)
      if (stopped) return false
      start = next
      if (cr !== -1 && cr < start) cr = chunk.indexOf('\r', start)
      if (lf !== -1 && lf < start) lf = chunk.indexOf('\n', start)
    }
    if (start < chunk.length) {
      // Checked before keeping the rest, so what is held never exceeds the limit.
      const size = line.length + (chunk.length - start) + data.length
      if (size > maxEventSize) {
        tooLarge(size)
        return false
      }
      line += chunk.slice(start)
    }
    return true
  }

  return { feed, reset }
}
