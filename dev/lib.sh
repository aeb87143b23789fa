# Shared helpers for the dev/ scripts. Source it; do not run it.
#
# Everything the local servers need lives in `.dev/` at the repository root
# (gitignored): PostgreSQL's cluster, Kafka's jars and data, logs, pid files.
# Deleting `.dev/` (after `dev/down.sh`) resets the machine to a clean slate.

set -euo pipefail

# runuser, useradd and friends live in the sbin directories, which a minimal
# PATH (cron, `env -i`, some CI runners) leaves out.
for sbin in /usr/local/sbin /usr/sbin /sbin; do
  case ":$PATH:" in *":$sbin:"*) ;; *) PATH="$PATH:$sbin" ;; esac
done
export PATH

OUTBOXX_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEV_DIR="$OUTBOXX_ROOT/.dev"

PG_PORT="${OUTBOXX_DEV_PG_PORT:-54329}"
KAFKA_PORT="${OUTBOXX_DEV_KAFKA_PORT:-59092}"
KAFKA_CONTROLLER_PORT="$((KAFKA_PORT + 1))"

# Progress goes to stderr so that stdout carries only the KEY=value settings
# (`eval "$(bash dev/up.sh)"` works).
say() { printf '[dev] %s\n' "$*" >&2; }
die() { printf '[dev] ERROR: %s\n' "$*" >&2; exit 1; }

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# wait_until <seconds> <description> <command...>: polls every 0.2s.
wait_until() {
  local seconds="$1" what="$2"
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    if ((SECONDS >= deadline)); then
      return 1
    fi
    sleep 0.2
  done
}

# Serialises up/down/status of one server across processes: several test runs
# (vitest's global setup) may call dev/up.sh at the same time.
dev_lock() {
  mkdir -p "$DEV_DIR"
  exec 9>"$DEV_DIR/$1.lock"
  flock -w 900 9 || die "could not lock $DEV_DIR/$1.lock within 15 minutes"
}

# Runs a command as the `postgres` OS user (PostgreSQL refuses to run as root).
as_postgres() {
  if [[ "$(id -u)" == "0" ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# A process id from a pid file, only if that process is alive and its command
# line contains $2 (so a stale pid file or a recycled pid never matches).
live_pid() {
  local pidfile="$1" marker="$2" pid
  [[ -f "$pidfile" ]] || return 1
  pid="$(cat "$pidfile" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$marker" || return 1
  echo "$pid"
}

# Installs Debian packages when missing (we run as root on the dev/CI machine).
apt_install() {
  local sudo=""
  [[ "$(id -u)" == "0" ]] || sudo="sudo"
  say "installing $* with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >&2
  $sudo apt-get install -y -qq "$@" >&2
}

# The dev servers' fixed ports lie inside the kernel's ephemeral range
# (32768-60999), so a test's outgoing connection may hold one for a moment,
# and a server started then fails with "Address already in use" (CI saw it
# with the HA standby on 55438 while the cluster tests made many
# connections). Again with Jaeger's gRPC port (query + 2) while the cluster
# test ran. Every port a dev server listens on is listed here: Jaeger's three
# (query, query + 1, query + 2), the registry's two (API, management), the
# fault suite's PostgreSQL and Kafka (broker, controller). Reserve them where
# this user may (root); best effort.
reserve_dev_ports() {
  local file=/proc/sys/net/ipv4/ip_local_reserved_ports
  [[ -w "$file" ]] || return 0
  local ha="${OUTBOXX_DEV_HA_PORT:-55437}"
  local query="${OUTBOXX_DEV_JAEGER_QUERY_PORT:-56686}"
  local registry="${OUTBOXX_DEV_REGISTRY_PORT:-58081}"
  local faults_kafka="${OUTBOXX_FAULTS_KAFKA_PORT:-59192}"
  local want="$PG_PORT,$KAFKA_PORT,$KAFKA_CONTROLLER_PORT,55415-55418,$ha-$((ha + 1)),${OUTBOXX_DEV_JAEGER_OTLP_PORT:-54318}"
  want+=",$query-$((query + 2)),$registry-$((registry + 1)),${OUTBOXX_FAULTS_PG_PORT:-54339},$faults_kafka-$((faults_kafka + 1))"
  local have
  have="$(cat "$file" 2>/dev/null || true)"
  { [[ -z "$have" ]] && echo "$want" || echo "$have,$want"; } >"$file" 2>/dev/null || true
}

# Runs a server's start command (the arguments; it fails when the server did
# not come up) and runs it again, up to 5 times, while the last lines of the
# server's log say its port was taken: where reserve_dev_ports could not
# reserve it (it needs root), a client's outgoing connection may hold the port
# for a moment. Any other failure stops at once, with the log's tail.
start_retrying_busy_port() { # log, what, command...
  local log="$1" what="$2"
  shift 2
  local attempt
  for attempt in 1 2 3 4 5; do
    "$@" && return 0
    if ((attempt < 5)) && tail -n 20 "$log" 2>/dev/null | grep -qi "address already in use"; then
      say "a port of $what is taken for the moment; starting again in 3 s"
      sleep 3
      continue
    fi
    print_tail "$log"
    die "$what did not start"
  done
}

# The first errors of a log: the cause of a failed start is often far above
# the shutdown lines that end it.
print_first_errors() {
  local file="$1"
  if [[ -f "$file" ]] && grep -qE " (ERROR|FATAL) " "$file"; then
    echo "---- first errors in $file ----" >&2
    grep -m 10 -E -A 3 " (ERROR|FATAL) " "$file" >&2
    echo "----" >&2
  fi
}

print_tail() {
  local file="$1"
  if [[ -f "$file" ]]; then
    echo "---- last lines of $file ----" >&2
    tail -n 40 "$file" >&2
    echo "----" >&2
  fi
}
