// AsyncAPI 3.0: the app's streams as event-driven channels, from the same maps that type and
// check them. A route is a channel whose address is its path; a hub topic is a channel whose
// address is its name (a pattern such as `room:{id}` is a family of topics, one parameter per
// `{name}`). Each channel has one message per event name, the hub's `reset` on topics, and one
// `send` operation: the document describes the server, which sends; clients receive.
import { invalidOption, notReady } from './errors.js'
import type { EventMap, EventSchema } from './events.js'
import { HUB_RESET_EVENT, HubResetSchema } from './hub/reset.js'
import { isObject, jsonSchemaOf, mapSubschemas, type JsonSchema } from './json-schema.js'
import type { StreamCatalog, StreamRoute, StreamTopic } from './catalog.js'
import { isStringSchema } from './validator.js'

/** The Info Object of an AsyncAPI document. */
export interface AsyncApiInfo {
  title: string
  version: string
  description?: string
  termsOfService?: string
  contact?: { name?: string, url?: string, email?: string }
  license?: { name: string, url?: string }
  tags?: Array<{ name: string, description?: string }>
  externalDocs?: { url: string, description?: string }
  [extension: `x-${string}`]: unknown
}

/** A Server Object: where clients connect. For this plugin, `protocol` is `http` or `https`. */
export interface AsyncApiServer {
  host: string
  protocol: string
  protocolVersion?: string
  pathname?: string
  title?: string
  summary?: string
  description?: string
  variables?: Record<string, { enum?: string[], default?: string, description?: string, examples?: string[] }>
  [field: string]: unknown
}

/** Options of `fastify.sse.asyncapi()`: the fields of the document that the routes cannot tell. */
export interface AsyncApiOptions {
  /** `title` and `version` are required; a `description` is recommended. */
  info: AsyncApiInfo
  /**
   * Where the app is served, by name: `{ production: { host: 'api.example.com', protocol: 'https' } }`.
   * @defaultValue none (the document then says nothing of where to connect)
   */
  servers?: Record<string, AsyncApiServer> | undefined
  /**
   * A URI that identifies the application, such as `'urn:example:chat'`.
   * @defaultValue none
   */
  id?: string | undefined
}

export interface AsyncApiReference { $ref: string }

export interface AsyncApiParameter {
  description?: string
  enum?: string[]
  default?: string
  examples?: string[]
}

export interface AsyncApiMessage {
  /** The SSE event name (`event:` line); `message` for unnamed events. Absent on an untyped stream. */
  name?: string
  title: string
  summary: string
  contentType?: string
  /** The schema of the event's `data`. */
  payload: JsonSchema
}

export interface AsyncApiChannel {
  address: string
  title: string
  description: string
  parameters?: Record<string, AsyncApiParameter>
  messages: Record<string, AsyncApiMessage | AsyncApiReference>
}

export interface AsyncApiOperation {
  action: 'send'
  channel: AsyncApiReference
  messages: AsyncApiReference[]
  title: string
  summary?: string
  description?: string
  tags?: Array<{ name: string }>
  bindings?: { http: { method?: string, query?: JsonSchema, bindingVersion: '0.3.0' } }
}

/** What `fastify.sse.asyncapi()` returns: a plain object, ready for `JSON.stringify`. */
export interface AsyncApiDocument {
  asyncapi: '3.0.0'
  id?: string
  info: AsyncApiInfo
  servers?: Record<string, AsyncApiServer>
  defaultContentType: 'application/json'
  channels: Record<string, AsyncApiChannel>
  operations: Record<string, AsyncApiOperation>
  /**
   * The topics' messages (shared by the routes that stream them), and the named parts of
   * schemas (`$id`, `$defs`): a recursive type refers to itself there.
   */
  components: { messages: Record<string, AsyncApiMessage>, schemas?: Record<string, JsonSchema> }
}

