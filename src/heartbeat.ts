// Heartbeats for every stream of one interval from one timer, instead of a timer per stream: an
// idle stream then holds a Set entry rather than a Timeout and its closure. The timer ticks
// PER_INTERVAL times an interval and beats each stream that has been quiet for at least
// `interval - tick`: a heartbeat comes up to one tick early, never late, so a quiet line never
// stays silent longer than heartbeatInterval (what a proxy's idle timeout is set against).

/** A stream as the heartbeat sees it. */
export interface Beating {
  /** Called on each tick; writes a heartbeat if the stream has been quiet for `quietFor` ms. */
  heartbeat (now: number, quietFor: number): void
}

const PER_INTERVAL = 8

interface Group {
  readonly streams: Set<Beating>
  readonly timer: NodeJS.Timeout
}

const groups = new Map<number, Group>()

/** Beats `stream` every `interval` ms of quiet until `stopHeartbeat`. */
export function startHeartbeat (stream: Beating, interval: number): void {
  let group = groups.get(interval)
  if (group === undefined) {
    const tick = Math.max(1, Math.floor(interval / PER_INTERVAL))
    const streams = new Set<Beating>()
    const quietFor = interval - tick
    const timer = setInterval(() => {
      const now = Date.now()
      for (const beating of streams) beating.heartbeat(now, quietFor)
    }, tick)
    // Heartbeats must not keep the process alive; the streams' sockets do.
    timer.unref()
    group = { streams, timer }
    groups.set(interval, group)
  }
  group.streams.add(stream)
}

export function stopHeartbeat (stream: Beating, interval: number): void {
  const group = groups.get(interval)
  if (group === undefined || !group.streams.delete(stream) || group.streams.size > 0) return
  clearInterval(group.timer)
  groups.delete(interval)
}
