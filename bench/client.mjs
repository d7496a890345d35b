// The load client: a separate process driven by the runner over IPC. Raw node:net sockets and
// byte scans only (no HTTP parser, no strings per event), so it costs far less than any server
// it measures. Every wait is bounded by a timeout. Several of these run at once for the scale
// scenarios, each opening its share of the streams from its own loopback source address
// (127.0.x.y: one address has only about 28 000 ephemeral ports).
import { connect } from 'node:net'

const HOST = '127.0.0.1'
const FRAME_END = Buffer.from('\n\n')
const TS = Buffer.from('"ts":')
const SEQ = Buffer.from('"seq":')
const HEAD_END = Buffer.from('\r\n\r\n')
// The last chunk of a chunked response. Some servers answer `Connection: close` with
// `connection: keep-alive` and keep the socket open, so the end is read from the bytes.
const BODY_END = Buffer.from('\r\n0\r\n\r\n')

function nowMicros () {
  return Math.round((performance.timeOrigin + performance.now()) * 1000)
}

function request (path, keepAlive, lastEventId) {
  return `GET ${path} HTTP/1.1\r\nHost: ${HOST}\r\nAccept: text/event-stream\r\n` +
    (lastEventId === undefined ? '' : `Last-Event-ID: ${lastEventId}\r\n`) +
    `Connection: ${keepAlive ? 'keep-alive' : 'close'}\r\n\r\n`
}

/** The decimal number that starts at `at` in `buf`. */
function readNumber (buf, at) {
  let value = 0
  for (let i = at; i < buf.length; i++) {
    const digit = buf[i] - 0x30
    if (digit < 0 || digit > 9) break
    value = value * 10 + digit
  }
  return value
}

/** Counts frame ends in `chunk`; `prev` is the last byte of the previous chunk (a split "\n\n"). */
function countFrames (chunk, prev) {
  let count = prev === 0x0a && chunk[0] === 0x0a ? 1 : 0
  let at = chunk.indexOf(FRAME_END)
  while (at !== -1) {
    count++
    at = chunk.indexOf(FRAME_END, at + 2)
  }
  return count
}

/** One stream read as fast as possible until the server ends the response. */
function throughput ({ port, path, timeoutMs }) {
  return new Promise((resolve, reject) => {
    const cpu = process.cpuUsage()
    const started = performance.now()
    let bytes = 0
    let frames = 0
    let prev = 0
    let tail = Buffer.alloc(0)
    const socket = connect({ host: HOST, port }, () => socket.write(request(path, false)))
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`throughput: timed out after ${timeoutMs} ms with ${frames} frames`))
    }, timeoutMs)
    socket.on('data', chunk => {
      bytes += chunk.length
      frames += countFrames(chunk, prev)
      prev = chunk[chunk.length - 1]
      tail = Buffer.concat([tail, chunk.subarray(-BODY_END.length)]).subarray(-BODY_END.length)
      if (tail.equals(BODY_END)) socket.destroy()
    })
    socket.on('error', err => { clearTimeout(timer); reject(err) })
    socket.on('close', () => {
      clearTimeout(timer)
      const ms = performance.now() - started
      const used = process.cpuUsage(cpu)
      resolve({ ms, bytes, frames, clientCpuSeconds: (used.user + used.system) / 1e6 })
    })
  })
}

/** Open subscriber sockets of the fan-out, idle and scale scenarios. */
let subscribers = []
let latencies = new Float64Array(0)
let recorded = 0
let delivered = 0
let frames = 0
let lastReceived = 0
/** Streams the server ended while we were reading them (a hub's overflow policy, a crash). */
let closedByServer = 0

class Subscriber {
  socket
  headers = false
  leftover = undefined
  received = 0
  closed = false

  constructor (port, path, localAddress, onOpen, onFail) {
    this.socket = connect({ host: HOST, port, localAddress }, () => this.socket.write(request(path, true)))
    this.socket.on('data', chunk => this.data(chunk, onOpen))
    this.socket.on('error', onFail)
    this.socket.on('close', () => {
      if (this.headers && !this.closed) closedByServer++
      this.closed = true
      onFail(new Error('closed by the server'))
    })
  }

