// Turns a parsed frame into a typed event, mirroring the server's encoding: a schema of
// `type: 'string'` means the data is the raw text, any other schema means JSON; without a map,
// JSON when it parses, else the raw text. Checks are compiled once per schema.
import type { EventMap } from '../events.js'
import { invalidEvent, serverError, type SseClientError, unknownEvent, validatorUnavailable } from './errors.js'
import type { Frame } from './parse.js'
import type { UntypedClientEvent } from './types.js'

/** Returns the event, or the error that keeps it from being yielded. */
export type Decoder = (frame: Frame & { data: string }) => UntypedClientEvent | SseClientError

/**
 * The server's rule of `isStringSchema` (src/validator.ts), repeated here so that a client that
 * does not validate never loads the validator and TypeBox's compiler (most of the client's
 * weight). test/client-size.test.ts checks that both give the same answers.
 */
export function isRawText (schema: object): boolean {
  return (schema as { type?: unknown }).type === 'string'
}

/**
 * The decoder of `events`. With a map and `validate`, the validator module is imported first:
 * bundlers put it in a chunk of its own, loaded only by clients that check their events.
 */
export async function createDecoder (events: EventMap | undefined, validate: boolean): Promise<Decoder> {
  if (events === undefined) {
    return (frame) => ({ event: frame.event ?? 'message', data: parseLoose(frame.data), id: frame.id })
  }
  let check: ((schema: EventMap[string], data: unknown) => { path: string, reason: string } | undefined) | undefined
  if (validate) {
    let validatorOf: typeof import('../validator.js').validatorOf
    try {
      ({ validatorOf } = await import('../validator.js'))
    } catch (err) {
      throw validatorUnavailable(err)
    }
    check = (schema, data) => {
      const validator = validatorOf(schema)
      return validator.check(data) ? undefined : validator.explain(data)
    }
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
    if (!isRawText(schema)) {
      try {
        data = JSON.parse(frame.data)
      } catch {
        return invalidEvent(event, '', 'is not JSON', frame.data)
      }
    }
    const failure = check?.(schema, data)
    if (failure !== undefined) return invalidEvent(event, failure.path, failure.reason, frame.data)
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
