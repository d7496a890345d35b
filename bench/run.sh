#!/usr/bin/env bash
# `npm run bench`: compiles the plugin from ../src into bench/node_modules/fastify-typed-sse, so
# the servers import it by its name like user code (and never read dist/, which `npm test`
# rebuilds under their feet), raises the open-file limit for 5 000 sockets on each side,
# installs the peers on first use, then runs the suite. BENCH_QUICK=1 for a smoke run.
set -euo pipefail
cd "$(dirname "$0")"

if [ ! -d node_modules/better-sse ]; then
  npm install --no-audit --no-fund
fi

plugin=node_modules/fastify-typed-sse
rm -rf "$plugin"
# Type errors do not stop the emit; the bench measures what compiles (the type-check is `npm run typecheck`).
../node_modules/.bin/tsc -p ../tsconfig.build.json --outDir "$plugin" --declaration false --sourceMap false >/dev/null ||
  echo "note: tsc reported type errors in src; benchmarking the emitted JavaScript anyway" >&2
test -f "$plugin/index.js"
echo '{ "name": "fastify-typed-sse", "type": "module", "exports": "./index.js" }' > "$plugin/package.json"

# 5 000 subscribers need 5 000 descriptors in the server and as many in the client.
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ] || [ "$hard" -ge 12000 ]; then
  ulimit -n 12000
else
  ulimit -n "$hard"
  echo "warning: the open-file limit is $hard; the 5 000-connection scenarios may fail" >&2
fi

exec node run.mjs
