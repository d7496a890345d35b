// An LLM-style token stream read with the typed client: `npm run example:tokens`, then open
// http://localhost:3000. The page POSTs a prompt (EventSource cannot: it only GETs, with no
// body or headers) and reads the answer token by token with `sseClient` from
// `fastify-typed-sse/client`, checked against the same schemas as the server (events.ts). Each
// token carries its index as its id, so a connection that drops mid-answer resumes after the
// last token the page has.
import Fastify, { type FastifyServerOptions } from 'fastify'
import { Type } from '@sinclair/typebox'
import { build } from 'esbuild'
import { readFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import ssePlugin from 'fastify-typed-sse'
import { events } from './events.js'
import { tokensFor } from './model.js'

export interface TokensOptions {
  /** Milliseconds between tokens, the model's "thinking". */
  tokenMs?: number
  logger?: FastifyServerOptions['logger']
}

export async function buildTokens ({ tokenMs = 60, logger = process.env.NODE_ENV !== 'test' }: TokensOptions = {}) {
  const app = Fastify({ logger })
  await app.register(ssePlugin)

  // The page's script imports the client and events.ts; one esbuild bundle at start-up makes
  // that a single file a browser can load.
  const bundle = await build({
    entryPoints: [new URL('./page.ts', import.meta.url).pathname],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent'
  })
  const script = bundle.outputFiles[0]?.text ?? ''
  const page = await readFile(new URL('./index.html', import.meta.url), 'utf8')
  app.get('/', (_request, reply) => reply.type('text/html; charset=utf-8').send(page))
  app.get('/page.js', (_request, reply) => reply.type('text/javascript; charset=utf-8').send(script))

  app.post('/complete', {
    schema: { body: Type.Object({ prompt: Type.String({ minLength: 1, maxLength: 500 }) }) },
    sse: { events }
  }, async function * (request, _reply, { signal, lastEventId }) {
    const { prompt } = request.body as { prompt: string }
    const tokens = tokensFor(prompt)
    // A reconnect sends the prompt again and the id of the last token received. The stand-in
    // model answers a prompt the same way every time, so it can pick up there; a real app would
    // keep the generation under a request id and replay it.
    const last = Number(lastEventId)
    const from = lastEventId !== undefined && Number.isInteger(last) ? last + 1 : 0
    let sent = 0
    try {
      for (let i = from; i < tokens.length; i++) {
        // The signal aborts when the page presses Stop, so the wait ends at once.
        await sleep(tokenMs, undefined, { signal })
        yield { event: 'token', id: i, data: tokens[i]! }
        sent++
      }
      yield { event: 'done', data: { tokens: tokens.length, finishReason: 'stop' } }
    } finally {
      // Runs on Stop too: where a real app would cancel the model's generation, and log it.
      request.log.info({ from, sent, total: tokens.length, stopped: from + sent < tokens.length }, 'answer ended')
    }
  })
  return app
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const app = await buildTokens()
  await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? 'localhost' })
}
