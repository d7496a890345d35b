// Notices a connection that died without a word. A NAT or proxy that drops a connection sends
// no FIN: the socket stays open and a reader waits for ever. The server's heartbeats (comments,
// every 20 s by default) prove the connection alive; a wait for bytes longer than `timeout`
// means it is not.

export interface Watchdog {
  /** The client starts waiting for the network (a response, or the next chunk). */
  waiting (): void
  /** Bytes arrived, or the client stopped waiting (it handed an event to the caller). */
  idle (): void
  stop (): void
}

/**
 * Calls `onTimeout` once when a wait for the network lasts `timeout` ms. Time spent while the
 * caller holds an event does not count: a slow consumer is not a dead connection. One timer
 * per connection, moved forward lazily rather than re-armed for each chunk.
 */
export function startWatchdog (timeout: number, onTimeout: () => void): Watchdog {
  let since: number | undefined
  let timer: ReturnType<typeof setTimeout> | undefined
  const check = (): void => {
    timer = undefined
    if (since === undefined) return
    const left = since + timeout - performance.now()
    if (left > 0) {
      timer = setTimeout(check, left)
      return
    }
    since = undefined
    onTimeout()
  }
  return {
    waiting () {
      since = performance.now()
      timer ??= setTimeout(check, timeout)
    },
    idle () {
      since = undefined
    },
    stop () {
      since = undefined
      clearTimeout(timer)
      timer = undefined
    }
  }
}
