// Compiles an event map once: a validator and a serializer per schema. Checking is cheap; the
// failing path is worked out only when a check fails. The map is checked as it is compiled, so
// a bad one fails where it is declared (the route, the topic, the first reply.sse() call).
import { invalidEvent, type InvalidEventError, invalidOption, invalidSchema, type SseError, unknownEvent } from './errors.js'
import type { EventMap, EventSchema } from './events.js'
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
const bySchema = new WeakMap<EventSchema, CompiledEvent>()

/** Where a map was given, for error messages: the option's name and its context. */
export interface MapOrigin {
  /** The option holding the map: `sse.events` on a route, `events` elsewhere. */
  option: string
  /** `route GET /feed`, `topic "news"`… */
  where: string
}

/**
 * The compiled map. The first time a map is seen it is checked: it must be an object whose
 * values are schemas the validator can check; otherwise an `FST_SSE_INVALID_OPTION` error names
 * the option, the key and where the map was given.
 */
export function compileEventMap (map: unknown, origin: MapOrigin): CompiledEventMap {
  if (typeof map !== 'object' || map === null || Array.isArray(map)) {
    throw invalidOption(`${origin.option} (${origin.where})`, 'an object mapping event names to schemas', map)
  }
  let compiled = byMap.get(map as EventMap)
  if (compiled === undefined) {
    const events = new Map<string, CompiledEvent>()
    for (const [name, schema] of Object.entries(map)) {
      const option = `${origin.option}.${name} (${origin.where})`
      if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
        throw invalidOption(option, 'a schema (TypeBox 1, TypeBox 0.34 or JSON Schema)', schema)
      }
      try {
        events.set(name, compileEvent(schema))
      } catch (err) {
        throw invalidSchema(option, err instanceof Error ? err.message : String(err), err)
      }
    }
    const names = [...events.keys()]
    compiled = {
      get: (event) => events.get(event),
      unknown: (event) => unknownEvent(event, names)
    }
    byMap.set(map as EventMap, compiled)
  }
  return compiled
}

export function compileEvent (schema: EventSchema): CompiledEvent {
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
