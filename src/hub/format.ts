// How a subscriber's frames tell the client where it is. A stream of one topic sends the topic's
// own ids (each stored frame as it is, encoded once for every subscriber); a stream of several
// sends one position per topic in every id (position.ts), so each frame's body is written with
// an id of its own.
import type { FastifyBaseLogger } from 'fastify'
import { encodedFrame, encodeFrame, type EncodedFrame } from '../wire.js'
import { START } from './backend.js'
import { decodePositions, encodeKeys } from './position.js'
import { HUB_RESET_EVENT, type HubResetData } from './reset.js'
import type { IdFormat, Positions, Resume } from './subscriber.js'

/**
 * What a stream of one topic says before the topic's first event: the client resumes from the
 * start, and if the topic has dropped events since (more were published than it retains), it is
 * told so with a reset. `0-0`, by contrast, asks for whatever is still retained, with no reset.
 */
export const BEFORE_FIRST_EVENT = '0'

/** One topic: its ids as they are; `0-0` resumes from its oldest retained event. */
export const singleTopicIds: IdFormat = {
  resume (lastEventId) {
    if (lastEventId === undefined) return [{ kind: 'policy' }]
    if (lastEventId === BEFORE_FIRST_EVENT) return [{ kind: 'after', position: START, shown: lastEventId, strict: true }]
    return [{ kind: 'after', position: lastEventId, shown: lastEventId }]
  },
  entry: entry => entry.frame,
  // `id:` moves the client's last event id to the head (or, on an empty topic, to "before the
  // first event"), so its next reconnect resumes from there instead of asking for the lost id
  // again.
  reset: (data, _topic, positions) => resetFrame(data, only(positions)),
  // A first connection is told where it is, so that its first reconnect resumes from there even
  // when no event came in between: on an empty topic, from before the first event.
  opening: positions => idFrame(only(positions))
}

/**
 * Several topics: every id holds a position per topic. `maxLength` is the longest id a client
 * may send back (the plugin's `maxLastEventIdLength`): a longer one would be ignored when the
 * client returns, so it is never sent (see `entry`).
 */
export function multiTopicIds (names: readonly string[], tags: readonly string[], maxLength: number, log: FastifyBaseLogger): IdFormat {
  let tooLong = false
  const id = (positions: Positions): string | undefined => {
    const text = encodeKeys(tags, positions.map(({ position, key }) => position === START ? undefined : key))
    if (text.length <= maxLength) return text
    // Only ids far from the present (or a sequence in the hundreds of thousands) get this long.
    // Without an id the client keeps its previous one, which still resumes exactly, only from
    // further back: duplicates, never a gap.
    if (!tooLong) log.error({ topics: names, length: text.length, maxLength }, 'fastify-typed-sse: a merged stream\'s position does not fit in maxLastEventIdLength; its frames go without an id')
    tooLong = true
    return undefined
  }
  return {
    resume (lastEventId) {
      if (lastEventId === undefined) return names.map((): Resume => ({ kind: 'policy' }))
      // Every topic from its oldest retained event, as a single topic's `0-0`.
      if (lastEventId === START) return names.map((): Resume => ({ kind: 'after', position: START, shown: START }))
      const positions = decodePositions(tags, lastEventId)
      if (positions === undefined) return names.map((): Resume => ({ kind: 'invalid', shown: lastEventId }))
      // START in a merged id means the topic was empty when the client last heard of it: it has
      // missed nothing only if the topic has dropped nothing since (strict).
      return positions.map((position): Resume => position === undefined ? { kind: 'policy' } : { kind: 'after', position, shown: position, strict: position === START })
    },
    entry: (entry, _topic, positions) => {
      const text = id(positions)
      return encodedFrame(entry.body + (text === undefined ? '' : 'id: ' + text + '\n') + '\n')
    },
    reset: (data, topic, positions) => resetFrame({ ...data, topic: names[topic]! }, id(positions)),
    opening: positions => {
      const text = id(positions)
      return text === undefined ? undefined : idFrame(text)
    }
  }
}

/** The one topic's position as its id line says it. */
function only (positions: Positions): string {
  const { position } = positions[0]!
  return position === START ? BEFORE_FIRST_EVENT : position
}

function resetFrame (data: HubResetData, id: string | undefined): EncodedFrame {
  return encodedFrame(encodeFrame({ event: HUB_RESET_EVENT, data: JSON.stringify(data), id }, true))
}

/** An id-only frame sets the browser's last event id without dispatching anything. */
function idFrame (id: string): EncodedFrame {
  return encodedFrame(encodeFrame({ id }))
}
