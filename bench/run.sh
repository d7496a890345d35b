#!/usr/bin/env bash
# `npm run bench`: compiles the plugin from ../src into bench/node_modules/fastify-typed-sse, so
# the servers import it by its name like user code (and never read dist/, which `npm test`
# rebuilds under their feet), raises the open-file limit to the most allowed (the scale scenarios
# hold up to 19 000 sockets in one process), installs the peers when bench/package.json lists one
# not installed yet, then runs the suite. BENCH_QUICK=1 for a smoke run.
set -euo pipefail
cd "$(dirname "$0")"

for peer in @fastify/sse better-sse fastify-sse-v2 hono @hono/node-server ioredis; do
  if [ ! -d "node_modules/$peer" ]; then
    npm install --no-audit --no-fund
    break
  fi
done

plugin=node_modules/fastify-typed-sse
rm -rf "$plugin"
# Type errors do not stop the emit; the bench measures what compiles (the type-check is `npm run typecheck`).
../node_modules/.bin/tsc -p ../tsconfig.build.json --outDir "$plugin" --declaration false --sourceMap false >/dev/null ||
  echo "note: tsc reported type errors in src; benchmarking the emitted JavaScript anyway" >&2
test -f "$plugin/index.js"
echo '{ "name": "fastify-typed-sse", "type": "module", "exports": "./index.js" }' > "$plugin/package.json"

# 19 000 streams in one server process need 19 000 descriptors; 50 000 are split over 4 server
# processes and 4 clients of 12 500. Where the hard limit is lower, those scenarios fail (and
# say so in RESULTS.md); the others need 5 000.
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ] || [ "$hard" -ge 20000 ]; then
  ulimit -n 20000
else
  ulimit -n "$hard"
  echo "warning: the open-file limit is $hard; the scale scenarios (19 000 streams in one process) will fail" >&2
fi

exec node run.mjs
