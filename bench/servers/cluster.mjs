// Several processes of one implementation behind one port, with node:cluster as users deploy it
// (Node 20 has no `reusePort`): the primary accepts connections and hands them to its workers in
// turn. BENCH_SERVER names the implementation's file, BENCH_WORKERS how many processes. The
// runner talks to this primary as to any server: the primary asks every worker and adds up their
// CPU time (its own included: accepting is part of the cost), memory and counters. A broadcast
// goes to the first worker only; the workers share it through Redis (the plugin's Redis hub, or
// a Redis channel for the others: BENCH_PUBSUB, see shared.mjs).
import cluster from 'node:cluster'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '../processes.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const file = process.env.BENCH_SERVER
const count = Number(process.env.BENCH_WORKERS ?? 2)

// Every worker listens on this one port.
const port = await freePort()
cluster.setupPrimary({ exec: join(here, file), execArgv: ['--expose-gc', '--no-warnings'] })

const workers = []
let nextId = 0
const calls = new Map()

function call (worker, message) {
  return new Promise((resolve, reject) => {
    const id = nextId++
    calls.set(id, { resolve, reject })
    worker.send({ ...message, id })
  })
}

const ready = []
for (let i = 0; i < count; i++) {
  const worker = cluster.fork({ BENCH_PORT: String(port) })
  workers.push(worker)
  ready.push(new Promise((resolve, reject) => {
    worker.on('message', message => {
      if (message.ready) {
        resolve(message)
        return
      }
      const pending = calls.get(message.id)
      if (pending === undefined) return
      calls.delete(message.id)
      if (message.error !== undefined) pending.reject(new Error(message.error))
      else pending.resolve(message.result)
    })
    worker.once('exit', code => {
      reject(new Error(`worker ${i} exited with ${code}`))
      // A worker lost mid-run fails the run rather than leaving it waiting.
      for (const pending of calls.values()) pending.reject(new Error(`worker ${i} exited with ${code}`))
      calls.clear()
    })
  }))
}
const [first] = await Promise.all(ready)

const all = message => Promise.all(workers.map(worker => call(worker, message)))
const sum = (results, field) => results.reduce((total, r) => total + r[field], 0)

const commands = {
  async cpu () {
    const results = await all({ cmd: 'cpu' })
    const own = process.cpuUsage()
    return { user: sum(results, 'user') + own.user, system: sum(results, 'system') + own.system }
  },
  async mem (message) {
    const results = await all(message)
    return { heapUsed: sum(results, 'heapUsed'), rss: sum(results, 'rss'), gc: results.every(r => r.gc), perWorker: results.map(r => r.rss) }
  },
  async alive (message) {
    const results = await all(message)
    return { alive: sum(results, 'alive'), subscribers: sum(results, 'subscribers'), perWorker: results.map(r => r.subscribers) }
  }
}

process.on('message', async message => {
  try {
    const command = commands[message.cmd]
    const result = command !== undefined ? await command(message) : await call(workers[0], { ...message, id: undefined })
    process.send({ id: message.id, result })
  } catch (err) {
    process.send({ id: message.id, error: String(err?.stack ?? err) })
  }
})
process.on('disconnect', () => process.exit(0))
process.send({ ready: true, name: `${first.name}; ${count} processes (node:cluster)`, port })
