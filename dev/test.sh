#!/usr/bin/env bash
# The whole test suite, from a fresh machine: dependencies, local servers,
# build, then every vitest project (unit + integration/e2e). Exits with
# vitest's status. The servers are left running afterwards so reruns are
# fast; stop them with `bash dev/down.sh`.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
reserve_dev_ports
cd "$OUTBOXX_ROOT"

bash dev/bootstrap.sh
export PATH="$OUTBOXX_ROOT/node_modules/.bin:$PATH"

# Bring the servers up here (not only in vitest's global setup) so their
# output is visible and a failure stops us before the build.
settings="$(bash dev/up.sh)"
while IFS= read -r line; do
  [[ "$line" == *=* ]] && export "${line?}"
done <<<"$settings"
echo "$settings"

# promtool (and prometheus) from Debian's package: the alert-rule checks and
# the e2e scrape test. Jaeger is started by the one test that needs it
# (dev/jaeger.sh); a full run builds it here first (once a machine, about 6
# minutes on 2 cores) because inside the run the Go build would load both
# cores while timing-bound e2e tests (a standby's takeover within 10 s, kill -9
# under load) run beside it. A run of chosen tests leaves it to that test.
if [[ $# -eq 0 ]]; then
  bash dev/jaeger.sh build || say "building Jaeger failed; the observability e2e test will try again and say why"
fi
while IFS= read -r line; do
  [[ "$line" == *=* ]] && export "${line?}"
done <<<"$(bash dev/prometheus.sh install)"

# Kafka Connect's jars, for the test where Debezium's own JDBC sink reads our
# debezium-format topic (that test says why it skipped if they can't be had).
bash dev/debezium.sh fetch >/dev/null || say "could not fetch the Kafka Connect jars; the debezium-format e2e test will skip"

say "building (npm run build)"
npm run --silent build

# The global setup would run dev/up.sh again; it just did.
export OUTBOXX_TEST_SKIP_UP=1
status=0
# Each phase also writes a JSON report; the summary at the end lists what
# failed in every phase, so the log's tail says which test broke.
results="$DEV_DIR/test-results"
rm -rf "$results"
mkdir -p "$results"
phases=(main)
# run_phase <phase> <vitest arguments...>
run_phase() {
  local phase="$1"
  shift
  local code=0
  vitest run --reporter=default --reporter=json "--outputFile.json=$results/$phase.json" "$@" || code=$?
  echo "$code" >"$results/$phase.exit"
  return "$code"
}
run_phase main "$@" || status=$?

# The version matrix: PostgreSQL 16, 17 and 18 (the npm package's server
# binaries, dev/pg.sh), each its own cluster on its own port beside the 15
# one, run the streaming, snapshot, value-oracle, generated-column and
# failover-slot suites (about 100 s a version). Skipped when arguments select particular tests, or with
# OUTBOXX_TEST_SKIP_MATRIX=1.
if [[ $# -eq 0 && "${OUTBOXX_TEST_SKIP_MATRIX:-0}" != "1" ]]; then
  for version in 16 17 18; do
    say "PostgreSQL $version: streaming, snapshot and value-oracle suites"
    phases+=("pg$version")
    version_settings="$(env -u OUTBOXX_DEV_PG_PORT OUTBOXX_DEV_PG_VERSION="$version" bash dev/pg.sh up)" || { status=1; continue; }
    (
      while IFS= read -r line; do
        [[ "$line" == *=* ]] && export "${line?}"
      done <<<"$version_settings"
      run_phase "pg$version" --project integration test/integration/server-version.test.ts test/e2e/streaming.test.ts \
        test/e2e/snapshot.test.ts test/integration/values-oracle.test.ts test/e2e/generated-columns.test.ts \
        test/e2e/failover-slot.test.ts
    ) || status=1
  done
fi

# The fault suite (docs/reliability.md): its own PostgreSQL and Kafka on other
# ports, restarted, stopped and frozen under load; about 7 minutes. Skipped when
# arguments select particular tests, or with OUTBOXX_TEST_SKIP_FAULTS=1.
if [[ $# -eq 0 && "${OUTBOXX_TEST_SKIP_FAULTS:-0}" != "1" ]]; then
  say "fault suite (vitest --config test/faults/vitest.config.ts)"
  phases+=(faults)
  run_phase faults --config test/faults/vitest.config.ts || status=$?
fi

node dev/test-summary.mjs "$results" "${phases[@]}"

say "PostgreSQL and Kafka are still running (reused by the next run); stop them with: bash dev/down.sh"
exit "$status"
