// Turns a parsed frame into a typed event, mirroring the server's encoding: a schema of
// `type: 'string'` means the data is the raw text, any other schema means JSON; without a map,
// JSON when it parses, else the raw text. Checks are compiled once per schema.
import type { EventMap } from '../events.js'
import { isStringSchema, validatorOf } from '../validator.js'
import { invalidEvent, serverError, type SseClientError, unknownEvent } from './errors.js'
import type { UntypedClientEvent } from './types.js'

/** A frame as eventsource-parser gives it. */
export interface Frame {
  event?: string | undefined
  id?: string | undefined
  data: string
}

/** Returns the event, or the error that keeps it from being yielded. */
export type Decoder = (frame: Frame) => UntypedClientEvent | SseClientError

export function createDecoder (events: EventMap | undefined, validate: boolean): Decoder {
  if (events === undefined) {
    return (frame) => ({ event: frame.event ?? 'message', data: parseLoose(frame.data), id: frame.id })
  }
  const names = Object.keys(events)
  return function decode (frame) {
    const event = frame.event ?? 'message'
    const schema = Object.hasOwn(events, event) ? events[event] : undefined
    if (schema === undefined) {
      // The server's `error-event` policies send `event: error`; unless the map claims that
      // name, it reports a failure on the server rather than an unexpected event.
      return event === 'error' ? serverError(frame.data) : unknownEvent(event, names, frame.data)
    }
    let data: unknown = frame.data
    if (!isStringSchema(schema)) {
      try {
        data = JSON.parse(frame.data)
      } catch {
        return invalidEvent(event, '', 'is not JSON', frame.data)
      }
    }
    if (validate) {
      const validator = validatorOf(schema)
      if (!validator.check(data)) {
        const { path, reason } = validator.explain(data)
        return invalidEvent(event, path, reason, frame.data)
      }
    }
    return { event, data, id: frame.id }
  }
}

function parseLoose (text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}
