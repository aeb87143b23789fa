#!/usr/bin/env bash
# Reports whether the local PostgreSQL and Kafka are running.
# Exit 0 when both are, 1 otherwise.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

status=0
bash "$OUTBOXX_ROOT/dev/pg.sh" status || status=1
bash "$OUTBOXX_ROOT/dev/kafka.sh" status || status=1
exit "$status"
