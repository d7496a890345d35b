// The client in headless Chromium, reconnection: backoff with jitter, Retry-After, a 500/200 loop, a restarting server: the scenarios of
// test/helpers/client-scenarios.ts that test/client-backoff.test.ts runs in Node.
import t from 'tap'
import { backoff } from '../helpers/client-scenarios.js'
import { runInChromium } from '../helpers/chromium-scenarios.js'

t.test('in Chromium', t => runInChromium(t, backoff))
