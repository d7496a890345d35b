// The rules a schema sets for one event's data, shared by the server (src/schema.ts) and the
// client (src/client/decode.ts) so both sides read a schema the same way: how its data is
// encoded, and how it is checked. No Node or Fastify imports: the client bundles this file.
import type { TSchema } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { Errors } from '@sinclair/typebox/errors'
// Named imports, not the `Value` namespace, so a bundle holds only the checker.
import { Check } from '@sinclair/typebox/value'

/**
 * A schema whose values are strings only is sent as raw text, so token streams read
 * `data: Hello` rather than `data: "Hello"`; any other schema means JSON.
 */
export function isStringSchema (schema: TSchema): boolean {
  return schema.type === 'string'
}

/** Where and why data failed its schema. */
export interface Failure {
  /** JSON pointer into the data (`''` for the data itself). */
  path: string
  /** What the schema expected there. */
  reason: string
}

export interface Validator {
  /** True when `data` matches the schema. Cheap: compiled once. */
  check (data: unknown): boolean
  /** The first failing path and what was expected there; call it only after a failed check. */
  explain (data: unknown): Failure
}

// Keyed by the schema object: a schema shared by several maps, routes and topics compiles once.
const bySchema = new WeakMap<TSchema, Validator>()

/** The validator of `schema`, compiled on first use. */
export function validatorOf (schema: TSchema): Validator {
  let validator = bySchema.get(schema)
  if (validator === undefined) {
    validator = compile(schema)
    bySchema.set(schema, validator)
  }
  return validator
}

function compile (schema: TSchema): Validator {
  try {
    const compiled = TypeCompiler.Compile(schema)
    return {
      check: (data) => compiled.Check(data),
      explain: (data) => first(compiled.Errors(data).First())
    }
  } catch (err) {
    // The compiler builds a function from source text, which a page's Content-Security-Policy
    // may forbid (no 'unsafe-eval'); the interpreter checks the same rules, more slowly. Any
    // other failure (a schema the compiler refuses) is the caller's to see.
    if (!(err instanceof EvalError)) throw err
    return {
      check: (data) => Check(schema, data),
      explain: (data) => first(Errors(schema, data).First())
    }
  }
}

function first (error: { path: string, message: string } | undefined): Failure {
  return { path: error?.path ?? '', reason: error?.message ?? 'does not match the schema' }
}
