// Servers that misbehave on purpose, for the client's tests: a plain node:http server whose
// handler writes what it likes (an endless line, a 503, a 200 that ends at once), and a TCP
// proxy that can stop forwarding without closing anything, the way a NAT that forgot a
// connection looks from the client. Both can serve the browser harness (test/helpers/harness.ts)
// so a page reaches them on its own origin.
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer as createTcpServer, connect, type Socket } from 'node:net'

interface Teardown { after (fn: () => unknown): void }

export interface Request {
  /** 1 for the first request, then 2, 3… */
  n: number
  /** `performance.now()` when it arrived. */
  at: number
  path: string
  /** The `lastEventId` query parameter, if any. */
  queryId: string | null
  headers: IncomingMessage['headers']
}

export interface RawServer {
  url: string
  port: number
  /** Every request to a stream path (not the harness's files), in order. */
  requests: Request[]
}

export type Handler = (request: IncomingMessage, response: ServerResponse, info: Request) => void | Promise<void>

/**
 * A node:http server on a free loopback port calling `handler` for each request not served by
 * `files` (paths to bodies, for the browser harness). Open sockets are destroyed when the test
 * ends, so a handler that never ends its response cannot hold the teardown.
 */
export async function startRawServer (t: Teardown, handler: Handler, files?: Map<string, { type: string, body: string | Uint8Array }>): Promise<RawServer> {
  const requests: Request[] = []
  const sockets = new Set<Socket>()
  const server = createHttpServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://x')
    const file = files?.get(url.pathname)
    if (file !== undefined) {
      response.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-store' }).end(file.body)
      return
    }
    const info: Request = { n: requests.length + 1, at: performance.now(), path: url.pathname, queryId: url.searchParams.get('lastEventId'), headers: request.headers }
    requests.push(info)
    Promise.resolve(handler(request, response, info)).catch(err => response.destroy(err))
  })
  server.on('connection', socket => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.after(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise(resolve => server.close(resolve))
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('expected a TCP address')
  return { url: `http://127.0.0.1:${address.port}`, port: address.port, requests }
}

/** The head of an event stream response. */
export function openStream (response: ServerResponse, headers: Record<string, string> = {}): void {
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', ...headers })
  response.flushHeaders()
}

/** Writes `text` and waits for the socket to take it (or to close, which resolves false). */
export function write (response: ServerResponse, text: string | Uint8Array): Promise<boolean> {
  if (response.destroyed) return Promise.resolve(false)
  if (response.write(text)) return Promise.resolve(true)
  return new Promise(resolve => {
    const done = (open: boolean) => () => {
      response.off('drain', onDrain)
      response.off('close', onClose)
      resolve(open)
    }
    const onDrain = done(true)
    const onClose = done(false)
    response.once('drain', onDrain)
    response.once('close', onClose)
  })
}

export interface Sending {
  /** Bytes the socket took so far. */
  sent: number
  /** Resolves when sending stopped: `limit` reached, or the client closed the connection. */
  done: Promise<void>
}

/**
 * Sends `prefix` and then `piece` again and again, with no line break unless `piece` has one,
 * until `limit` bytes are sent or the client leaves.
 */
export function sendEndlessly (response: ServerResponse, prefix: string, piece: string, limit: number): Sending {
  const bytes = Buffer.from(piece)
  const sending: Sending = { sent: 0, done: Promise.resolve() }
  sending.done = (async () => {
    if (!await write(response, prefix)) return
    sending.sent = Buffer.byteLength(prefix)
    while (sending.sent < limit) {
      if (!await write(response, bytes)) return
      sending.sent += bytes.length
    }
    response.end()
  })()
  return sending
}

export interface StallingProxy {
  url: string
  /** Connections accepted so far. */
  readonly connections: number
  /**
   * Stops forwarding on every open connection, in both directions, without closing it: the
   * client sees an open connection on which nothing arrives. New connections are forwarded.
   */
  stall (): void
}

/** A TCP proxy on a free loopback port in front of `port`. */
export async function startStallingProxy (t: Teardown, port: number): Promise<StallingProxy> {
  const pairs = new Set<[Socket, Socket]>()
  const stalled = new Set<Socket>()
  let connections = 0
  const server = createTcpServer(client => {
    connections++
    const upstream = connect(port, '127.0.0.1')
    const pair: [Socket, Socket] = [client, upstream]
    pairs.add(pair)
    client.pipe(upstream)
    upstream.pipe(client)
    const end = (): void => {
      pairs.delete(pair)
      client.destroy()
      upstream.destroy()
    }
    client.once('close', end).on('error', end)
    upstream.once('close', end).on('error', end)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.after(async () => {
    for (const [client, upstream] of pairs) {
      client.destroy()
      upstream.destroy()
    }
    for (const socket of stalled) socket.destroy()
    await new Promise(resolve => server.close(resolve))
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('expected a TCP address')
  return {
    url: `http://127.0.0.1:${address.port}`,
    get connections () { return connections },
    stall () {
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream)
        upstream.unpipe(client)
        // Paused, so nothing is read and nothing is closed: the bytes wait in the kernel.
        client.pause()
        upstream.pause()
        // Neither side is closed (that would send a FIN): both stay open until the test ends,
        // as a connection a NAT forgot stays open at both ends.
        stalled.add(client)
        stalled.add(upstream)
      }
      pairs.clear()
    }
  }
}
