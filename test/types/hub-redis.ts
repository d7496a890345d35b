// Compiled by `npm run typecheck`, never run: what `hub.redis` accepts. Every `@ts-expect-error`
// line must fail to compile.
import { Cluster, Redis } from 'ioredis'
import type { HubOptions } from '../../src/index.js'

export const url: HubOptions = { redis: 'rediss://127.0.0.1:6380' }
export const client: HubOptions = { redis: new Redis({ lazyConnect: true, tls: {} }) }
export const sentinel: HubOptions = { redis: new Redis({ sentinels: [{ host: '127.0.0.1', port: 26379 }], name: 'mymaster', lazyConnect: true }) }
export const cluster: HubOptions = { redis: new Cluster([{ host: '127.0.0.1', port: 7000 }], { lazyConnect: true }) }
// @ts-expect-error connection options are given through a client, not as an object
export const options: HubOptions = { redis: { host: '127.0.0.1', port: 6379 } }
// @ts-expect-error not a client
export const other: HubOptions = { redis: new Map() }