/** What the plugin adds to `fastify.sse` besides the hub. */
export interface SseDocuments {
  /**
   * An AsyncAPI 3.0 document of the app's streams: a channel per SSE route (its path, with the
   * path parameters) and per hub topic, one message per event name with its schema, the hub's
   * `reset` on topics, and a `send` operation per route and topic. Serve it from a route of your
   * own, as with `fastify.swagger()`; call it once the app is ready.
   *
   * @example
   * app.get('/asyncapi.json', { schema: { hide: true } }, () => app.sse.asyncapi({ info: { title: 'chat', version: '1.0.0' } }))
   */
  asyncapi (options: AsyncApiOptions): AsyncApiDocument
}

export function sseDocuments (catalog: StreamCatalog): SseDocuments {
  return { asyncapi: options => buildAsyncApi(catalog, options) }
}

// HTTP methods the AsyncAPI HTTP binding 0.3.0 can name.
const BINDING_METHODS = new Set(['GET', 'PUT', 'POST', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'CONNECT', 'TRACE'])

export function buildAsyncApi (catalog: StreamCatalog, options: AsyncApiOptions): AsyncApiDocument {
  const info = (options as Partial<AsyncApiOptions> | undefined)?.info
  if (typeof info !== 'object' || info === null || typeof info.title !== 'string' || typeof info.version !== 'string') {
    throw invalidOption('info (fastify.sse.asyncapi)', 'an object with a title and a version, both strings', info)
  }
  if (options.servers !== undefined && (typeof options.servers !== 'object' || options.servers === null)) {
    throw invalidOption('servers (fastify.sse.asyncapi)', 'an object of AsyncAPI servers by name', options.servers)
  }
  // Before ready, routes may still be on their way: a document missing some would look complete.
  if (!catalog.ready) throw notReady('fastify.sse.asyncapi()')

  const builder = new DocumentBuilder({
    asyncapi: '3.0.0',
    ...(options.id === undefined ? {} : { id: options.id }),
    info,
    ...(options.servers === undefined ? {} : { servers: options.servers }),
    defaultContentType: 'application/json',
    channels: {},
    operations: {},
    components: { messages: {} }
  })
  // Topics first: a route that streams a topic refers to the topic's messages.
  for (const topic of catalog.topics.values()) builder.addTopic(topic)
  for (const route of catalog.routes) if (route.schema.hide !== true) builder.addRoute(route)
  return builder.finish()
}

class DocumentBuilder {
  private readonly channelIds = new Ids()
  private readonly operationIds = new Ids()
  private readonly schemas = new NamedSchemas()
  /** Topic name → its channel's id and what it was recorded with. */
  private readonly topicChannels = new Map<string, { id: string, topic: StreamTopic }>()

  constructor (private readonly document: AsyncApiDocument) {}

  addTopic (topic: StreamTopic): void {
    const id = this.channelIds.take(`topic-${slug(topic.name)}`)
    this.topicChannels.set(topic.name, { id, topic })
    const messages: AsyncApiChannel['messages'] = {}
    for (const [key, message] of messagesOf(topic.events, true, this.schemas)) {
      this.document.components.messages[`${id}.${key}`] = message
      messages[key] = { $ref: `#/components/messages/${id}.${key}` }
    }
    const family = parametersOf(topic.name)
    this.document.channels[id] = {
      address: topic.name,
      title: `Hub topic ${topic.name}`,
      description: (family.length === 0
        ? `The hub topic \`${topic.name}\`: the events \`fastify.sse.topic(${JSON.stringify(topic.name)}).publish()\` stores`
        : `A family of hub topics, one per name of the form \`${topic.name}\` (each \`{parameter}\` given at run time): the events their \`publish()\` stores`) +
        ', streamed to each subscriber with ids, replayed after `Last-Event-ID`, or a `reset` when that is no longer kept.',
      ...parameters(family, name => ({ description: `Part of the topic's name (\`{${name}}\`).` })),
      messages
    }
    this.document.operations[this.operationIds.take(`publish-${slug(topic.name)}`)] = operation(id, messages, {
      title: `Publish to ${topic.name}`,
      summary: `The app publishes to the hub topic ${topic.name}; subscribers receive each event.`
    })
  }

