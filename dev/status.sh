#!/usr/bin/env bash
# Reports whether the local PostgreSQL and Kafka are running.
# Exit 0 when both are, 1 otherwise.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

status=0
bash "$OUTBOXX_ROOT/dev/pg.sh" status || status=1
# The version matrix's clusters, when they were made (dev/test.sh); not counted in the exit status.
for version in 16 17 18; do
  if [[ -f "$DEV_DIR/pg$version/data/PG_VERSION" ]]; then
    env -u OUTBOXX_DEV_PG_PORT OUTBOXX_DEV_PG_VERSION="$version" bash "$OUTBOXX_ROOT/dev/pg.sh" status || true
  fi
done
bash "$OUTBOXX_ROOT/dev/kafka.sh" status || status=1
exit "$status"
