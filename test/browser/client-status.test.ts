// The client in headless Chromium, the status a page renders: the scenarios of
// test/helpers/client-scenarios.ts that test/client-status.test.ts runs in Node.
import t from 'tap'
import { status } from '../helpers/client-scenarios.js'
import { runInChromium } from '../helpers/chromium-scenarios.js'

t.test('in Chromium', t => runInChromium(t, status))