  data (chunk, onOpen) {
    let buf = this.leftover === undefined ? chunk : Buffer.concat([this.leftover, chunk])
    this.leftover = undefined
    if (!this.headers) {
      const end = buf.indexOf(HEAD_END)
      if (end === -1) {
        this.leftover = buf
        return
      }
      this.headers = true
      onOpen()
      buf = buf.subarray(end + 4)
    }
    // Only whole frames are read; a frame cut by the TCP read waits for its end.
    const end = buf.lastIndexOf(FRAME_END)
    if (end === -1) {
      if (buf.length > 0) this.leftover = buf
      return
    }
    if (end + 2 < buf.length) this.leftover = buf.subarray(end + 2)
    frames += countFrames(buf.subarray(0, end + 2), 0)
    const now = nowMicros()
    let at = buf.indexOf(TS)
    while (at !== -1 && at < end) {
      const ts = readNumber(buf, at + TS.length)
      if (recorded < latencies.length) latencies[recorded++] = now - ts
      this.received++
      delivered++
      at = buf.indexOf(TS, at + TS.length)
    }
    lastReceived = now
  }
}

/**
 * Opens `connections` streams, `batch` at a time, each counted once its headers arrive. Fails
 * when `timeoutMs` passes, or when no stream opened for `stallMs`: on a busy machine opening
 * tens of thousands may take minutes, and only a stall means something is wrong.
 */
function open ({ port, path, connections, timeoutMs, stallMs = timeoutMs, batch = 100, localAddress }) {
  return new Promise((resolve, reject) => {
    const began = performance.now()
    let opened = 0
    let started = 0
    let failed = 0
    let lastOpened = performance.now()
    const fail = reason => {
      clearTimeout(timer)
      clearInterval(watch)
      reject(new Error(`open: ${reason}`))
    }
    const timer = setTimeout(() => fail(`${opened} of ${connections} opened after ${timeoutMs} ms`), timeoutMs)
    const watch = setInterval(() => {
      if (performance.now() - lastOpened > stallMs) fail(`${opened} of ${connections} opened, then none for ${stallMs} ms`)
    }, 1000)
    const next = () => {
      if (started >= connections) return
      started++
      let done = false
      subscribers.push(new Subscriber(port, path, localAddress, () => {
        opened++
        lastOpened = performance.now()
        done = true
        if (opened === connections) {
          clearTimeout(timer)
          clearInterval(watch)
          resolve({ opened, failed, ms: performance.now() - began })
        } else {
          next()
        }
      }, err => {
        if (done) return
        done = true
        failed++
        fail(`a connection failed after ${opened} opened: ${err.message}`)
      }))
    }
    for (let i = 0; i < batch; i++) next()
  })
}

/** Starts counting: `expected` events per subscriber from now on (and every frame). */
function arm ({ expected }) {
  latencies = new Float64Array(subscribers.length * expected)
  recorded = 0
  delivered = 0
  frames = 0
  lastReceived = 0
  closedByServer = 0
  for (const s of subscribers) s.received = 0
  return { armed: subscribers.length }
}

/**
 * Waits until every open subscriber has `expected` events (or the timeout), then reports.
 * `raw` adds the latencies themselves, for the runner to merge those of several clients.
 */
async function collect ({ expected, firstSent, timeoutMs, raw = false }) {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline && subscribers.some(s => !s.closed && s.received < expected)) {
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  const sorted = latencies.slice(0, recorded).sort()
  const at = q => sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] / 1000
  const seconds = (lastReceived - firstSent) / 1e6
  return {
    subscribers: subscribers.length,
    delivered,
    lost: subscribers.length * expected - delivered,
    closedByServer,
    frames,
    eventsPerSecond: delivered / seconds,
    lastReceived,
    p50: at(0.5),
    p99: at(0.99),
    max: sorted.length === 0 ? NaN : sorted[sorted.length - 1] / 1000,
    ...(raw ? { latencies: sorted } : {})
  }
}