  addRoute (route: StreamRoute): void {
    const { address, names } = pathTemplate(route.url)
    const operationId = typeof route.schema.operationId === 'string' ? route.schema.operationId : undefined
    const id = this.channelIds.take(slug(operationId ?? route.url))
    const linked = route.topic === undefined ? undefined : this.topicChannels.get(route.topic)
    // The topic's own messages when the route streams them as recorded: one definition, shared.
    const messages: AsyncApiChannel['messages'] = linked !== undefined && linked.topic.events === route.events
      ? { ...this.document.channels[linked.id]?.messages }
      : Object.fromEntries(messagesOf(route.events, route.topic !== undefined, this.schemas))
    const paramsSchema = plainObject(route.schema.params)
    const where = `${route.methods.join(', ')} ${address}`
    this.document.channels[id] = {
      address,
      title: where,
      description: `Server-Sent Events (\`text/event-stream\`) at \`${where}\`.` +
        (route.topic === undefined
          ? ''
          : ` It streams the hub topic \`${route.topic}\`: a client that reconnects with \`Last-Event-ID\` (or \`?lastEventId=\`) ` +
            'first gets what it missed, or a `reset` event when that is no longer kept.'),
      ...parameters(names, name => parameterOf(name, paramsSchema)),
      messages
    }
    for (const method of route.methods) {
      const base = operationId ?? `${method.toLowerCase()}-${slug(route.url)}`
      const operationKey = this.operationIds.take(route.methods.length > 1 && operationId !== undefined ? `${base}-${method.toLowerCase()}` : base)
      this.document.operations[operationKey] = operation(id, messages, {
        title: `${method} ${address}`,
        ...text(route.schema, 'summary'),
        ...text(route.schema, 'description'),
        ...tags(route.schema.tags),
        bindings: { http: { ...(BINDING_METHODS.has(method) ? { method } : {}), ...query(route.schema.querystring, this.schemas), bindingVersion: '0.3.0' } }
      })
    }
  }

  finish (): AsyncApiDocument {
    if (this.schemas.size > 0) this.document.components.schemas = this.schemas.all()
    return this.document
  }
}

function operation (channel: string, messages: AsyncApiChannel['messages'], fields: Omit<AsyncApiOperation, 'action' | 'channel' | 'messages'>): AsyncApiOperation {
  return {
    action: 'send',
    channel: { $ref: `#/channels/${channel}` },
    messages: Object.keys(messages).map(key => ({ $ref: `#/channels/${channel}/messages/${key}` })),
    ...fields
  }
}

// One message per event name (keyed by a name safe in a JSON pointer), and the hub's `reset` on topics.
function messagesOf (events: EventMap | undefined, hub: boolean, schemas: NamedSchemas): Array<[string, AsyncApiMessage]> {
  const keys = new Ids()
  const messages: Array<[string, AsyncApiMessage]> = []
  if (events === undefined) {
    messages.push([keys.take('event'), {
      title: 'Any event',
      summary: 'An event of any name (untyped stream); its data is JSON, or the raw text of a string.',
      payload: {}
    }])
  } else {
    for (const [name, schema] of Object.entries(events)) {
      if (hub && name === HUB_RESET_EVENT) continue
      messages.push([keys.take(slug(name)), eventMessage(name, schema, schemas)])
    }
  }
  if (hub) {
    messages.push([keys.take(HUB_RESET_EVENT), eventMessage(HUB_RESET_EVENT, HubResetSchema, schemas,
      'The hub\'s own event, sent instead of a silent gap: the `Last-Event-ID` the client came back with can no ' +
      'longer be resumed (`expired`: older than the topic keeps; `unknown`: never stored here). Refetch the state, ' +
      'then carry on with the live events.')])
  }
  return messages
}

