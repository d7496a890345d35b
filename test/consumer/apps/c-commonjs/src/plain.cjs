// Plain JavaScript with require(): Fastify unwraps the module's `default`, so the module itself
// can be registered, as with most Fastify plugins.
'use strict'
const { fastify } = require('fastify')
const plugin = require('fastify-typed-sse')

async function main () {
  const app = fastify()
  await app.register(plugin)
  app.get('/s', (_request, reply) => reply.sse([{ data: 'from require' }]))
  await app.listen({ port: 0, host: '127.0.0.1' })
  const response = await fetch(`http://127.0.0.1:${app.server.address().port}/s`)
  console.log(`cjs /s ${response.status} ${JSON.stringify(await response.text())}`)
  await app.close()
}

main().catch(err => {
  console.error(err)
  process.exitCode = 1
})
