// Turns a payload into the text of its `data:` lines, with a serializer compiled once per schema.
import fastJson from 'fast-json-stringify'
import type { EventSchema } from './events.js'
import { isStringSchema } from './validator.js'

export interface Serializer {
  /** The payload as text. */
  (data: unknown): string
}

export interface CompiledSerializer {
  serialize: Serializer
  /**
   * True when the text can hold CR or LF and must be split into several `data:` lines.
   * JSON never does (line breaks are escaped inside its strings); raw strings may.
   */
  multiline: boolean
}

/** Events with no schema: strings raw, everything else `JSON.stringify`. */
export function untypedText (data: unknown): string {
  return typeof data === 'string' ? data : toJson(data)
}

export function compileSerializer (schema: EventSchema): CompiledSerializer {
  if (isStringSchema(schema)) return { serialize: rawString, multiline: true }
  let compiled: Serializer
  try {
    // fast-json-stringify is what Fastify uses for responses: several times faster than
    // JSON.stringify on known shapes. Like Fastify, it sends only the properties in the schema.
    compiled = fastJson(schema) as Serializer
  } catch {
    // Schemas it cannot compile (some recursive or exotic ones) still serialize correctly.
    compiled = toJson
  }
  return { serialize: compiled, multiline: false }
}

function rawString (data: unknown): string {
  return data as string
}

function toJson (data: unknown): string {
  // JSON.stringify(undefined) is undefined; `null` keeps the frame well formed.
  return JSON.stringify(data) ?? 'null'
}