function eventMessage (name: string, schema: EventSchema, schemas: NamedSchemas, summary?: string): AsyncApiMessage {
  const raw = isStringSchema(schema)
  return {
    name,
    title: name,
    summary: summary ?? (name === 'message'
      ? 'An unnamed event: no `event:` line, read with `EventSource.onmessage`.'
      : `Sent as \`event: ${name}\`, read with \`addEventListener('${name}', …)\`.`) +
      (raw ? ' Its data is the raw text.' : ' Its data is JSON.'),
    contentType: raw ? 'text/plain' : 'application/json',
    payload: schemas.embed(schema)
  }
}

// Fastify's path syntax to an address with `{parameters}`: `:id` (up to `/`, `-`, `.` or a
// regular expression in parentheses, which is dropped), `::` for a literal colon, and `*`.
function pathTemplate (url: string): { address: string, names: string[] } {
  let address = ''
  const names: string[] = []
  for (let i = 0; i < url.length; i++) {
    const char = url[i] as string
    if (char === ':' && url[i + 1] === ':') {
      address += ':'
      i++
    } else if (char === ':') {
      let end = i + 1
      while (end < url.length && !'/-.('.includes(url[end] as string)) end++
      const name = url.slice(i + 1, end)
      if (url[end] === '(') end = closingParenthesis(url, end) + 1
      names.push(name)
      address += `{${name}}`
      i = end - 1
    } else if (char === '*') {
      // Fastify's wildcard parameter is named `*`, which cannot name a channel parameter.
      names.push('wildcard')
      address += '{wildcard}'
    } else {
      address += char
    }
  }
  return { address, names }
}

function closingParenthesis (url: string, open: number): number {
  let depth = 0
  for (let i = open; i < url.length; i++) {
    if (url[i] === '\\') i++
    else if (url[i] === '(') depth++
    else if (url[i] === ')' && --depth === 0) return i
  }
  return url.length - 1
}

// The `{name}` parts of a topic pattern.
function parametersOf (name: string): string[] {
  return [...name.matchAll(/\{([^{}]+)\}/g)].map(match => match[1] as string)
}

function parameters (names: string[], describe: (name: string) => AsyncApiParameter): { parameters?: Record<string, AsyncApiParameter> } {
  if (names.length === 0) return {}
  return { parameters: Object.fromEntries(names.map(name => [name, describe(name)])) }
}

// A path parameter as the route's `params` schema describes it. Channel parameters are strings:
// an enum, a default and examples are written as text.
function parameterOf (name: string, params: JsonSchema | undefined): AsyncApiParameter {
  const schema = plainObject(plainObject(params?.properties)?.[name === 'wildcard' ? '*' : name])
  const parameter: AsyncApiParameter = {
    description: typeof schema?.description === 'string'
      ? schema.description
      : name === 'wildcard' ? 'The rest of the path (Fastify\'s `*`).' : `The path parameter \`${name}\`.`
  }
  const values = enumOf(schema)
  if (values !== undefined) parameter.enum = values
  if (schema?.default !== undefined) parameter.default = String(schema.default)
  if (Array.isArray(schema?.examples)) parameter.examples = schema.examples.map(String)
  return parameter
}

// `enum`, or a union of literals (`Type.Union([Type.Literal('a'), …])` is an `anyOf` of `const`s).
function enumOf (schema: JsonSchema | undefined): string[] | undefined {
  if (schema === undefined) return undefined
  if (Array.isArray(schema.enum)) return schema.enum.map(String)
  const members = schema.anyOf ?? schema.oneOf
  if (!Array.isArray(members) || members.length === 0) return undefined
  const values = members.map(member => plainObject(member)?.const)
  return values.every(value => value !== undefined) ? values.map(String) : undefined
}

