// The soak's load, in a process of its own so it neither starves nor is starved by the server or
// the latency sampler: fast readers of tight generators, idle streams, churn, clients that never
// read or read slowly, and hub subscribers that check they get every event, in order.
import { connect, type Socket } from 'node:net'
import { createParser } from 'eventsource-parser'

const config = {
  fastReaders: Number(process.env.SOAK_FAST ?? 2),
  idle: Number(process.env.SOAK_IDLE ?? 300),
  churnLoops: Number(process.env.SOAK_CHURN ?? 10),
  neverRead: Number(process.env.SOAK_NEVER_READ ?? 10),
  slowRead: Number(process.env.SOAK_SLOW_READ ?? 10),
  subscribers: Number(process.env.SOAK_SUBSCRIBERS ?? 50)
}

const port = Number(process.argv[2])
/** Publish-to-receive times of hub events (one clock: the same machine). */
let deliveryMs: number[] = []
function deliveryPercentiles (): { p50: number, p99: number, max: number } {
  const sorted = deliveryMs.sort((a, b) => a - b)
  deliveryMs = []
  const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN
  return { p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? Number.NaN }
}
// An object, not a `let`: the loops below read it while other code sets it.
const run = { stopping: false }
const sockets = new Set<Socket>()

const stats = {
  fastRuns: 0,
  fastBytes: 0,
  idleOpen: 0,
  idleDropped: 0,
  churnCycles: 0,
  neverReadDropped: 0,
  neverReadKept: 0,
  slowReadBytes: 0,
  slowReadDropped: 0,
  errors: [] as string[],
  subscribers: [] as Array<{ received: number, first: number, last: number, gaps: number, disordered: number, dropped: boolean }>
}

/** Opens a request; `onBody` gets the de-chunked body bytes; resolves when the socket closes. */
function request (path: string, onBody: (bytes: Buffer, socket: Socket) => void, options: { close?: boolean, onHead?: (status: number, socket: Socket) => void } = {}): Promise<void> {
  return new Promise(resolve => {
    const socket = connect({ port, host: '127.0.0.1' })
    sockets.add(socket)
    let head: Buffer | undefined = Buffer.alloc(0)
    let chunked: Buffer = Buffer.alloc(0)
    socket.on('connect', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: text/event-stream\r\n${options.close === true ? 'connection: close\r\n' : ''}\r\n`)
    })
    socket.on('data', (data: Buffer) => {
      if (head !== undefined) {
        head = Buffer.concat([head, data])
        const end = head.indexOf('\r\n\r\n')
        if (end === -1) return
        const status = Number(head.subarray(9, 12).toString())
        if (status !== 200) stats.errors.push(`${path}: status ${status}`)
        options.onHead?.(status, socket)
        data = head.subarray(end + 4)
        head = undefined
      }
      chunked = chunked.length === 0 ? data : Buffer.concat([chunked, data])
      // Chunked framing: size line, bytes, CRLF.
      for (;;) {
        const lineEnd = chunked.indexOf('\r\n')
        if (lineEnd === -1) break
        const size = parseInt(chunked.subarray(0, lineEnd).toString(), 16)
        if (chunked.length < lineEnd + 2 + size + 2) break
        if (size === 0) { socket.end(); chunked = Buffer.alloc(0); break }
        onBody(chunked.subarray(lineEnd + 2, lineEnd + 2 + size), socket)
        chunked = chunked.subarray(lineEnd + 2 + size + 2)
      }
    })
    socket.on('error', () => {})
    socket.on('close', () => { sockets.delete(socket); resolve() })
  })
}

async function fastReader (path: string): Promise<void> {
  while (!run.stopping) {
    await request(`${path}?n=200000`, bytes => { stats.fastBytes += bytes.length }, { close: true })
    stats.fastRuns++
  }
}

async function idleStream (): Promise<void> {
  while (!run.stopping) {
    stats.idleOpen++
    await request('/idle', () => {})
    stats.idleOpen--
    if (!run.stopping) stats.idleDropped++
  }
}

async function churn (): Promise<void> {
  while (!run.stopping) {
    // Connect, read the first frame, leave.
    await request('/idle', (_bytes, socket) => socket.destroy())
    stats.churnCycles++
  }
}

// Takes nothing for 15 s, longer than the server's writeTimeout (10 s), then looks: the server
// must have dropped it (a paused socket only sees that once it reads again). Then comes back.
async function neverReads (): Promise<void> {
  while (!run.stopping) {
    let opened = 0
    await request('/bulk', () => {}, {
      onHead: (_status, socket) => {
        socket.pause()
        opened = Date.now()
        const timer = setTimeout(() => {
          socket.resume()
          // Still open a second after reading again: the server kept a client that took nothing.
          setTimeout(() => { if (!socket.destroyed) { stats.neverReadKept++; socket.destroy() } }, 1000).unref()
        }, 15_000)
        socket.once('close', () => clearTimeout(timer))
      }
    })
    if (!run.stopping && opened > 0) stats.neverReadDropped++
  }
}

async function slowReader (): Promise<void> {
  while (!run.stopping) {
    // Takes one read (at most 64 KiB) every 250 ms: far slower than the source, never still for
    // long. The server must keep it (writeTimeout is 10 s) and hold only about highWaterMark for it.
    await request('/bulk', (bytes, socket) => {
      stats.slowReadBytes += bytes.length
      socket.pause()
      setTimeout(() => socket.resume(), 250).unref()
    })
    if (!run.stopping) stats.slowReadDropped++
  }
}

function subscriber (): void {
  const record = { received: 0, first: -1, last: -1, gaps: 0, disordered: 0, dropped: false }
  stats.subscribers.push(record)
  const parser = createParser({
    onEvent (event) {
      if (event.event !== 'tick') return
      const { seq, at } = JSON.parse(event.data) as { seq: number, at: number }
      deliveryMs.push(Date.now() - at)
      if (record.first === -1) record.first = seq
      else if (seq < record.last + 1) record.disordered++
      else if (seq > record.last + 1) record.gaps += seq - record.last - 1
      record.last = Math.max(record.last, seq)
      record.received++
    }
  })
  const decoder = new TextDecoder()
  request('/topic', bytes => parser.feed(decoder.decode(bytes, { stream: true }))).then(() => {
    if (!run.stopping) record.dropped = true
  }, (err: Error) => { stats.errors.push(`/topic: ${err.message}`) })
}

const tasks: Array<Promise<void>> = []
for (let i = 0; i < config.fastReaders; i++) tasks.push(fastReader(i % 2 === 0 ? '/fast' : '/fast-async'))
for (let i = 0; i < config.idle; i++) tasks.push(idleStream())
for (let i = 0; i < config.churnLoops; i++) tasks.push(churn())
for (let i = 0; i < config.neverRead; i++) tasks.push(neverReads())
for (let i = 0; i < config.slowRead; i++) tasks.push(slowReader())
for (let i = 0; i < config.subscribers; i++) subscriber()

process.on('message', (message: { id: number, command: string }) => {
  if (message.command === 'reset-delivery') {
    // Starts the delivery measurement afresh once warmed up.
    deliveryMs = []
    process.send!({ id: message.id, value: true })
  } else if (message.command === 'stop') {
    // The server is closing (or closed): what ends from now on is not a drop.
    run.stopping = true
    process.send!({ id: message.id, value: { ...stats, delivery: deliveryPercentiles(), errors: stats.errors.slice(0, 20), errorCount: stats.errors.length } })
  } else if (message.command === 'exit') {
    for (const socket of sockets) socket.destroy()
    process.exit(0)
  }
})
process.send!({ ready: true, config })
