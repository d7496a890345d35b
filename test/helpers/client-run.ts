// Runs the typed client against a URL and records what a user of it would see: the events, every
// status, the comments, and how the iteration ended. The same code runs in Node (imported by the
// tests) and in Chromium (bundled into the harness page), so each scenario is checked in both.
// Everything it returns is plain data, so it crosses from the page to the test unchanged.
import { Type } from '@sinclair/typebox'
import { sseClient, SseClientError, type SseClientOptions, type SseClientStatus } from '../../src/client/index.js'

/** Event maps the scenarios use, by name (a page cannot receive schemas from the test). */
export const maps = {
  ticks: { tick: Type.Object({ n: Type.Integer() }) }
}

/** The client options a scenario can set: the serialisable ones. */
export type RunOptions = Pick<SseClientOptions, 'retry' | 'minRetryDelay' | 'maxRetryDelay' | 'maxRetryAfter' | 'heartbeatTimeout' | 'maxEventSize' | 'reconnect' | 'lastEventId' | 'validate' | 'method' | 'body'> & {
  map?: keyof typeof maps
  headers?: Record<string, string>
}

export interface StopAt {
  /** Stop after this many events. */
  events?: number
  /** Stop after this many milliseconds, whatever happened. */
  ms: number
}

export interface ErrorFacts { name: string, code: string | undefined, message: string, status: number | undefined }

/** A status as `onStatus` gave it (errors as plain facts), with the `performance.now()` it came at. */
export type LoggedStatus = { time: number } & (
  | Exclude<SseClientStatus, { state: 'reconnecting' } | { state: 'closed' }>
  | (Omit<Extract<SseClientStatus, { state: 'reconnecting' }>, 'error'> & { error: ErrorFacts | undefined })
  | (Omit<Extract<SseClientStatus, { state: 'closed' }>, 'error'> & { error?: ErrorFacts | undefined }))

export interface RunLog {
  events: Array<{ event: string, data: unknown, id: string | undefined }>
  statuses: LoggedStatus[]
  comments: string[]
  /** What the iterator threw, if it did. */
  error: ErrorFacts | undefined
  /** Why the run stopped. */
  stoppedBy: 'events' | 'ms' | 'end' | 'error'
  lastEventId: string | undefined
  /** `client.status` once the run is over. */
  finalStatus: SseClientStatus['state']
}

export function facts (error: unknown): ErrorFacts {
  const e = error as { name?: unknown, message?: unknown }
  return {
    name: String(e?.name),
    code: error instanceof SseClientError ? error.code : undefined,
    message: String(e?.message),
    status: error instanceof SseClientError ? error.status : undefined
  }
}

export async function runClient (url: string, options: RunOptions, stop: StopAt): Promise<RunLog> {
  const controller = new AbortController()
  const log: RunLog = { events: [], statuses: [], comments: [], error: undefined, stoppedBy: 'end', lastEventId: undefined, finalStatus: 'closed' }
  const timer = setTimeout(() => {
    log.stoppedBy = 'ms'
    controller.abort()
  }, stop.ms)
  const { map, ...rest } = options
  const client = sseClient(url, {
    ...rest,
    ...(map === undefined ? {} : { events: maps[map] }),
    signal: controller.signal,
    onComment: (text) => log.comments.push(text),
    onStatus: (status) => {
      const time = performance.now()
      if (status.state === 'reconnecting') {
        log.statuses.push({ ...status, error: status.error === undefined ? undefined : facts(status.error), time })
      } else if (status.state === 'closed') {
        log.statuses.push({ ...status, error: status.error === undefined ? undefined : facts(status.error), time })
      } else {
        log.statuses.push({ ...status, time })
      }
    }
  } as SseClientOptions & { events?: undefined })
  try {
    for await (const event of client) {
      log.events.push({ event: event.event, data: event.data, id: event.id })
      if (log.events.length === stop.events) {
        log.stoppedBy = 'events'
        break
      }
    }
  } catch (error) {
    log.error = facts(error)
    log.stoppedBy = 'error'
  } finally {
    clearTimeout(timer)
    controller.abort()
  }
  log.lastEventId = client.lastEventId
  log.finalStatus = client.status.state
  return log
}
