// The client in headless Chromium, the watchdog: a connection silent without a FIN, heartbeats, a server that never answers: the scenarios of
// test/helpers/client-scenarios.ts that test/client-watchdog.test.ts runs in Node.
import t from 'tap'
import { watchdog } from '../helpers/client-scenarios.js'
import { runInChromium } from '../helpers/chromium-scenarios.js'

t.test('in Chromium', t => runInChromium(t, watchdog))
