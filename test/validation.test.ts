// Every payload is checked against its event's schema before it is encoded. What an invalid
// event does to the stream is the `onInvalidEvent` policy; it is always logged with its path.
import t, { type Test } from 'tap'
import { Type } from '@sinclair/typebox'
import { startApp } from './helpers/server.js'
import { rawGet } from './helpers/raw.js'
import type { SseStreamOptions } from '../src/index.js'

const events = {
  message: Type.String(),
  tick: Type.Object({ n: Type.Integer(), tags: Type.Array(Type.String()) })
}

// Yields one good event, one whose data fails deep inside, and one more good event.
async function streamWith (t: Test, options: SseStreamOptions, bad: unknown = { n: 2, tags: ['ok', 7] }) {
  const started = await startApp(t, app => {
    app.get('/s', (_request, reply) => reply.sse(async function * () {
      yield { event: 'tick', data: { n: 1, tags: [] }, id: 1 }
      yield { event: 'tick', data: bad as never, id: 2 }
      yield { event: 'tick', data: { n: 3, tags: ['c'] }, id: 3 }
    }, { events, ...options }))
  })
  const response = await rawGet(started.port, '/s')
  await response.ended
  return { ...started, response }
}

t.test('skip (default): the invalid event is logged with its path and left out, the rest arrives', async t => {
  const { response, logs } = await streamWith(t, {})
  t.equal(response.body(), 'event: tick\ndata: {"n":1,"tags":[]}\nid: 1\n\nevent: tick\ndata: {"n":3,"tags":["c"]}\nid: 3\n\n')
  const logged = logs.filter(line => line.msg === 'fastify-typed-sse: an invalid event was not sent')
  t.equal(logged.length, 1)
  t.match(logged[0], { level: 50, reqId: String, err: { code: 'FST_SSE_INVALID_EVENT', event: 'tick', path: '/tags/1', message: /event "tick" has invalid data at "\/tags\/1": must be string/ } })
})

t.test('error-event: a typed `error` event takes the invalid event\'s place and the stream goes on', async t => {
  const { response } = await streamWith(t, { onInvalidEvent: 'error-event' })
  t.same(response.events.map(e => [e.event, e.id]), [['tick', '1'], ['error', undefined], ['tick', '3']])
  t.same(JSON.parse(response.events[1]!.data), {
    code: 'FST_SSE_INVALID_EVENT',
    message: 'an invalid event was not sent',
    event: 'tick',
    path: '/tags/1'
  })
})

t.test('error-event sends a fixed message per code: what went wrong in detail is only logged', async t => {
  const secret = 'postgres://admin:hunter2@db.internal'
  const { port, logs } = await startApp(t, app => {
    app.get('/s', (_request, reply) => reply.sse([
      // A toJSON that throws with a connection string in its message.
      { event: 'row', data: { toJSON () { throw new Error(`cannot reach ${secret}`) } } },
      // Field errors used to quote the offending value.
      { id: `${secret}\nevent: injected`, data: 1 },
      { event: `${secret}\r`, data: 2 },
      // So did "not an event object".
      secret,
      { event: 'unknown-name', data: 3 },
      { data: 'ok' }
    ] as never, { onInvalidEvent: 'error-event' }))
    app.get('/typed', (_request, reply) => reply.sse([
      { event: 'tick', data: { n: secret, tags: [] } as never },
      { event: 'nope', data: secret } as never
    ], { events, onInvalidEvent: 'error-event' }))
  })
  const response = await rawGet(port, '/s')
  await response.ended
  const typed = await rawGet(port, '/typed')
  await typed.ended
  const wire = response.body() + typed.body()
  t.notMatch(wire, 'hunter2', 'no secret on the wire')
  const frame = (data: object): string => `event: error\ndata: ${JSON.stringify(data)}\n\n`
  t.equal(response.body(), [
    frame({ code: 'FST_SSE_UNSERIALIZABLE', message: 'an event whose data could not be serialized was not sent', event: 'row' }),
    frame({ code: 'FST_SSE_INVALID_FIELD', message: 'an event whose event name, id, retry or comment is invalid was not sent' }),
    frame({ code: 'FST_SSE_INVALID_FIELD', message: 'an event whose event name, id, retry or comment is invalid was not sent' }),
    frame({ code: 'FST_SSE_NOT_AN_EVENT', message: 'a value that is not an event was not sent' }),
    'event: unknown-name\ndata: 3\n\n',
    'data: ok\n\n'
  ].join(''))
  t.equal(typed.body(), [
    frame({ code: 'FST_SSE_INVALID_EVENT', message: 'an invalid event was not sent', event: 'tick', path: '/n' }),
    frame({ code: 'FST_SSE_UNKNOWN_EVENT', message: 'an event whose name is not in the event map was not sent', event: 'nope' })
  ].join(''))
  const logged = logs.filter(line => line.msg === 'fastify-typed-sse: an invalid event was not sent')
  t.equal(logged.length, 6, 'every invalid event is logged')
  t.match(logged[0], { err: { code: 'FST_SSE_UNSERIALIZABLE', message: /cannot reach postgres:\/\/admin:hunter2@db.internal/ } }, 'the detail is in the log')
})

