#!/usr/bin/env bash
# Starts (or confirms) the local PostgreSQL 15 and Kafka 4 the tests and the
# demo use, then prints their connection settings as KEY=value lines on stdout
# (progress goes to stderr, so `eval "$(bash dev/up.sh)"` works).
# Idempotent: running servers are reused. Stop them with dev/down.sh.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
reserve_dev_ports

bash "$OUTBOXX_ROOT/dev/pg.sh" up
bash "$OUTBOXX_ROOT/dev/kafka.sh" up
