#!/usr/bin/env bash
# A PostgreSQL primary and a physical standby from the same binaries, for the
# database-failover test (test/e2e/pg-failover.test.ts) and to try it by hand:
#
#   OUTBOXX_DEV_PG_VERSION=17 bash dev/pg-ha.sh up         fresh pair, prints the ports
#   bash dev/pg-ha.sh kill-primary | promote | down
#
# The version (16, 17 or 18; default 17) comes from dev/pg.sh's npm binaries,
# which have no pg_basebackup: the standby is a cold copy of the primary's
# data directory (stopped cleanly, so the copy is consistent and has the
# same system id), with standby.signal and primary_conninfo. On 17+ it syncs
# failover slots (sync_replication_slots, hot_standby_feedback, a physical
# slot), and the primary holds logical walsenders back until the standby has
# the WAL (synchronized_standby_slots), so nothing a consumer saw can vanish
# in a promotion. Ports: OUTBOXX_DEV_HA_PORT (primary, default 55437) and +1.
# Every `up` starts from scratch; `down` stops both.
export OUTBOXX_DEV_PG_VERSION="${OUTBOXX_DEV_PG_VERSION:-17}"
source "$(dirname "${BASH_SOURCE[0]}")/pg.sh"

HA_DIR="$DEV_DIR/pg$PG_VERSION-ha"
PRIMARY_PORT="${OUTBOXX_DEV_HA_PORT:-55437}"
STANDBY_PORT=$((PRIMARY_PORT + 1))
PRIMARY_DATA="$HA_DIR/primary/data"
STANDBY_DATA="$HA_DIR/standby/data"

ha_ctl() { # data dir, then pg_ctl arguments
  local data="$1"
  shift
  as_postgres "$PG_BIN/pg_ctl" -D "$data" "$@"
}

ha_start_once() { # data dir
  ha_ctl "$1" -l "$(dirname "$1")/postgres.log" -w -t 60 start >"$(dirname "$1")/pg_ctl.log" 2>&1 9>&-
}

ha_start() { # data dir, port
  start_retrying_busy_port "$(dirname "$1")/postgres.log" "PostgreSQL in $1" ha_start_once "$1"
  wait_until 60 "PostgreSQL on $2" "$PG_CLIENT_BIN/pg_isready" -q -h 127.0.0.1 -p "$2" -U postgres -d postgres
}

ha_psql() { # port, SQL
  as_postgres "$PG_CLIENT_BIN/psql" -h 127.0.0.1 -p "$1" -U postgres -d postgres -Atqc "$2"
}

ha_down() {
  for data in "$STANDBY_DATA" "$PRIMARY_DATA"; do
    [[ -f "$data/PG_VERSION" ]] && ha_ctl "$data" status >/dev/null 2>&1 && ha_ctl "$data" -m immediate -w -t 60 stop >&2
  done
  return 0
}

ha_up() {
  ensure_installed
  ha_down
  rm -rf "$HA_DIR"
  for port in "$PRIMARY_PORT" "$STANDBY_PORT"; do
    port_open "$port" && die "port $port is taken by a server this script did not start; set OUTBOXX_DEV_HA_PORT"
  done
  # The primary: dev/pg.sh's cluster settings, plus what a failover needs.
  PG_DIR="$HA_DIR/primary" PG_DATA="$PRIMARY_DATA" PG_SOCKETS="$HA_DIR/primary/run" PG_PORT="$PRIMARY_PORT" init_cluster
  echo "include_if_exists = 'outboxx-ha.conf'" | as_postgres tee -a "$PRIMARY_DATA/postgresql.conf" >/dev/null
  local sync=""
  [[ "$PG_VERSION" -ge 17 ]] && sync="synchronized_standby_slots = 'outboxx_standby'"
  as_postgres tee "$PRIMARY_DATA/outboxx-ha.conf" >/dev/null <<EOF
hot_standby_feedback = on
wal_keep_size = '256MB'
$sync
EOF
  say "starting the primary (PostgreSQL $PG_VERSION) on 127.0.0.1:$PRIMARY_PORT"
  ha_start "$PRIMARY_DATA" "$PRIMARY_PORT"
  ha_psql "$PRIMARY_PORT" "SELECT pg_create_physical_replication_slot('outboxx_standby')" >/dev/null
  # The base backup: a clean stop, then a copy of the data directory.
  ha_ctl "$PRIMARY_DATA" -m fast -w -t 60 stop >&2
  mkdir -p "$HA_DIR/standby/run"
  cp -a "$PRIMARY_DATA" "$STANDBY_DATA"
  chown -R postgres:postgres "$HA_DIR/standby"
  rm -f "$STANDBY_DATA/postmaster.pid"
  local slotsync=""
  [[ "$PG_VERSION" -ge 17 ]] && slotsync="sync_replication_slots = on"
  # The copy keeps the primary's outboxx-dev.conf; this file, included after it, wins.
  as_postgres tee "$STANDBY_DATA/outboxx-ha.conf" >/dev/null <<EOF
port = $STANDBY_PORT
unix_socket_directories = '$HA_DIR/standby/run'
hot_standby = on
hot_standby_feedback = on
primary_conninfo = 'host=127.0.0.1 port=$PRIMARY_PORT user=postgres dbname=postgres application_name=outboxx_standby'
primary_slot_name = 'outboxx_standby'
$slotsync
EOF
  as_postgres touch "$STANDBY_DATA/standby.signal"
  ha_start "$PRIMARY_DATA" "$PRIMARY_PORT"
  say "starting the standby on 127.0.0.1:$STANDBY_PORT"
  ha_start "$STANDBY_DATA" "$STANDBY_PORT"
  wait_until 60 "the standby streaming from the primary" \
    test "$(ha_psql "$PRIMARY_PORT" "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'outboxx_standby' AND state = 'streaming'")" = 1
  echo "OUTBOXX_HA_PRIMARY_PORT=$PRIMARY_PORT"
  echo "OUTBOXX_HA_STANDBY_PORT=$STANDBY_PORT"
  echo "OUTBOXX_HA_VERSION=$PG_VERSION"
}

ha_kill_primary() {
  local pid
  pid="$(head -1 "$PRIMARY_DATA/postmaster.pid" 2>/dev/null)" || die "the primary is not running"
  say "kill -9 of the primary's postmaster (pid $pid) and its backends"
  kill -9 "$pid"
  # The backends exit once they notice the postmaster is gone; make it now, as a host loss would.
  pkill -9 -f -- "-D $PRIMARY_DATA" 2>/dev/null || true
  pkill -9 -P "$pid" 2>/dev/null || true
  wait_until 30 "the primary's port to close" bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$PRIMARY_PORT) 2>/dev/null"
}

ha_promote() {
  ha_ctl "$STANDBY_DATA" -w -t 60 promote >&2
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  dev_lock "pg$PG_VERSION-ha"
  case "${1:-}" in
    up) ha_up ;;
    down) ha_down ;;
    kill-primary) ha_kill_primary ;;
    promote) ha_promote ;;
    *) echo "usage: $0 up|down|kill-primary|promote" >&2; exit 2 ;;
  esac
fi
