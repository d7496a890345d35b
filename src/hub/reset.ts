// The reset event: what a subscriber gets instead of a silent gap when its Last-Event-ID can no
// longer be resumed. Its schema is exported so clients can add it to their event maps; it is a
// TypeBox 1 schema, and fits a map of 0.34 schemas just as well.
import { Type, type Static } from 'typebox'

/** The name of the reset event (`event: reset`). Reserved in topic event maps. */
export const HUB_RESET_EVENT = 'reset'

/**
 * Data of the `reset` event. `expired`: the id is older than what the topic retains (by count
 * or age); `unknown`: the topic never stored it here (a wiped store, another topic, a made-up id).
 * Either way, events may be missing: refetch the state, then carry on with the live events.
 * In a stream of several topics, each topic that cannot resume gets its own reset, naming it in
 * `topic`; the other topics go on where they were.
 */
export const HubResetSchema = Type.Object({
  reason: Type.Union([Type.Literal('expired'), Type.Literal('unknown')]),
  /**
   * The Last-Event-ID that could not be resumed; in a stream of several topics, this topic's
   * position in it (`<ms>-<seq>`, or `0-0` for "before its first event"), or the whole id when it
   * could not be read at all.
   */
  lastEventId: Type.String(),
  /** The topic, in a stream of several topics (`fastify.sse.subscribe([...])`). */
  topic: Type.Optional(Type.String())
})

export type HubResetData = Static<typeof HubResetSchema>
