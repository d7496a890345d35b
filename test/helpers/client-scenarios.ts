// The client's behaviour against servers that are broken, hostile or far away, written once and
// run twice: in Node (test/client-*.test.ts, with Node's fetch) and in Chromium
// (test/browser/client.test.ts, with the browser's). Each scenario starts its own servers, says
// how to run the client, and checks what the run recorded. Timings are checked only as generous
// lower bounds ("waited at least what it said"), never as "took less than".
import type { Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import cors from '@fastify/cors'
import { Type } from '@sinclair/typebox'
import ssePlugin from '../../src/index.js'
import type { RunLog, RunOptions, StopAt } from './client-run.js'
import { harnessFiles, serveHarness } from './harness.js'
import { openStream, sendEndlessly, startRawServer, startStallingProxy, write, type RawServer, type Sending, type StallingProxy } from './hostile.js'

export interface Scenario {
  /** The stream the client opens. */
  url: string
  /** Where the browser loads the harness page from. */
  origin: string
  options: RunOptions
  stop: StopAt
  /** Sample the heap while the client runs, and check that it stays bounded. */
  boundedMemory?: boolean
  check (t: Test, log: RunLog): void | Promise<void>
}

export type ScenarioStart = (t: Test) => Promise<Scenario>

const MB = 1024 * 1024
const ticks = { tick: Type.Object({ n: Type.Integer() }) }

/** A raw server that also serves the browser harness, so the page is on the stream's origin. */
async function rawServer (t: Test, handler: Parameters<typeof startRawServer>[1]): Promise<RawServer> {
  return startRawServer(t, handler, await harnessFiles())
}

/** A Fastify app with the plugin and the harness, listening on `port` (0: a free one). */
async function startFastify (t: Test, routes: (app: FastifyInstance) => void, port = 0): Promise<{ app: FastifyInstance, url: string, port: number }> {
  const app = Fastify({ forceCloseConnections: true })
  // The page may open the stream through a proxy on another port: allow it, and Last-Event-ID.
  await app.register(cors, { origin: true, allowedHeaders: ['last-event-id'] })
  await app.register(ssePlugin)
  await serveHarness(app)
  routes(app)
  await app.listen({ port, host: '127.0.0.1' })
  t.after(() => app.close())
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('expected a TCP address')
  return { app, url: `http://127.0.0.1:${address.port}`, port: address.port }
}

function reconnecting (log: RunLog) {
  return log.statuses.flatMap(status => status.state === 'reconnecting' ? [status] : [])
}

/**
 * For each reconnect, the delay it announced and the time until the client connected again,
 * measured where the client runs (a browser may send a request later than it was made, so the
 * server's clock would blur it).
 */
function waits (log: RunLog): Array<{ delay: number, waited: number }> {
  return log.statuses.flatMap((status, i) => {
    const next = log.statuses.slice(i + 1).find(later => later.state === 'connecting')
    return status.state === 'reconnecting' && next !== undefined ? [{ delay: status.delay, waited: next.time - status.time }] : []
  })
}

// ---------------------------------------------------------------------------------------------
// Bounded against a hostile server

export const limits: Record<string, ScenarioStart> = {
  async 'a line that never ends is cut at maxEventSize with FST_SSE_CLIENT_EVENT_TOO_LARGE, and not retried' (t) {
    let sending: Sending | undefined
    const server = await rawServer(t, async (_request, response) => {
      openStream(response)
      // 110 MB in one `data:` line: no line break, ever.
      sending = sendEndlessly(response, 'data: ', 'x'.repeat(64 * 1024), 110 * MB)
    })
    return {
      url: `${server.url}/endless-line`,
      origin: server.url,
      options: {},
      stop: { ms: 120_000 },
      boundedMemory: true,
      async check (t, log) {
        t.match(log.error, { code: 'FST_SSE_CLIENT_EVENT_TOO_LARGE', message: /over `maxEventSize` \(1048576\)/ })
        t.same(log.events, [])
        t.equal(server.requests.length, 1, 'not retried: the same server would send the same again')
        await sending?.done
        const sent = sending?.sent ?? 0
        t.ok(sent > MB && sent < 100 * MB, `the client closed the connection early: the server could send ${(sent / MB).toFixed(1)} MB of its 110`)
        t.match(log.statuses.at(-1), { state: 'closed', reason: 'error', error: { code: 'FST_SSE_CLIENT_EVENT_TOO_LARGE' } })
      }
    }
  },

  async 'an event that never ends (data lines, no blank line) is cut the same way' (t) {
    let sending: Sending | undefined
    const server = await rawServer(t, async (_request, response) => {
      openStream(response)
      sending = sendEndlessly(response, 'id: 1\n', `data: ${'y'.repeat(1000)}\n`, 110 * MB)
    })
    return {
      url: `${server.url}/endless-event`,
      origin: server.url,
      options: { maxEventSize: 256 * 1024 },
      stop: { ms: 120_000 },
      boundedMemory: true,
      async check (t, log) {
        t.match(log.error, { code: 'FST_SSE_CLIENT_EVENT_TOO_LARGE', message: /over `maxEventSize` \(262144\)/ })
        t.equal(server.requests.length, 1)
        await sending?.done
        const sent = sending?.sent ?? 0
        t.ok(sent > 256 * 1024 && sent < 100 * MB, `the client closed the connection early: the server could send ${(sent / MB).toFixed(1)} MB of its 110`)
        t.equal(log.lastEventId, undefined, 'the id of an event never completed is not kept')
      }
    }
  },

  async 'an event just under maxEventSize arrives whole' (t) {
    // The line `data: …` is what counts while it is read: 6 characters of field name.
    const data = 'z'.repeat(1_048_576 - 6)
    const server = await rawServer(t, async (_request, response) => {
      openStream(response)
      // Split at odd places, and ended by CRLF, to cross chunk boundaries.
      await write(response, `data: ${data.slice(0, 1000)}`)
      await write(response, `${data.slice(1000)}\r`)
      await write(response, '\n\r\n')
    })
    return {
      url: `${server.url}/big`,
      origin: server.url,
      options: {},
      stop: { events: 1, ms: 30_000 },
      check (t, log) {
        t.equal(log.error, undefined)
        t.equal((log.events[0]?.data as string).length, data.length)
      }
    }
  },

  async 'retry: 3000000000 is lowered to maxRetryDelay: no reconnect loop' (t) {
    const server = await rawServer(t, async (_request, response) => {
      openStream(response)
      response.end(`retry: 3000000000\n\ndata: {"n":${server.requests.length}}\n\n`)
    })
    return {
      url: `${server.url}/huge-retry`,
      origin: server.url,
      options: { maxRetryDelay: 5000 },
      stop: { ms: 2000 },
      check (t, log) {
        const reconnects = reconnecting(log)
        t.ok(reconnects.length >= 1)
        for (const wait of reconnects) t.ok(wait.delay >= 500 && wait.delay <= 5000, `waits ${wait.delay} ms: between the floor and the cap`)
        // At most one connection per 500 ms floor (the issue saw 726 in 3 s).
        t.ok(server.requests.length <= 5, `${server.requests.length} connections in 2 s`)
      }
    }
  },

  async 'retry: 0 is raised to minRetryDelay: no reconnect loop' (t) {
    const server = await rawServer(t, async (_request, response) => {
      openStream(response)
      response.end(`retry: 0\ndata: {"n":${server.requests.length}}\n\n`)
    })
    return {
      url: `${server.url}/zero-retry`,
      origin: server.url,
      options: {},
      stop: { ms: 2000 },
      check (t, log) {
        const reconnects = reconnecting(log)
        t.ok(reconnects.length >= 1)
        // Each connection delivered an event (healthy), so each wait is the first attempt's:
        // between the floor and the base, both 500 ms here.
        t.same(reconnects.map(wait => [wait.attempt, wait.delay]), reconnects.map(() => [1, 500]))
        t.ok(server.requests.length <= 5, `${server.requests.length} connections in 2 s (the issue saw 758 in 3 s)`)
        for (const { waited } of waits(log)) t.ok(waited >= 495, `connected again after ${waited.toFixed(0)} ms`)
      }
    }
  },

  async 'an id above U+00FF reaches the plugin as the lastEventId query parameter; U+00E9 as the header' (t) {
    const seen: Array<{ id: string | undefined, header: unknown, query: unknown }> = []
    const { url } = await startFastify(t, app => {
      app.get('/ids', { sse: { events: ticks } }, async function * (request, _reply, { lastEventId, signal }) {
        seen.push({ id: lastEventId, header: request.headers['last-event-id'], query: (request.query as Record<string, unknown>).lastEventId })
        const n = seen.length
        yield { event: 'tick', id: ['€1', 'é2', '3'][n - 1], data: { n } }
        // The first two connections end, so the client reconnects with the id it has.
        if (n === 3) await new Promise(resolve => signal.addEventListener('abort', resolve))
      })
    })
    return {
      url: `${url}/ids`,
      origin: url,
      options: { map: 'ticks', retry: 10, minRetryDelay: 0 },
      stop: { events: 3, ms: 20_000 },
      check (t, log) {
        t.equal(log.error, undefined)
        t.same(log.events.map(e => [e.data, e.id]), [[{ n: 1 }, '€1'], [{ n: 2 }, 'é2'], [{ n: 3 }, '3']])
        t.same(seen, [
          { id: undefined, header: undefined, query: undefined },
          { id: '€1', header: undefined, query: '€1' },
          { id: 'é2', header: 'é2', query: undefined }
        ])
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Reconnection that a fleet survives

export const backoff: Record<string, ScenarioStart> = {
  async 'a server answering 500 then 200 in a loop is paced: attempts keep growing, never reset' (t) {
    const server = await rawServer(t, async (_request, response) => {
      if (server.requests.length % 2 === 1) {
        response.writeHead(500, { 'content-type': 'application/json' }).end('{"message":"boom"}')
      } else {
        // Opens, then ends at once without an event: not a healthy connection.
        openStream(response)
        response.end()
      }
    })
    return {
      url: `${server.url}/flaky`,
      origin: server.url,
      options: { retry: 100, minRetryDelay: 100, maxRetryDelay: 800 },
      stop: { ms: 2500 },
      check (t, log) {
        const reconnects = reconnecting(log)
        t.ok(reconnects.length >= 4, `${reconnects.length} reconnects`)
        t.same(reconnects.map(wait => wait.attempt), reconnects.map((_wait, i) => i + 1), 'attempt 1, 2, 3…: a 200 that ends at once does not reset it')
        for (const wait of reconnects) {
          const ceiling = Math.min(800, 100 * 2 ** (wait.attempt - 1))
          t.ok(wait.delay >= 100 && wait.delay <= ceiling, `attempt ${wait.attempt} waits ${wait.delay} ms, within [100, ${ceiling}]`)
        }
        const odd = reconnects.filter((_wait, i) => i % 2 === 0)
        const even = reconnects.filter((_wait, i) => i % 2 === 1)
        t.match(odd.map(wait => wait.error), odd.map(() => ({ code: 'FST_SSE_CLIENT_BAD_RESPONSE', status: 500 })), 'a 500 is retried')
        t.same(even.map(wait => wait.error), even.map(() => undefined), 'an empty stream ended cleanly')
        // Each connection came no sooner than the client said it would wait.
        for (const { delay, waited } of waits(log)) t.ok(waited >= delay - 5, `connected again after ${waited.toFixed(0)} ms, having said ${delay} ms`)
        t.ok(server.requests.length <= 2500 / 100 + 1)
      }
    }
  },

  async 'a 503 with Retry-After in seconds waits that long, then connects' (t) {
    const server = await rawServer(t, async (_request, response) => {
      if (server.requests.length === 1) {
        response.writeHead(503, { 'retry-after': '1' }).end()
        return
      }
      openStream(response)
      await write(response, 'event: tick\ndata: {"n":1}\n\n')
    })
    return {
      url: `${server.url}/busy`,
      origin: server.url,
      options: { map: 'ticks', retry: 10, minRetryDelay: 10 },
      stop: { events: 1, ms: 20_000 },
      check (t, log) {
        t.same(log.events.map(e => e.data), [{ n: 1 }])
        const [wait] = reconnecting(log)
        t.match(wait, { attempt: 1, error: { code: 'FST_SSE_CLIENT_BAD_RESPONSE', status: 503 } })
        t.ok(wait!.delay >= 1000 && wait!.delay <= 1200, `waits ${wait!.delay} ms: Retry-After plus up to a fifth`)
        t.ok(waits(log)[0]!.waited >= 995, `connected again after ${waits(log)[0]!.waited.toFixed(0)} ms`)
      }
    }
  },

  async 'a 429 with Retry-After as an HTTP date waits until then' (t) {
    const server = await rawServer(t, async (_request, response) => {
      if (server.requests.length === 1) {
        response.writeHead(429, { 'retry-after': new Date(Date.now() + 2000).toUTCString() }).end()
        return
      }
      openStream(response)
      await write(response, 'event: tick\ndata: {"n":1}\n\n')
    })
    return {
      url: `${server.url}/limited`,
      origin: server.url,
      options: { map: 'ticks', retry: 10, minRetryDelay: 10 },
      stop: { events: 1, ms: 20_000 },
      check (t, log) {
        t.same(log.events.map(e => e.data), [{ n: 1 }])
        const [wait] = reconnecting(log)
        t.match(wait, { error: { code: 'FST_SSE_CLIENT_BAD_RESPONSE', status: 429 } })
        // An HTTP date has whole seconds: 2 s ahead is 1 to 2 s, plus up to a fifth.
        t.ok(wait!.delay >= 900 && wait!.delay <= 2400, `waits ${wait!.delay} ms`)
        t.ok(waits(log)[0]!.waited >= wait!.delay - 5)
      }
    }
  },

  async 'a Retry-After of a day is held to maxRetryAfter' (t) {
    const server = await rawServer(t, async (_request, response) => {
      if (server.requests.length === 1) {
        response.writeHead(503, { 'retry-after': '86400' }).end()
        return
      }
      openStream(response)
      await write(response, 'event: tick\ndata: {"n":1}\n\n')
    })
    return {
      url: `${server.url}/maintenance`,
      origin: server.url,
      options: { map: 'ticks', maxRetryAfter: 800 },
      stop: { events: 1, ms: 20_000 },
      check (t, log) {
        t.same(log.events.map(e => e.data), [{ n: 1 }])
        t.equal(reconnecting(log)[0]?.delay, 800)
      }
    }
  },

  async 'a 404 stops for good, without a retry' (t) {
    const server = await rawServer(t, async (_request, response) => {
      response.writeHead(server.requests.length === 1 ? 404 : 204).end()
    })
    return {
      url: `${server.url}/gone`,
      origin: server.url,
      options: { minRetryDelay: 10 },
      stop: { ms: 20_000 },
      check (t, log) {
        t.match(log.error, { code: 'FST_SSE_CLIENT_BAD_RESPONSE', status: 404 })
        t.equal(server.requests.length, 1, 'not retried')
        t.same(reconnecting(log), [])
      }
    }
  },

  async 'a server that restarts: the backoff grows while it is down, then the stream resumes with Last-Event-ID' (t) {
    const resumedFrom: Array<string | undefined> = []
    let restarted = false
    const routes = (app: FastifyInstance): void => {
      app.get('/clock', { sse: { events: ticks, heartbeatInterval: 0 } }, async function * (_request, _reply, { lastEventId, signal }) {
        resumedFrom.push(lastEventId)
        for (let n = lastEventId === undefined ? 1 : Number(lastEventId) + 1; !signal.aborted; n++) {
          yield { event: 'tick', id: n, data: { n } }
          if (n === 3 && !restarted) {
            restarted = true
            // Down for 1 s: every attempt meanwhile is refused.
            setImmediate(async () => {
              await first.app.close()
              await new Promise(resolve => setTimeout(resolve, 1000))
              await startFastify(t, routes, first.port)
            })
            return
          }
          await new Promise(resolve => setTimeout(resolve, 20))
        }
      })
    }
    const first = await startFastify(t, routes)
    return {
      url: `${first.url}/clock`,
      origin: first.url,
      options: { map: 'ticks', retry: 100, minRetryDelay: 50, maxRetryDelay: 400 },
      stop: { events: 6, ms: 30_000 },
      check (t, log) {
        t.same(log.events.map(e => e.data), [1, 2, 3, 4, 5, 6].map(n => ({ n })), 'no tick lost or repeated')
        t.same(resumedFrom.at(-1), '3', 'the restarted server was asked to resume after 3')
        const reconnects = reconnecting(log)
        t.ok(reconnects.length >= 3, `${reconnects.length} reconnects while it was down`)
        t.same(reconnects.map(wait => wait.attempt), reconnects.map((_wait, i) => i + 1), 'growing while connections are refused')
        // Refused connections are network errors (a request that reached the closing app gets its 503).
        t.ok(reconnects.slice(1).every(wait => wait.error?.code === 'FST_SSE_CLIENT_NETWORK_ERROR' || wait.error?.status === 503), 'refused connections are retried')
        t.ok(reconnects.some(wait => wait.error?.code === 'FST_SSE_CLIENT_NETWORK_ERROR'))
        t.ok(reconnects.every(wait => wait.lastEventId === '3'))
        t.same(log.statuses.slice(-2).map(status => status.state), ['open', 'closed'])
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The watchdog

export const watchdog: Record<string, ScenarioStart> = {
  async 'a connection that goes silent without a FIN is closed after heartbeatTimeout and resumed' (t) {
    const resumedFrom: Array<string | undefined> = []
    // Set once the proxy listens, which is after the app does.
    const late: { proxy?: StallingProxy } = {}
    const app = await startFastify(t, app => {
      app.get('/clock', { sse: { events: ticks, heartbeatInterval: 0 } }, async function * (_request, _reply, { lastEventId, signal }) {
        resumedFrom.push(lastEventId)
        for (let n = lastEventId === undefined ? 1 : Number(lastEventId) + 1; !signal.aborted; n++) {
          yield { event: 'tick', id: n, data: { n } }
          // The first connection goes dead after tick 3, as if a NAT forgot it.
          if (n === 3 && resumedFrom.length === 1) setTimeout(() => late.proxy?.stall(), 20)
          await new Promise(resolve => setTimeout(resolve, 50))
        }
      })
    })
    const proxy = late.proxy = await startStallingProxy(t, app.port)
    return {
      url: `${proxy.url}/clock`,
      origin: app.url,
      options: { map: 'ticks', heartbeatTimeout: 1000, retry: 10, minRetryDelay: 10 },
      stop: { events: 8, ms: 30_000 },
      check (t, log) {
        t.equal(log.error, undefined)
        t.same(log.events.map(e => (e.data as { n: number }).n), [1, 2, 3, 4, 5, 6, 7, 8], 'no tick lost or repeated')
        const [wait] = reconnecting(log)
        t.match(wait, { attempt: 1, error: { code: 'FST_SSE_CLIENT_HEARTBEAT_TIMEOUT', message: /no data for 1000 ms/ } })
        t.equal(resumedFrom.length, 2)
        t.equal(resumedFrom[1], wait?.lastEventId, 'resumed from the last tick received')
      }
    }
  },

  async 'heartbeat comments keep a quiet stream alive, and onComment sees them' (t) {
    let connections = 0
    const app = await startFastify(t, app => {
      app.get('/quiet', { sse: { events: ticks, heartbeatInterval: 100 } }, async function * (_request, _reply, { signal }) {
        connections++
        yield { event: 'tick', data: { n: 1 } }
        await new Promise(resolve => signal.addEventListener('abort', resolve))
      })
    })
    return {
      url: `${app.url}/quiet`,
      origin: app.url,
      options: { map: 'ticks', heartbeatTimeout: 1000 },
      stop: { ms: 2000 },
      check (t, log) {
        t.same(reconnecting(log), [], 'never presumed dead')
        t.equal(connections, 1)
        t.ok(log.comments.length >= 3, `${log.comments.length} heartbeats seen`)
        t.ok(log.comments.every(text => text === ''), 'a heartbeat is a bare colon')
      }
    }
  },

  async 'a server that never answers the request is given up after heartbeatTimeout' (t) {
    const server = await rawServer(t, async (_request, response) => {
      if (server.requests.length === 1) return // accepted, never answered
      openStream(response)
      await write(response, 'event: tick\ndata: {"n":1}\n\n')
    })
    return {
      url: `${server.url}/hung`,
      origin: server.url,
      options: { map: 'ticks', heartbeatTimeout: 800, retry: 10, minRetryDelay: 10 },
      stop: { events: 1, ms: 20_000 },
      check (t, log) {
        t.same(log.events.map(e => e.data), [{ n: 1 }])
        t.match(reconnecting(log), [{ error: { code: 'FST_SSE_CLIENT_HEARTBEAT_TIMEOUT' } }])
        // Measured where the client runs: the server may see the request later than it was made.
        const waited = reconnecting(log)[0]!.time - log.statuses[0]!.time
        t.ok(waited >= 790, `waited ${waited.toFixed(0)} ms before giving up`)
      }
    }
  },

  async 'with reconnect: false a silent connection throws FST_SSE_CLIENT_HEARTBEAT_TIMEOUT' (t) {
    const server = await rawServer(t, async (_request, response) => {
      openStream(response)
      await write(response, 'event: tick\ndata: {"n":1}\n\n')
    })
    return {
      url: `${server.url}/silent`,
      origin: server.url,
      options: { map: 'ticks', heartbeatTimeout: 500, reconnect: false },
      stop: { ms: 20_000 },
      check (t, log) {
        t.same(log.events.map(e => e.data), [{ n: 1 }])
        t.match(log.error, { code: 'FST_SSE_CLIENT_HEARTBEAT_TIMEOUT' })
        t.equal(server.requests.length, 1)
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Status

export const status: Record<string, ScenarioStart> = {
  async 'the status goes connecting, open, reconnecting (delay, attempt, when), connecting, closed (why)' (t) {
    const server = await rawServer(t, async (_request, response) => {
      if (server.requests.length === 2) {
        response.writeHead(204).end()
        return
      }
      openStream(response)
      response.end('id: 7\nevent: tick\ndata: {"n":1}\n\n')
    })
    return {
      url: `${server.url}/life`,
      origin: server.url,
      options: { map: 'ticks', retry: 300, minRetryDelay: 200 },
      stop: { ms: 20_000 },
      check (t, log) {
        t.equal(log.error, undefined)
        t.match(log.statuses, [
          { state: 'connecting', attempt: 0 },
          { state: 'open' },
          { state: 'reconnecting', attempt: 1, lastEventId: '7', error: undefined },
          { state: 'connecting', attempt: 1 },
          { state: 'closed', reason: 'ended' }
        ])
        t.equal(log.statuses.length, 5)
        const wait = reconnecting(log)[0]!
        t.ok(wait.delay >= 200 && wait.delay <= 300, `delay ${wait.delay}`)
        t.ok(Math.abs(wait.at - Date.now()) < 60_000 && wait.at > 1e12, '`at` is a Date.now() time')
        t.equal(log.finalStatus, 'closed')
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------

/** The most the heap may grow while a bounded scenario runs (the issue saw 2.4 GB). */
const HEAP_BOUND = 64 * MB

/**
 * Runs each scenario of `group` as a subtest: `run` runs the client where it lives (Node or a
 * page), `heap` reads that place's used heap, sampled for the scenarios that must stay bounded.
 */
export async function runScenarios (t: Test, group: Record<string, ScenarioStart>, run: (scenario: Scenario) => Promise<RunLog>, heap: () => Promise<number>): Promise<void> {
  for (const [name, start] of Object.entries(group)) {
    await t.test(name, async t => {
      const scenario = await start(t)
      if (scenario.boundedMemory !== true) {
        await scenario.check(t, await run(scenario))
        return
      }
      const before = await heap()
      let peak = before
      const sampling = { on: true }
      const sampler = (async () => {
        while (sampling.on) {
          peak = Math.max(peak, await heap())
          await new Promise(resolve => setTimeout(resolve, 20))
        }
      })()
      const log = await run(scenario)
      sampling.on = false
      await sampler
      peak = Math.max(peak, await heap())
      await scenario.check(t, log)
      t.ok(peak - before < HEAP_BOUND, `the heap grew by ${((peak - before) / MB).toFixed(1)} MB at most (bound ${HEAP_BOUND / MB} MB)`)
    })
  }
}
