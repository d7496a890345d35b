// A background job whose progress the page follows: `npm run example:progress`, then open
// http://localhost:3000 and press "Start". The stream ends with a typed `end` event, on which
// the page calls close(): without it the browser would reconnect as soon as the stream ended.
import Fastify from 'fastify'
import swagger from '@fastify/swagger'
import { Type } from '@sinclair/typebox'
import { randomUUID } from 'node:crypto'
import { EventEmitter, once } from 'node:events'
import { readFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import ssePlugin from 'fastify-typed-sse'

const events = {
  progress: Type.Object({
    percent: Type.Integer({ minimum: 0, maximum: 100 }),
    step: Type.String()
  }),
  end: Type.Object({
    steps: Type.Integer({ minimum: 0 }),
    elapsedMs: Type.Integer({ minimum: 0 })
  })
}

/** A job runs on its own; any number of streams (and reconnects) watch it. */
class Job extends EventEmitter {
  readonly id = randomUUID()
  /** The steps done so far; step n is sent with id n, so a reconnect resumes after the last seen. */
  done = 0
  finished = false
  readonly startedAt = Date.now()
  elapsedMs = 0

  constructor (readonly steps: number, private readonly stepMs: number) {
    super()
    // Every open stream on this job waits on 'change'; there may be more than ten.
    this.setMaxListeners(0)
  }

  async run (): Promise<void> {
    for (let n = 1; n <= this.steps; n++) {
      await sleep(this.stepMs)
      this.done = n
      this.emit('change')
    }
    this.finished = true
    this.elapsedMs = Date.now() - this.startedAt
    this.emit('change')
  }
}

export interface ProgressOptions {
  /** Steps of each job. */
  steps?: number
  /** Milliseconds per step. */
  stepMs?: number
  logger?: boolean
}

export async function buildProgress ({ steps = 40, stepMs = 150, logger = process.env.NODE_ENV !== 'test' }: ProgressOptions = {}) {
  const app = Fastify({ logger })
  // Registered before the routes, so the stream route is documented with one schema per event:
  // GET /openapi.json.
  await app.register(swagger, { openapi: { info: { title: 'progress example', version: '1.0.0' } } })
  // A short retry, so that a page which forgot close() would visibly reconnect soon after `end`.
  await app.register(ssePlugin, { retry: 500 })
  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger())
  // The same stream as an AsyncAPI 3.0 channel, one message per event: GET /asyncapi.json.
  app.get('/asyncapi.json', { schema: { hide: true } }, () => app.sse.asyncapi({
    info: { title: 'progress example', version: '1.0.0', description: 'A background job\'s progress, as Server-Sent Events.' },
    servers: { local: { host: `localhost:${process.env.PORT ?? 3000}`, protocol: 'http' } }
  }))
  const jobs = new Map<string, Job>()

  const page = await readFile(new URL('./index.html', import.meta.url), 'utf8')
  app.get('/', (_request, reply) => reply.type('text/html; charset=utf-8').send(page))

  app.post('/jobs', async (_request, reply) => {
    const job = new Job(steps, stepMs)
    jobs.set(job.id, job)
    job.run().then(
      // Kept a minute after it ends, for late viewers; then forgotten.
      () => setTimeout(() => jobs.delete(job.id), 60_000).unref(),
      (error: unknown) => app.log.error({ err: error, job: job.id }, 'job failed')
    )
    return reply.code(201).send({ id: job.id })
  })

  app.get<{ Params: { id: string }, Events: typeof events }>('/jobs/:id/events', { sse: { events } }, async function * (request, reply, { signal, lastEventId }) {
    const job = jobs.get(request.params.id)
    if (job === undefined) {
      // Thrown before the first event, this is a plain 404: EventSource stops, no reconnect.
      throw Object.assign(new Error('no such job'), { statusCode: 404 })
    }
    // A reconnecting browser sends the id of the last step it saw; carry on from there.
    const resumeFrom = Number(lastEventId)
    let sent = Number.isInteger(resumeFrom) && resumeFrom >= 0 ? resumeFrom : -1
    while (!job.finished || sent < job.done) {
      if (sent < job.done) {
        sent = job.done
        yield { event: 'progress', id: sent, data: { percent: Math.round(100 * sent / job.steps), step: `step ${sent} of ${job.steps}` } }
      } else {
        await once(job, 'change', { signal })
      }
    }
    yield { event: 'end', data: { steps: job.steps, elapsedMs: job.elapsedMs } }
  })
  return app
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const app = await buildProgress()
  await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? 'localhost' })
}
