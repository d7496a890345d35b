// A real redis-server per test file, on a free port, that tests can stop and start again to
// see what the hub does while Redis is away, or freeze (SIGSTOP) to see what it does while Redis
// holds its connections open and answers nothing. No persistence: a restart comes back empty.
// Also what the cluster and Sentinel helpers build on: spawning a server, free ports, TLS
// certificates made at test time.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { connect, createServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

export interface RedisServer {
  port: number
  /** redis://127.0.0.1:PORT (rediss:// when started with `tls`) */
  url: string
  /** The certificates, when started with `tls`. */
  tls?: RedisTls
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

export interface Teardown { after (fn: () => unknown): void }

const run = promisify(execFile)

// The running server keeps the test process alive, so start it in a test (not at the top level
// of a file): the server stops when that test ends.

export interface RedisTls {
  /** The CA certificate (PEM) that signed the server's certificate: what a client must trust. */
  ca: string
  /** The server's certificate and key files. */
  certFile: string
  keyFile: string
  caFile: string
}

export interface RedisServerOptions {
  /**
   * Serve TLS only (`--tls-port`, `--port 0`), with a certificate for 127.0.0.1 and localhost
   * made at start by a CA of the test's own; `url` is then `rediss://`.
   */
  tls?: boolean
  /** More redis-server arguments (`--replicaof`, ...). */
  args?: string[]
}

export async function startRedis (t: Teardown, options: RedisServerOptions = {}): Promise<RedisServer> {
  const port = await freePort()
  const tls = options.tls === true ? await makeCertificates(t) : undefined
  const dir = await tempDir(t, 'redis')
  const listen = tls === undefined
    ? ['--port', String(port)]
    : ['--port', '0', '--tls-port', String(port), '--tls-cert-file', tls.certFile, '--tls-key-file', tls.keyFile,
        '--tls-ca-cert-file', tls.caFile, '--tls-auth-clients', 'no']
  let child: ChildProcess | undefined
  const server: RedisServer = {
    port,
    url: `${tls === undefined ? 'redis' : 'rediss'}://127.0.0.1:${port}`,
    async start () {
      // A directory of its own: a replica writes the copy it receives from its master there.
      child = await spawnRedis([...listen, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...options.args ?? []], port)
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
      await stopProcess(running)
    }
  }
  if (tls !== undefined) server.tls = tls
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

/**
 * Starts `redis-server` with `args` (a config file first, if any); resolves once it accepts
 * connections on `port`. The caller stops it (stopProcess).
 */
export async function spawnRedis (args: string[], port: number, cwd?: string): Promise<ChildProcess> {
  const child = spawn('redis-server', args, { stdio: 'ignore', cwd })
  const failed = new Promise<never>((_resolve, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'ENOENT'
        ? new Error('redis-server is not installed; the hub tests start their own: apt-get install redis-server')
        : err)
    })
    child.once('exit', code => reject(new Error(`redis-server ${args.join(' ')} exited with code ${code} before accepting connections`)))
  })
  try {
    await Promise.race([waitForPort(port), failed])
  } catch (err) {
    child.kill('SIGKILL')
    throw err
  }
  child.removeAllListeners('exit')
  return child
}

/** SIGKILL, like a crash; resolves once the process has exited. */
export async function stopProcess (child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise(resolve => child.once('exit', resolve))
  child.kill('SIGKILL')
  await exited
}

/** A temporary directory, removed when the test ends. */
export async function tempDir (t: Teardown, name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `${name}-`))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

/** A CA, and a certificate it signed for 127.0.0.1 and localhost (openssl, P-256 keys: quick). */
async function makeCertificates (t: Teardown): Promise<RedisTls> {
  const dir = await tempDir(t, 'redis-tls')
  const file = (name: string): string => join(dir, name)
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  await writeFile(file('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n')
  await run('openssl', ['req', '-x509', ...key, '-keyout', file('ca.key'), '-out', file('ca.crt'), '-days', '1', '-subj', '/CN=fastify-typed-sse test CA'])
  await run('openssl', ['req', ...key, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=localhost'])
  await run('openssl', ['x509', '-req', '-in', file('server.csr'), '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-CAcreateserial',
    '-out', file('server.crt'), '-days', '1', '-extfile', file('san.ext')])
  return { ca: await readFile(file('ca.crt'), 'utf8'), certFile: file('server.crt'), keyFile: file('server.key'), caFile: file('ca.crt') }
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

export async function freePort (): Promise<number> {
  const probe = createServer()
  await new Promise<void>(resolve => probe.listen(0, '127.0.0.1', resolve))
  const address = probe.address()
  await new Promise(resolve => probe.close(resolve))
  if (address === null || typeof address === 'string') throw new Error('expected a TCP address')
  return address.port
}

export async function waitForPort (port: number): Promise<void> {
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
