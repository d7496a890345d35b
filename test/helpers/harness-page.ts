// The browser harness page's script: it only hands `runClient` to the test (see harness.ts).
import { runClient } from './client-run.js'

Object.assign(globalThis, { runClient })