function query (querystring: unknown, schemas: NamedSchemas): { query?: JsonSchema } {
  const schema = plainObject(querystring)
  // The binding requires an object schema with `properties`.
  return schema?.type === 'object' && isObject(schema.properties) ? { query: schemas.embed(querystring) } : {}
}

function text (schema: JsonSchema, field: 'summary' | 'description'): Record<string, string> {
  const value = schema[field]
  return typeof value === 'string' && value !== '' ? { [field]: value } : {}
}

function tags (value: unknown): { tags?: Array<{ name: string }> } {
  if (!Array.isArray(value)) return {}
  const names = [...new Set(value.filter((name): name is string => typeof name === 'string'))]
  return names.length === 0 ? {} : { tags: names.map(name => ({ name })) }
}

// A schema embedded in the document can keep neither a `$ref` relative to its own `$id` (the
// parser reads `Node` as a file) nor a pointer from its own root (`#/$defs/Node` would point into
// the document): its named parts move to `components.schemas`, and the references follow them.
class NamedSchemas {
  private readonly keys = new Ids()
  private readonly schemas: Record<string, JsonSchema> = {}

  get size (): number {
    return Object.keys(this.schemas).length
  }

  all (): Record<string, JsonSchema> {
    return this.schemas
  }

  embed (schema: unknown): JsonSchema {
    const root = jsonSchemaOf(schema)
    // Where each reference goes, decided before moving anything: a `$ref` may come before its `$id`.
    const targets = new Map<string, string>()
    const name = (key: string) => `#/components/schemas/${this.keys.take(slug(key))}`
    for (const keyword of ['$defs', 'definitions']) {
      for (const key of Object.keys(isObject(root[keyword]) ? root[keyword] : {})) targets.set(`#/${keyword}/${key}`, name(key))
    }
    const collect = (node: JsonSchema): JsonSchema => {
      if (typeof node.$id === 'string' && !targets.has(node.$id)) targets.set(node.$id, name(node.$id))
      return mapSubschemas(node, collect)
    }
    collect(root)
    if (targets.size === 0) return root
    const move = (node: JsonSchema, isRoot: boolean): JsonSchema => {
      const moved = mapSubschemas(node, sub => move(sub, false))
      const target = typeof moved.$ref === 'string' ? targets.get(moved.$ref) : undefined
      if (target !== undefined) moved.$ref = target
      if (isRoot) {
        for (const keyword of ['$defs', 'definitions']) {
          const definitions = moved[keyword]
          if (!isObject(definitions)) continue
          for (const [key, definition] of Object.entries(definitions)) this.define(targets.get(`#/${keyword}/${key}`), definition)
          delete moved[keyword]
        }
      }
      if (typeof moved.$id !== 'string') return moved
      const { $id, ...rest } = moved
      const ref = targets.get($id) as string
      this.define(ref, rest)
      return { $ref: ref }
    }
    return move(root, true)
  }

  private define (ref: string | undefined, schema: unknown): void {
    if (ref !== undefined && isObject(schema)) this.schemas[ref.slice('#/components/schemas/'.length)] = schema
  }
}

// A name usable as a key of the document's maps and inside a `$ref` (components keys must match
// `^[a-zA-Z0-9.\-_]+$`): `/jobs/:id/events` → `jobs-id-events`, `chat:lobby` → `chat-lobby`.
function slug (name: string): string {
  const safe = name.replace(/[^A-Za-z0-9_.]+/g, '-').replace(/^-+|-+$/g, '')
  return safe === '' ? 'root' : safe
}

// Keys that stay unique: a second `jobs` becomes `jobs-2`.
class Ids {
  private readonly taken = new Set<string>()
  take (base: string): string {
    let id = base
    for (let n = 2; this.taken.has(id); n++) id = `${base}-${n}`
    this.taken.add(id)
    return id
  }
}

function plainObject (value: unknown): JsonSchema | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? jsonSchemaOf(value) : undefined
}