/** Frames (events and comments) seen since `arm`, without waiting: heartbeats of idle streams. */
function counts () {
  return { frames, delivered, closedByServer, open: subscribers.filter(s => !s.closed).length }
}

function closeAll () {
  for (const s of subscribers) {
    s.closed = true
    s.socket.destroy()
  }
  const closed = subscribers.length
  subscribers = []
  latencies = new Float64Array(0)
  return { closed }
}

/**
 * Reads a replay: connects with `Last-Event-ID`, and reads until `expected` events have come.
 * Checks each event's `seq` follows the one before (nothing lost, nothing twice, in order).
 */
function replay ({ port, path, lastEventId, expected, firstSeq, timeoutMs }) {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    let headers = false
    let events = 0
    let bytes = 0
    let outOfOrder = 0
    let nextSeq = firstSeq
    let leftover
    const socket = connect({ host: HOST, port }, () => socket.write(request(path, true, lastEventId)))
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`replay: ${events} of ${expected} events after ${timeoutMs} ms`))
    }, timeoutMs)
    socket.on('data', chunk => {
      bytes += chunk.length
      let buf = leftover === undefined ? chunk : Buffer.concat([leftover, chunk])
      leftover = undefined
      if (!headers) {
        const end = buf.indexOf(HEAD_END)
        if (end === -1) {
          leftover = buf
          return
        }
        headers = true
        buf = buf.subarray(end + 4)
      }
      const end = buf.lastIndexOf(FRAME_END)
      if (end === -1) {
        leftover = buf
        return
      }
      if (end + 2 < buf.length) leftover = buf.subarray(end + 2)
      let at = buf.indexOf(SEQ)
      while (at !== -1 && at < end) {
        const seq = readNumber(buf, at + SEQ.length)
        if (seq !== nextSeq) outOfOrder++
        nextSeq = seq + 1
        events++
        at = buf.indexOf(SEQ, at + SEQ.length)
      }
      if (events >= expected) {
        const ms = performance.now() - started
        clearTimeout(timer)
        socket.destroy()
        resolve({ ms, events, bytes, outOfOrder })
      }
    })
    socket.on('error', err => { clearTimeout(timer); reject(err) })
  })
}

/** One connect, read-one-event, disconnect cycle. Resolves true on success. */
function cycle (port, path, timeoutMs) {
  return new Promise(resolve => {
    let buf = Buffer.alloc(0)
    let ok = false
    const socket = connect({ host: HOST, port }, () => socket.write(request(path, true)))
    const timer = setTimeout(() => socket.destroy(), timeoutMs)
    socket.on('data', chunk => {
      buf = Buffer.concat([buf, chunk])
      const ts = buf.indexOf(TS)
      if (ts !== -1 && buf.indexOf(FRAME_END, ts) !== -1) {
        ok = true
        socket.destroy()
      }
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      clearTimeout(timer)
      resolve(ok)
    })
  })
}

async function churn ({ port, path, total, concurrency, timeoutMs, cycleTimeoutMs }) {
  const started = performance.now()
  const deadline = Date.now() + timeoutMs
  let begun = 0
  let ok = 0
  let failed = 0
  const worker = async () => {
    while (begun < total && Date.now() < deadline) {
      begun++
      if (await cycle(port, path, cycleTimeoutMs)) ok++
      else failed++
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return { ms: performance.now() - started, ok, failed, total }
}

const commands = { throughput, open, arm, collect, counts, closeAll, churn, replay, cpu: () => process.cpuUsage() }

process.on('message', async message => {
  try {
    const command = commands[message.cmd]
    if (command === undefined) throw new Error(`unknown command ${message.cmd}`)
    process.send({ id: message.id, result: await command(message) })
  } catch (err) {
    process.send({ id: message.id, error: String(err?.stack ?? err) })
  }
})
process.on('disconnect', () => process.exit(0))
process.send({ ready: true })
