// Compiles an event map once: a validator and a serializer per schema. Checking is cheap; the
// failing path is worked out only when a check fails.
import type { TSchema } from '@sinclair/typebox'
import { invalidEvent, type InvalidEventError, type SseError, unknownEvent } from './errors.js'
import type { EventMap } from './events.js'
import { compileSerializer, type Serializer } from './serializer.js'
import { validatorOf } from './validator.js'

export interface CompiledEvent {
  /** True when `data` matches the schema. */
  check (data: unknown): boolean
  /** The error for data that failed `check`, naming the first failing path. */
  explain (event: string, data: unknown): InvalidEventError
  serialize: Serializer
  multiline: boolean
}

export interface CompiledEventMap {
  /** The compiled event, or `undefined` when the name is not in the map. */
  get (event: string): CompiledEvent | undefined
  /** The error for a name that is not in the map. */
  unknown (event: string): SseError
}

// Keyed by the schema objects themselves: maps and schemas are usually module constants, so a
// route that calls reply.sse() a million times compiles once, and a schema shared by two maps
// or by a topic and a route compiles once too.
const byMap = new WeakMap<EventMap, CompiledEventMap>()
const bySchema = new WeakMap<TSchema, CompiledEvent>()

export function compileEventMap (map: EventMap): CompiledEventMap {
  let compiled = byMap.get(map)
  if (compiled === undefined) {
    const events = new Map<string, CompiledEvent>()
    for (const [name, schema] of Object.entries(map)) events.set(name, compileEvent(schema))
    const names = [...events.keys()]
    compiled = {
      get: (event) => events.get(event),
      unknown: (event) => unknownEvent(event, names)
    }
    byMap.set(map, compiled)
  }
  return compiled
}

export function compileEvent (schema: TSchema): CompiledEvent {
  let compiled = bySchema.get(schema)
  if (compiled === undefined) {
    const validator = validatorOf(schema)
    const { serialize, multiline } = compileSerializer(schema)
    compiled = {
      check: validator.check,
      explain: (event, data) => {
        const { path, reason } = validator.explain(data)
        return invalidEvent(event, path, reason)
      },
      serialize,
      multiline
    }
    bySchema.set(schema, compiled)
  }
  return compiled
}
