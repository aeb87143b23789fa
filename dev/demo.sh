#!/usr/bin/env bash
# README command one: from a fresh machine, install everything, start the
# local PostgreSQL and Kafka, create a demo database, run `outboxx check`,
# then stream: start `outboxx run`, write some rows, read them back from Kafka
# and print them, and stop outboxx with SIGTERM.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$OUTBOXX_ROOT"

bash dev/bootstrap.sh
export PATH="$OUTBOXX_ROOT/node_modules/.bin:$PATH"
eval "$(bash dev/up.sh)"
export OUTBOXX_DEV_PG_PORT="$PG_PORT" OUTBOXX_DEV_KAFKA_PORT="$KAFKA_PORT"

say "building (npm run build)"
npm run --silent build

say "creating the demo database outboxx_demo (role outboxx with REPLICATION)"
psql_demo() { psql -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres "$@"; }
psql_demo -f dev/demo/setup.sql

config=dev/demo/outboxx.demo.toml
echo
say "outboxx check -c $config"
node dist/main.js check -c "$config"

echo
say "outboxx run -c $config (in the background)"
log="$DEV_DIR/demo-run.log"
node dist/main.js run -c "$config" >"$log" 2>&1 &
run_pid=$!
trap 'kill -TERM "$run_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  grep -q "streaming slot" "$log" && break
  kill -0 "$run_pid" 2>/dev/null || { cat "$log"; die "outboxx run exited early"; }
  sleep 0.1
done
grep -q "streaming slot" "$log" || { cat "$log"; die "outboxx run did not start streaming within 30 s"; }

say "writing: an order with two items in one transaction, an update, a delete"
since_ms="$(date +%s%3N)"
psql_demo -f dev/demo/changes.sql

# orders: c, u ; order_items: c, c, d, tombstone
say "reading the records back from Kafka"
node dev/demo/consume.mjs "127.0.0.1:$KAFKA_PORT" "$since_ms" 6 demo.public.orders demo.public.order_items

echo
say "metrics excerpt (http://127.0.0.1:9464/metrics):"
node -e 'fetch("http://127.0.0.1:9464/metrics").then(r => r.text()).then(t => console.log(t.split("\n").filter(l => /^outboxx_(events_total|transactions_total|confirmed_lsn|kafka_messages_total)/.test(l)).join("\n")))' || true

say "stopping outboxx (SIGTERM)"
kill -TERM "$run_pid"
status=0
wait "$run_pid" || status=$?
trap - EXIT
tail -n 3 "$log"
say "outboxx exited with code $status"

# An idle slot keeps WAL on the server forever: the demo removes its own.
say "outboxx slot drop --yes -c $config"
node dist/main.js slot drop --yes -c "$config"
say "servers keep running (bash dev/down.sh stops them)"
exit "$status"
