// Plain node:http, SSE written by hand: the reference every library is measured against.
import { createServer } from 'node:http'
import { broadcast, one, stream, subscribe } from './handwritten.mjs'
import { listenPort, serve } from './shared.mjs'

const server = createServer((req, res) => {
  const path = req.url.split('?')[0]
  if (path === '/stream') stream(req.url, res).catch(err => { console.error(err); res.destroy() })
  else if (path === '/sub') subscribe(res)
  else if (path === '/one') one(res)
  else res.writeHead(404).end()
})
server.listen(listenPort, '127.0.0.1', () => serve({ name: 'node:http', port: server.address().port, broadcast }))
