// The page's script, bundled by the server with esbuild. Reads the answer with the typed client:
// `event.data` is a string for `token` and `{ tokens, finishReason }` for `done`, both checked.
import { sseClient } from 'fastify-typed-sse/client'
import { events } from './events.js'

const form = document.querySelector<HTMLFormElement>('#ask')!
const prompt = document.querySelector<HTMLInputElement>('#prompt')!
const output = document.querySelector<HTMLElement>('#output')!
const status = document.querySelector<HTMLElement>('#status')!
const stop = document.querySelector<HTMLButtonElement>('#stop')!
let controller: AbortController | undefined

stop.addEventListener('click', () => controller?.abort())

form.addEventListener('submit', async (event) => {
  event.preventDefault()
  controller = new AbortController()
  output.textContent = ''
  status.textContent = 'thinking…'
  stop.disabled = false
  let received = 0
  try {
    const answer = sseClient('/complete', {
      events,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: prompt.value }),
      signal: controller.signal,
      // One answer per request: when it ends, do not ask again.
      reconnect: false
    })
    for await (const message of answer) {
      if (message.event === 'token') {
        output.textContent += message.data
        status.textContent = `${++received} tokens`
      } else if (message.event === 'done') {
        status.textContent = `done: ${message.data.tokens} tokens (${message.data.finishReason})`
        break
      }
    }
    if (controller.signal.aborted) status.textContent = `stopped after ${received} tokens`
  } catch (error) {
    status.textContent = `failed: ${(error as Error).message}`
  } finally {
    stop.disabled = true
  }
})
