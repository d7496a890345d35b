// Hono's streamSSE on @hono/node-server, used as Hono's documentation shows: a route returns
// streamSSE(c, async stream => …), data stringified by the caller, stream.onAbort() to learn that
// the client left. It is the most used non-Fastify choice in TypeScript. streamSSE has no heartbeat
// option, so the idle route writes its own comment on a timer, as fastify-sse-v2's does.
import { serve as listen } from '@hono/node-server'
import { Hono } from 'hono'
import { streamSSE } from 'hono/streaming'
import { counters, HEARTBEAT_MS, listenPort, makeEvent, serve, streamParams } from './shared.mjs'

const app = new Hono()

app.get('/stream', c => {
  const { n, size } = streamParams(c.req.url)
  return streamSSE(c, async stream => {
    for (let seq = 0; seq < n && !stream.aborted; seq++) {
      await stream.writeSSE({ data: JSON.stringify(makeEvent(size, seq)) })
    }
  })
})

/** Open streams of /sub, for the broadcast. */
const streams = new Set()

/** Resolves when the client has gone. */
function untilAborted (stream) {
  return new Promise(resolve => {
    if (stream.aborted) resolve()
    else stream.onAbort(resolve)
  })
}

app.get('/sub', c => streamSSE(c, async stream => {
  const heartbeat = setInterval(() => { stream.write(':\n\n') }, HEARTBEAT_MS)
  streams.add(stream)
  counters.subscribers++
  try {
    await untilAborted(stream)
  } finally {
    clearInterval(heartbeat)
    streams.delete(stream)
    counters.subscribers--
  }
}))

app.get('/one', c => streamSSE(c, async stream => {
  counters.alive++
  try {
    await stream.writeSSE({ data: JSON.stringify(makeEvent('small', 0)) })
    await untilAborted(stream)
  } finally {
    counters.alive--
  }
}))

function broadcast (data) {
  const text = JSON.stringify(data)
  // writeSSE queues on the stream's TransformStream; the node-server adapter waits for 'drain'.
  for (const stream of streams) stream.writeSSE({ data: text })
}

listen({ fetch: app.fetch, port: listenPort, hostname: '127.0.0.1' }, info => {
  serve({ name: 'Hono streamSSE (@hono/node-server)', port: info.port, broadcast })
})
