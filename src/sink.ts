// A way for a source to hand encoded frames straight to the stream that reads it, instead of
// having each one pulled (an iterator result and a promise turn per frame). The hub's subscribers
// use it for live events: a publish to thousands of caught-up subscribers then costs a string
// append per subscriber, like a loop over `res.write` by hand. Only frames that are already wire
// text go this way; the stream still decides whether it can take one now.

/** Set on a source's iterator: the stream that reads it calls it with itself once it is running. */
export const ATTACH_SINK: unique symbol = Symbol('fastify-typed-sse.attachSink')

/** The stream, as a source that pushes sees it. */
export interface FrameSink {
  /**
   * True while the stream waits for the source's next value with room to spare: its batch is
   * under `highWaterMark`, its socket has drained, it has not ended. A frame taken then goes out
   * in the order the source gives it, exactly as a pulled one would.
   */
  canTake (): boolean
  /** Appends an encoded frame to the batch; call only right after `canTake()` returned true. */
  take (text: string): void
}

/** An iterator that can push to its stream. */
export interface PushingIterator {
  [ATTACH_SINK] (sink: FrameSink): void
}

export function canPush (iterator: object): iterator is PushingIterator {
  return typeof (iterator as Partial<PushingIterator>)[ATTACH_SINK] === 'function'
}
