// Not an implementation: node:http writing frames encoded ahead of time, 1000 to a write. It
// shows how fast the client can read, so a result near this line means the client was the limit.
import { createServer } from 'node:http'
import { drained, frame } from './handwritten.mjs'
import { makeEvent, serve, streamParams } from './shared.mjs'

const FRAMES_PER_WRITE = 1000
const blocks = {
  small: Array.from({ length: FRAMES_PER_WRITE }, (_, i) => frame(makeEvent('small', i))).join(''),
  large: Array.from({ length: FRAMES_PER_WRITE }, (_, i) => frame(makeEvent('large', i))).join('')
}

const server = createServer(async (req, res) => {
  const { n, size } = streamParams(req.url)
  res.writeHead(200, { 'content-type': 'text/event-stream' })
  for (let sent = 0; sent < n && !res.destroyed; sent += FRAMES_PER_WRITE) {
    if (!res.write(blocks[size])) await drained(res)
  }
  res.end()
})
server.listen(0, '127.0.0.1', () => serve({ name: 'client ceiling', port: server.address().port, broadcast: () => {} }))
