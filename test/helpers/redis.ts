// A real redis-server per test file, on a free port, that tests can stop and start again to
// see what the hub does while Redis is away, or freeze (SIGSTOP) to see what it does while Redis
// holds its connections open and answers nothing. No persistence: a restart comes back empty.
import { spawn, type ChildProcess } from 'node:child_process'
import { connect, createServer, type Socket } from 'node:net'

export interface RedisServer {
  port: number
  /** redis://127.0.0.1:PORT */
  url: string
  /** Stops the server (SIGKILL, like a crash); resolves once it has exited. */
  stop (): Promise<void>
  /** Starts it again on the same port; resolves once it accepts connections. */
  start (): Promise<void>
  /**
   * Freezes the server (SIGSTOP): its sockets stay open and the kernel still takes what clients
   * send, but nothing is run or answered, as with a Redis stuck in a long fork or swap.
   */
  pause (): void
  /** Lets a paused server run again (SIGCONT): it then runs, in order, what it was sent. */
  resume (): void
}

interface Teardown { after (fn: () => unknown): void }

// The running server keeps the test process alive, so start it in a test (not at the top level
// of a file): the server stops when that test ends.

export async function startRedis (t: Teardown): Promise<RedisServer> {
  const port = await freePort()
  let child: ChildProcess | undefined
  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start () {
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
      const failed = new Promise<never>((_resolve, reject) => {
        child!.once('error', (err: NodeJS.ErrnoException) => {
          reject(err.code === 'ENOENT'
            ? new Error('redis-server is not installed; the hub tests start their own: apt-get install redis-server')
            : err)
        })
        child!.once('exit', code => reject(new Error(`redis-server exited with code ${code} before accepting connections`)))
      })
      await Promise.race([waitForPort(port), failed])
      child.removeAllListeners('exit')
    },
    pause () {
      signal('SIGSTOP')
    },
    resume () {
      signal('SIGCONT')
    },
    async stop () {
      const running = child
      child = undefined
      if (running === undefined || running.exitCode !== null) return
      const exited = new Promise(resolve => running.once('exit', resolve))
      running.kill('SIGKILL')
      await exited
    }
  }
  const signal = (name: NodeJS.Signals): void => {
    if (child === undefined || child.exitCode !== null || child.pid === undefined) throw new Error(`redis-server is not running (${name})`)
    process.kill(child.pid, name)
  }
  // SIGKILL also ends a paused server, so a failed test never leaves one frozen behind.
  const kill = (): void => { child?.kill('SIGKILL') }
  process.once('exit', kill)
  await server.start()
  t.after(async () => {
    process.removeListener('exit', kill)
    await server.stop()
  })
  return server
}

export interface RedisProxy {
  /** redis://127.0.0.1:PORT of the proxy */
  url: string
  /**
   * Passes on the next chunk a client sends that contains `text` (case-insensitive), then cuts
   * that client's connection at once: Redis gets the command and runs it, the client never sees
   * the answer, as when a network drops a connection with a command in flight. Resolves once cut.
   */
  cutAfter (text: string): Promise<void>
}

/** A TCP proxy in front of `redis`, closed when the test ends. */
export async function startRedisProxy (t: Teardown, redis: { port: number }): Promise<RedisProxy> {
  const sockets = new Set<Socket>()
  let cut: { text: string, done: () => void } | undefined
  const track = (socket: Socket): void => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    // A reset is what the cut is for; 'close' ends the other side.
    socket.on('error', () => {})
  }
  const server = createServer(client => {
    const upstream = connect({ port: redis.port, host: '127.0.0.1' })
    track(client)
    track(upstream)
    upstream.pipe(client)
    let cutHere = false
    client.on('data', (chunk: Buffer) => {
      const pending = cut
      upstream.write(chunk)
      if (pending === undefined || !chunk.toString('latin1').toLowerCase().includes(pending.text.toLowerCase())) return
      cut = undefined
      cutHere = true
      upstream.unpipe(client)
      client.destroy()
      // Redis answers what it got; only then is its side closed, so the command surely ran.
      upstream.once('data', () => upstream.destroy())
      pending.done()
    })
    client.once('close', () => { if (!cutHere) upstream.destroy() })
    upstream.once('close', () => client.destroy())
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('expected a TCP address')
  t.after(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise(resolve => server.close(resolve))
  })
  return {
    url: `redis://127.0.0.1:${address.port}`,
    cutAfter (text) {
      return new Promise(resolve => { cut = { text, done: resolve } })
    }
  }
}

async function freePort (): Promise<number> {
  const probe = createServer()
  await new Promise<void>(resolve => probe.listen(0, '127.0.0.1', resolve))
  const address = probe.address()
  await new Promise(resolve => probe.close(resolve))
  if (address === null || typeof address === 'string') throw new Error('expected a TCP address')
  return address.port
}

async function waitForPort (port: number): Promise<void> {
  const deadline = Date.now() + 10_000
  for (;;) {
    const ok = await new Promise<boolean>(resolve => {
      const socket = connect({ port, host: '127.0.0.1' })
      socket.once('connect', () => { socket.destroy(); resolve(true) })
      socket.once('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`redis-server did not listen on port ${port}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}
