// SSE written by hand on a node:http response, the way users write it: one write per frame,
// JSON.stringify per event, wait for 'drain' when write() returns false. Shared by the plain
// node:http server and the Fastify reply.hijack() server, so the two differ only by Fastify.
import { counters, HEARTBEAT_MS, makeEvent, streamParams } from './shared.mjs'

const HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  connection: 'keep-alive'
}

/** Open responses of /sub, for the broadcast. */
const subscribers = new Set()

export function frame (data) {
  return 'data: ' + JSON.stringify(data) + '\n\n'
}

/** GET /stream: `n` events as fast as the client takes them, then the end of the response. */
export async function stream (url, res) {
  const { n, size } = streamParams(url)
  res.writeHead(200, HEADERS)
  for (let seq = 0; seq < n && !res.destroyed; seq++) {
    if (!res.write(frame(makeEvent(size, seq)))) {
      await drained(res)
    }
  }
  res.end()
}

/** Resolves on 'drain' or 'close', whichever comes first, and drops both listeners. */
export function drained (res) {
  return new Promise(resolve => {
    const done = () => {
      res.off('drain', done)
      res.off('close', done)
      resolve()
    }
    res.on('drain', done)
    res.on('close', done)
  })
}

/** GET /sub: an idle stream with a heartbeat, in the broadcast set until the client leaves. */
export function subscribe (res) {
  res.writeHead(200, HEADERS)
  res.flushHeaders()
  const heartbeat = setInterval(() => res.write(':\n\n'), HEARTBEAT_MS)
  subscribers.add(res)
  counters.subscribers++
  res.once('close', () => {
    clearInterval(heartbeat)
    subscribers.delete(res)
    counters.subscribers--
  })
}

/** Encodes once, writes the same text to every subscriber. */
export function broadcast (data) {
  const text = frame(data)
  for (const res of subscribers) res.write(text)
}

/** GET /one: one event, then the stream stays open until the client leaves. */
export function one (res) {
  counters.alive++
  res.writeHead(200, HEADERS)
  res.write(frame(makeEvent('small', 0)))
  res.once('close', () => { counters.alive-- })
}
