// Per-subscriber filters: a predicate over one event of a topic, run for each subscriber before
// the event is queued (an event filtered out costs no queue slot and no write) and on replay.
// The filter sees the event's name and data: kept from the publish for events published in this
// process, decoded from the stored frame otherwise, once per event and not once per subscriber.
import type { EventMap, Payload, StaticOf } from '../events.js'
import { isStringSchema } from '../validator.js'
import type { DecodedEvent, Entry } from './backend.js'

/**
 * One event of a topic as a filter sees it. `event` is its name (`message` for unnamed events),
 * `id` its id in the topic, `topic` the topic's name. Read it, do not change it: on the memory
 * hub `data` is the very value that was published.
 */
export type TopicEvent<M extends EventMap = EventMap> = string extends keyof M
  ? { topic: string, id: string, event: string, data: unknown }
  : { [K in keyof M & string]: { topic: string, id: string, event: K, data: Payload<StaticOf<M[K]>> } }[keyof M & string]

/**
 * Decides whether a subscriber gets an event: `true` sends it, anything else leaves it out. Called
 * once per event and subscriber, synchronously, in the publishing path: keep it cheap, and base
 * authorization on what the server knows (the request's session), never on what the client sends.
 * A filter that throws (or returns a promise) leaves the event out, and the first such failure of
 * each subscriber is logged: a filter deciding who may see what fails closed.
 */
export type TopicFilter<M extends EventMap = EventMap> = (event: TopicEvent<M>) => boolean

/** Reads a stored frame's event back: its name, and its data by the rules that encoded it. */
export type EventDecoder = (body: string) => DecodedEvent

/**
 * The decoder for a topic's frames. With a map, data of a string schema is the raw text and
 * anything else JSON; without one, strings were sent raw and the rest as JSON, so text that does
 * not parse as JSON is a string.
 */
export function createDecoder (events: EventMap | undefined): EventDecoder {
  return body => {
    let event = 'message'
    let data: string | undefined
    // The encoder wrote `field: value` lines; a multi-line string is several `data:` lines.
    for (const line of body.split('\n')) {
      if (line.startsWith('event: ')) event = line.slice(7)
      else if (line.startsWith('data: ')) data = data === undefined ? line.slice(6) : data + '\n' + line.slice(6)
    }
    const text = data ?? ''
    const schema = events?.[event]
    if (schema !== undefined) return { event, data: isStringSchema(schema) ? text : JSON.parse(text) }
    try {
      return { event, data: JSON.parse(text) }
    } catch {
      return { event, data: text }
    }
  }
}

/** The entry's event, decoded on first use and kept on the entry for the other subscribers. */
export function decodedOf (entry: Entry, decode: EventDecoder): DecodedEvent {
  entry.decoded ??= decode(entry.body)
  return entry.decoded
}
