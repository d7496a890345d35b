// A client that stops reading costs bounded memory: the source is pulled only while the
// socket can take more, up to highWaterMark bytes.
import t from 'tap'
import { startApp, until } from './helpers/server.js'
import { rawGet } from './helpers/raw.js'

t.test('a paused client stops the source, and what the server holds stays near highWaterMark', async t => {
  const highWaterMark = 32 * 1024
  const eventBytes = 'data: \n\n'.length + 1000
  let yielded = 0
  let socketBuffered = 0
  const { port } = await startApp(t, app => {
    app.get('/s', (request, reply) => reply.sse(async function * () {
      for (let n = 0; n < 1_000_000; n++) {
        yielded++
        socketBuffered = Math.max(socketBuffered, reply.raw.writableLength)
        yield { data: 'x'.repeat(1000) }
      }
    }, { highWaterMark }))
  }, { fastify: { logger: false } })
  const response = await rawGet(port, '/s')
  response.socket.pause()
  let last = -1
  await until(() => { const stalled = yielded === last && yielded > 0; last = yielded; return stalled }, 'the source to stall')
  // Whatever is past the kernel's socket buffers sits in the server: the batch being built and
  // the response's own buffer. Both are bounded by highWaterMark (the batch may finish the
  // event that crosses it, and one batch is in the socket when it stops taking more).
  t.ok(socketBuffered <= 2 * highWaterMark + eventBytes, `server-side buffer ${socketBuffered} B stays within 2 x highWaterMark`)
  // The kernel's socket buffers are a few MB at most on loopback; a million events would be 1 GB.
  t.ok(yielded * eventBytes < 16 * 1024 * 1024, `the source was pulled ${yielded} times, not a million`)
  const stalledAt = yielded

  response.socket.resume()
  await until(() => yielded > stalledAt + 1000, 'the source to be pulled again once the client reads')
  t.pass('reading resumes the source')
  response.close()
})

t.test('highWaterMark counts bytes as sent (UTF-8): a batch of CJK text holds highWaterMark bytes, not three times as many', async t => {
  const highWaterMark = 16 * 1024
  // 300 CJK characters: 300 UTF-16 units, 900 bytes of UTF-8.
  const text = '日本語のテキスト'.repeat(38).slice(0, 300)
  const eventBytes = Buffer.byteLength(`data: ${text}\n\n`)
  const writes: number[] = []
  let yielded = 0
  const { port } = await startApp(t, app => {
    app.get('/s', (_request, reply) => {
      // What the stream hands the socket in each write: one batch.
      const write = reply.raw.write.bind(reply.raw) as (chunk: string) => boolean
      reply.raw.write = ((chunk: string) => { writes.push(Buffer.byteLength(chunk)); return write(chunk) }) as typeof reply.raw.write
      return reply.sse(function * () {
        for (;;) {
          yielded++
          yield { data: text }
        }
      }, { highWaterMark })
    })
  }, { fastify: { logger: false } })
  const response = await rawGet(port, '/s')
  response.socket.pause()
  let last = -1
  await until(() => { const stalled = yielded === last && yielded > 0; last = yielded; return stalled }, 'the source to stall')
  const largest = Math.max(...writes)
  t.ok(writes.length > 2, `${writes.length} writes`)
  t.ok(largest <= highWaterMark + eventBytes, `the largest batch is ${largest} bytes, within highWaterMark (${highWaterMark}) and one event`)
  t.ok(largest > highWaterMark / 2, 'batches are not cut short either')
  response.close()
})
