// The page's script, bundled by the server with esbuild. Reads the answer with the typed client:
// `event.data` is a string for `token` and `{ tokens, finishReason }` for `done`, both checked.
// If the connection drops mid-answer, the client reconnects by itself with the last token's id,
// and the line under the form says so ("reconnecting in 2 s") from the client's `status`.
import { sseClient, type SseClientStatus } from 'fastify-typed-sse/client'
import { events } from './events.js'

const form = document.querySelector<HTMLFormElement>('#ask')!
const prompt = document.querySelector<HTMLInputElement>('#prompt')!
const output = document.querySelector<HTMLElement>('#output')!
const status = document.querySelector<HTMLElement>('#status')!
const connection = document.querySelector<HTMLElement>('#connection')!
const stop = document.querySelector<HTMLButtonElement>('#stop')!
let controller: AbortController | undefined
let countdown: ReturnType<typeof setInterval> | undefined

/** The connection line: what the client is doing, with a countdown while it waits. */
function showConnection (state: SseClientStatus): void {
  clearInterval(countdown)
  switch (state.state) {
    case 'connecting':
      connection.textContent = state.attempt === 0 ? 'connecting…' : `connecting… (attempt ${state.attempt})`
      break
    case 'open':
      connection.textContent = 'connected'
      break
    case 'reconnecting': {
      const tick = (): void => {
        const seconds = Math.max(0, Math.ceil((state.at - Date.now()) / 1000))
        connection.textContent = `reconnecting in ${seconds} s (attempt ${state.attempt})`
      }
      tick()
      countdown = setInterval(tick, 250)
      break
    }
    case 'closed':
      connection.textContent = state.reason === 'error' ? 'disconnected: failed' : 'disconnected'
      break
  }
}

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
      onStatus: showConnection
    })
    for await (const message of answer) {
      if (message.event === 'token') {
        output.textContent += message.data
        status.textContent = `${++received} tokens`
      } else if (message.event === 'done') {
        status.textContent = `done: ${message.data.tokens} tokens (${message.data.finishReason})`
        // One answer per request: leaving the loop closes the stream, and it is not reopened.
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
