// A fast reader in a process of its own: it requests one path (with `Connection: close`, so the
// socket closes when the response ends) and reads the response as fast as the socket delivers
// it, throwing the bytes away. In the test's own process a reader would be
// starved along with the server it reads from, and the server would then wait on backpressure
// instead of showing what a fast remote client does to it.
import { spawn, type ChildProcess } from 'node:child_process'

const script = `
const { connect } = require('node:net')
const [port, path] = process.argv.slice(-2)
let bytes = 0
const socket = connect({ port: Number(port), host: '127.0.0.1' }, () => {
  socket.write('GET ' + path + ' HTTP/1.1\\r\\nhost: 127.0.0.1\\r\\naccept: text/event-stream\\r\\nconnection: close\\r\\n\\r\\n')
})
socket.on('data', chunk => { bytes += chunk.length })
socket.on('error', () => {})
socket.on('close', () => { process.send({ bytes }, () => process.exit(0)) })
process.on('message', () => socket.destroy())
`

export interface Reader {
  /** Bytes read, once the connection has closed (by the server, or by stop()). */
  done: Promise<number>
  /** Closes the connection from the client side. */
  stop (): void
}

interface Teardown { after (fn: () => unknown): void }

export function startReader (t: Teardown, port: number, path: string): Reader {
  // Plain node (not the test's tsx loader): the script is CommonJS and starts in a few ms.
  const child: ChildProcess = spawn(process.execPath, ['-e', script, String(port), path], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  const done = new Promise<number>((resolve, reject) => {
    child.once('message', (message: { bytes: number }) => resolve(message.bytes))
    child.once('exit', code => reject(new Error(`the reader exited with code ${code} before reporting`)))
  })
  done.catch(() => {})
  t.after(() => { if (child.exitCode === null) child.kill() })
  return { done, stop: () => child.send('stop') }
}
