// The stream's events, imported by both ends: the server checks what it sends against them, and
// the page's typed client checks what it receives (and TypeScript types both).
import { Type } from '@sinclair/typebox'

export const events = {
  // `type: 'string'` is sent raw, not JSON-quoted: a token is just its text on the wire.
  token: Type.String(),
  done: Type.Object({
    tokens: Type.Integer({ minimum: 0 }),
    finishReason: Type.Literal('stop')
  })
}