t.test('close: the stream ends at the invalid event, and the source is returned', async t => {
  let cleanedUp = false
  const { port } = await startApp(t, app => {
    app.get('/s', (_request, reply) => reply.sse(async function * () {
      try {
        yield { event: 'tick', data: { n: 1, tags: [] } }
        yield { event: 'tick', data: { n: 'two' } as never }
        yield { event: 'tick', data: { n: 3, tags: [] } }
      } finally {
        cleanedUp = true
      }
    }, { events, onInvalidEvent: 'close' }))
  })
  const response = await rawGet(port, '/s')
  await response.ended
  t.equal(response.body(), 'event: tick\ndata: {"n":1,"tags":[]}\n\n')
  t.ok(cleanedUp, 'the generator\'s finally ran')
})

t.test('an event name that is not in the map is refused, naming the known ones', async t => {
  const { port, logs } = await startApp(t, app => {
    app.get('/s', (_request, reply) => reply.sse([{ event: 'tock', data: 1 }, { data: 'fine' }] as never, { events }))
  })
  const response = await rawGet(port, '/s')
  await response.ended
  t.equal(response.body(), 'data: fine\n\n')
  t.match(logs.find(line => line.msg === 'fastify-typed-sse: an invalid event was not sent'), {
    err: { code: 'FST_SSE_UNKNOWN_EVENT', message: 'fastify-typed-sse: event "tock" is not in the event map (known: "message", "tick")' }
  })
})

t.test('CR, LF or NUL in an event name or id never reaches the wire', async t => {
  const { port, logs } = await startApp(t, app => {
    app.get('/s', (_request, reply) => reply.sse([
      { event: 'a\nevent: evil', data: 1 },
      { id: '1\ndata: injected', data: 2 },
      { id: 'x\0y', data: 3 },
      { retry: -5, data: 4 },
      { data: 'clean', id: 'ok' }
    ]))
  })
  const response = await rawGet(port, '/s')
  await response.ended
  t.equal(response.body(), 'data: clean\nid: ok\n\n')
  t.equal(logs.filter(line => (line.err as { code?: string } | undefined)?.code === 'FST_SSE_INVALID_FIELD').length, 4)
})

t.test('a string schema sends the string raw, split into lines; objects go as JSON', async t => {
  const { port } = await startApp(t, app => {
    app.get('/s', (_request, reply) => reply.sse([
      { data: 'Hello,\nworld' },
      { event: 'tick', data: { n: 1, tags: ['a\nb'] } }
    ], { events }))
  })
  const response = await rawGet(port, '/s')
  await response.ended
  t.equal(response.body(), 'data: Hello,\ndata: world\n\nevent: tick\ndata: {"n":1,"tags":["a\\nb"]}\n\n')
})

t.test('validate: false skips the check but still serializes by the schema', async t => {
  const { port, logs } = await startApp(t, app => {
    app.get('/s', (_request, reply) => reply.sse([
      { event: 'tick', data: { n: 1, tags: ['x'], extra: 'not in the schema' } as never }
    ], { events, validate: false }))
  })
  const response = await rawGet(port, '/s')
  await response.ended
  t.equal(response.body(), 'event: tick\ndata: {"n":1,"tags":["x"]}\n\n', 'like Fastify responses, only schema properties are sent')
  t.equal(logs.filter(line => line.level >= 50).length, 0)
})

t.test('untyped streams send strings raw and other values as JSON', async t => {
  const { port } = await startApp(t, app => {
    app.get('/s', (_request, reply) => reply.sse([{ data: 'a' }, { data: { b: [1] } }, { data: null }, { data: 0 }, { comment: 'c' }]))
  })
  const response = await rawGet(port, '/s')
  await response.ended
  t.equal(response.body(), 'data: a\n\ndata: {"b":[1]}\n\ndata: null\n\ndata: 0\n\n: c\n\n')
})

t.test('yielding something that is not an event object is refused', async t => {
  const { port, logs } = await startApp(t, app => {
    app.get('/s', (_request, reply) => reply.sse(['just a string', { data: 'ok' }] as never))
  })
  const response = await rawGet(port, '/s')
  await response.ended
  t.equal(response.body(), 'data: ok\n\n')
  t.match(logs.find(line => line.level === 50), { err: { code: 'FST_SSE_NOT_AN_EVENT', message: /must yield objects like/ } })
})

t.test('data that passes its schema but cannot be serialized is refused like an invalid event', async t => {
  const cycle: Record<string, unknown> = {}
  cycle.self = cycle
  const { port, logs } = await startApp(t, app => {
    app.get('/typed', (_request, reply) => reply.sse([{ event: 'big', data: 10n }, { data: 'after' }], {
      events: { big: Type.BigInt(), message: Type.String() }
    }))
    app.get('/untyped', (_request, reply) => reply.sse([{ data: cycle }, { data: 'after' }]))
  })
  for (const path of ['/typed', '/untyped']) {
    const response = await rawGet(port, path)
    await response.ended
    t.equal(response.body(), 'data: after\n\n', `${path}: the rest of the stream arrives`)
  }
  const codes = logs.filter(line => line.msg === 'fastify-typed-sse: an invalid event was not sent').map(line => (line.err as { code: string, message: string }))
  t.match(codes, [
    { code: 'FST_SSE_UNSERIALIZABLE', message: /event "big" could not be serialized: .*BigInt/ },
    { code: 'FST_SSE_UNSERIALIZABLE', message: /event "message" could not be serialized: .*circular/ }
  ])
})

t.test('an event name or comment that is not a string is refused', async t => {
  const { port } = await startApp(t, app => {
    app.get('/s', (_request, reply) => reply.sse([{ event: 7, data: 1 }, { comment: ['x'] }, { data: 'ok' }] as never))
  })
  const response = await rawGet(port, '/s')
  await response.ended
  t.equal(response.body(), 'data: ok\n\n')
})
