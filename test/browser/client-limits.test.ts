// The client in headless Chromium, bounded against a hostile server: an endless line or event, a huge or zero retry:, an id a header cannot carry: the scenarios of
// test/helpers/client-scenarios.ts that test/client-limits.test.ts runs in Node.
import t from 'tap'
import { limits } from '../helpers/client-scenarios.js'
import { runInChromium } from '../helpers/chromium-scenarios.js'

t.test('in Chromium', t => runInChromium(t, limits))
