// Turns a parsed frame into a typed event, mirroring the server's encoding: a schema of
// `type: 'string'` means the data is the raw text, any other schema means JSON; without a map,
// JSON when it parses, else the raw text. Checks are compiled once per schema.
import type { TSchema } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { Errors } from '@sinclair/typebox/errors'
// Named imports, not the `Value` namespace, so a bundle holds only the checker.
import { Check } from '@sinclair/typebox/value'
import type { EventMap } from '../events.js'
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

interface Checker {
  check (data: unknown): boolean
  /** The first failing path and what was expected there; called only after a failed check. */
  explain (data: unknown): { path: string, reason: string }
}

const bySchema = new WeakMap<TSchema, Checker>()

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
    if (schema.type !== 'string') {
      try {
        data = JSON.parse(frame.data)
      } catch {
        return invalidEvent(event, '', 'is not JSON', frame.data)
      }
    }
    if (validate) {
      const checker = checkerOf(schema)
      if (!checker.check(data)) {
        const { path, reason } = checker.explain(data)
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

function checkerOf (schema: TSchema): Checker {
  let checker = bySchema.get(schema)
  if (checker === undefined) {
    checker = compile(schema)
    bySchema.set(schema, checker)
  }
  return checker
}

function compile (schema: TSchema): Checker {
  try {
    const validator = TypeCompiler.Compile(schema)
    return {
      check: (data) => validator.Check(data),
      explain: (data) => first(validator.Errors(data).First())
    }
  } catch {
    // The compiler builds a function from source text, which a page's Content-Security-Policy
    // may forbid (no 'unsafe-eval'); the interpreter checks the same rules, more slowly.
    return {
      check: (data) => Check(schema, data),
      explain: (data) => first(Errors(schema, data).First())
    }
  }
}

function first (error: { path: string, message: string } | undefined): { path: string, reason: string } {
  return { path: error?.path ?? '', reason: error?.message ?? 'does not match the schema' }
}
