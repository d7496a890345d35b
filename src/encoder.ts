// One yielded event to wire text: the name known, the fields safe, the data valid, then serialized
// and framed. Errors are returned, not thrown: the stream decides what an invalid event does to it.
import { checkFields, ENCODED, encodeFrame, idText, type EncodedFrame } from './wire.js'
import { notAnEvent, type SseError, unserializable } from './errors.js'
import type { EventMap, UntypedEvent } from './events.js'
import { compileEventMap, type MapOrigin } from './schema.js'
import { untypedText } from './serializer.js'

/** Returns the frame's text, or the error that keeps it off the wire. */
export type EventEncoder = (event: UntypedEvent) => string | SseError

export interface EventEncoderOptions {
  /** The schemas; without a map, data is sent unchecked (strings raw, the rest as JSON). */
  events?: EventMap | undefined
  /** Where the map was given: named by the error if the map is not a valid one. */
  origin: MapOrigin
  /** `false` skips the schema check but keeps the compiled serializers. */
  validate: boolean
}

// One encoder per map and validate setting, so a stream holds a shared function rather than a
// closure of its own (idle streams count their bytes).
const checkedEncoders = new WeakMap<EventMap, EventEncoder>()
const uncheckedEncoders = new WeakMap<EventMap, EventEncoder>()
let untyped: EventEncoder | undefined

/**
 * The encoder of `events` (none: untyped), made on first use by `createEventEncoder`. `origin`
 * is only called when the map is seen for the first time, to name it if it is not a valid map.
 */
export function eventEncoderOf (events: EventMap | undefined, validate: boolean, origin: () => MapOrigin): EventEncoder {
  if (events === undefined) return (untyped ??= createEventEncoder({ validate: true, origin: origin() }))
  if (typeof events !== 'object' || events === null) return createEventEncoder({ events, validate, origin: origin() })
  const cache = validate ? checkedEncoders : uncheckedEncoders
  let encode = cache.get(events)
  if (encode === undefined) {
    encode = createEventEncoder({ events, validate, origin: origin() })
    cache.set(events, encode)
  }
  return encode
}

export function createEventEncoder ({ events, validate, origin }: EventEncoderOptions): EventEncoder {
  const compiled = events === undefined ? undefined : compileEventMap(events, origin)
  return function encode (value) {
    if (typeof value !== 'object' || value === null) return notAnEvent(value)
    const encoded = (value as Partial<EncodedFrame>)[ENCODED]
    if (encoded !== undefined) return encoded
    const { event, data, comment, retry } = value
    const id = idText(value.id)
    const fieldError = checkFields(event, id, retry)
    if (fieldError !== undefined) return fieldError
    if ((event !== undefined && typeof event !== 'string') || (comment !== undefined && typeof comment !== 'string')) {
      return notAnEvent(value)
    }
    if (data === undefined) return encodeFrame({ id, retry, comment })
    const name = event ?? 'message'
    let serialize = untypedText
    // Untyped strings are sent raw and may hold line breaks; anything else untyped is JSON.
    let oneLine = typeof data !== 'string'
    if (compiled !== undefined) {
      const schema = compiled.get(name)
      if (schema === undefined) return compiled.unknown(name)
      if (validate && !schema.check(data)) return schema.explain(name, data)
      serialize = schema.serialize
      oneLine = !schema.multiline
    }
    let text: string
    try {
      text = serialize(data)
    } catch (err) {
      // A value can pass its schema and still not be JSON (a BigInt, a cycle, a throwing
      // toJSON): an invalid event like any other, not a reason to break the stream.
      return unserializable(name, err)
    }
    return encodeFrame({ event, id, retry, comment, data: text }, oneLine)
  }
}
