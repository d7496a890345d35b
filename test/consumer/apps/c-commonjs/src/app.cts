// A CommonJS user's app in TypeScript: `import x = require(…)` compiles to require(), and the
// types come from the package's CommonJS declarations. Prints what a real client read.
import sse = require('fastify-typed-sse')
import { fastify } from 'fastify'
import { Type } from '@sinclair/typebox'
import type { AddressInfo } from 'node:net'

const events = { tick: Type.Object({ n: Type.Integer() }) }

async function main (): Promise<void> {
  const app = fastify()
  await app.register(sse.ssePlugin)
  app.get('/ticks', { sse: { events } }, async function * () {
    yield { event: 'tick', data: { n: 1 } }
  })
  app.get('/reply', (_request, reply) => reply.sse([{ event: 'tick', data: { n: 2 } }], { events }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  for (const path of ['/ticks', '/reply']) {
    const response = await fetch(base + path)
    console.log(`cts ${path} ${response.status} ${JSON.stringify(await response.text())}`)
  }
  await app.close()
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
