#!/usr/bin/env bash
# Stops the local PostgreSQL and Kafka that dev/up.sh started, the
# PostgreSQL 16-18 clusters of the version matrix (dev/test.sh), and the
# Jaeger and schema registry the tests that need them started (only those).
# Their data stays in .dev/; delete that folder for a clean slate.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

status=0
bash "$OUTBOXX_ROOT/dev/jaeger.sh" down || status=1
bash "$OUTBOXX_ROOT/dev/registry.sh" down || status=1
bash "$OUTBOXX_ROOT/dev/kafka.sh" down || status=1
# Each version's own cluster and port (the 15 one's port may be overridden; theirs are their defaults).
for version in 16 17 18; do
  if [[ -f "$DEV_DIR/pg$version/data/PG_VERSION" ]]; then
    env -u OUTBOXX_DEV_PG_PORT OUTBOXX_DEV_PG_VERSION="$version" bash "$OUTBOXX_ROOT/dev/pg.sh" down || status=1
  fi
done
# The primary/standby pair of the failover tests (dev/pg-ha.sh), when one is left.
for version in 16 17 18; do
  if [[ -f "$DEV_DIR/pg$version-ha/primary/data/PG_VERSION" ]]; then
    env -u OUTBOXX_DEV_PG_PORT OUTBOXX_DEV_PG_VERSION="$version" bash "$OUTBOXX_ROOT/dev/pg-ha.sh" down || status=1
  fi
done
bash "$OUTBOXX_ROOT/dev/pg.sh" down || status=1
exit "$status"
