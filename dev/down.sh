#!/usr/bin/env bash
# Stops the local PostgreSQL and Kafka that dev/up.sh started, and the Jaeger
# and schema registry the tests that need them started (only those).
# Their data stays in .dev/; delete that folder for a clean slate.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

status=0
bash "$OUTBOXX_ROOT/dev/jaeger.sh" down || status=1
bash "$OUTBOXX_ROOT/dev/registry.sh" down || status=1
bash "$OUTBOXX_ROOT/dev/kafka.sh" down || status=1
bash "$OUTBOXX_ROOT/dev/pg.sh" down || status=1
exit "$status"
