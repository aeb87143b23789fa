#!/usr/bin/env bash
# `npm run bench`: starts the local servers (dev/), fetches Debezium's jars,
# builds outboxx, then runs bench/main.ts on the project's Node 24.
# Everything missing is installed first (dev/bootstrap.sh, dev/up.sh).
# Options go after `--`: npm run bench -- --changes 50000 --runs 1
# (bash bench/run.sh --help lists them). Results: bench/results/latest.*
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/node_modules/.bin:$PATH"

if [[ " $* " != *" --help "* ]]; then
  # A fresh clone: dependencies (and the project's Node 24) first, as `npm test` does.
  bash dev/bootstrap.sh
  bash dev/up.sh >/dev/null
  bash dev/debezium.sh fetch >/dev/null
  if [[ " $* " != *" --no-build "* ]]; then
    # The same build users run: tsc, then the esbuild bundle (dist/main.js).
    echo "[bench] building outboxx (npm run build)" >&2
    npm run build --silent >&2
  fi
fi
args=()
for arg in "$@"; do [[ "$arg" == "--no-build" ]] || args+=("$arg"); done
# kafkajs sets negative timeouts on Node 24 (harmless; TimeoutNegativeWarning).
exec node --disable-warning=ExperimentalWarning --disable-warning=TimeoutNegativeWarning --import ./bench/register.mjs bench/main.ts "${args[@]}"
