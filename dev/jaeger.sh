#!/usr/bin/env bash
# Local Jaeger v2 for traces: one process receiving OTLP/HTTP on
# 127.0.0.1:${OUTBOXX_DEV_JAEGER_OTLP_PORT:-54318} and serving its query API
# on 127.0.0.1:${OUTBOXX_DEV_JAEGER_QUERY_PORT:-56686}, spans kept in memory.
#
#   bash dev/jaeger.sh up|down|status|build
#
# Built from the Go module proxy (github.com/jaegertracing/jaeger
# v1.75.0, cmd/jaeger): about 6 minutes on 2 cores the first time, then the
# binary in .dev/jaeger/bin is reused. Its Go module carries no UI assets; the
# HTTP API (/api/traces, /api/services) works without them. Only the tests
# that need traces (and the demo's tracing step) call this.
#
# `up` prints OUTBOXX_TEST_JAEGER_OTLP=... and OUTBOXX_TEST_JAEGER_QUERY=...
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

JAEGER_VERSION="${OUTBOXX_DEV_JAEGER_VERSION:-v1.75.0}"
JAEGER_DIR="$DEV_DIR/jaeger"
JAEGER_BIN="$JAEGER_DIR/bin/jaeger-$JAEGER_VERSION"
JAEGER_CONFIG="$JAEGER_DIR/config.yaml"
JAEGER_PIDFILE="$JAEGER_DIR/jaeger.pid"
JAEGER_LOG="$JAEGER_DIR/jaeger.log"
OTLP_PORT="${OUTBOXX_DEV_JAEGER_OTLP_PORT:-54318}"
QUERY_PORT="${OUTBOXX_DEV_JAEGER_QUERY_PORT:-56686}"

jaeger_settings() {
  echo "OUTBOXX_TEST_JAEGER_OTLP=http://127.0.0.1:$OTLP_PORT"
  echo "OUTBOXX_TEST_JAEGER_QUERY=http://127.0.0.1:$QUERY_PORT"
}

build() {
  [[ -x "$JAEGER_BIN" ]] && return 0
  command -v go >/dev/null 2>&1 || apt_install golang-go
  dev_lock jaeger-build
  [[ -x "$JAEGER_BIN" ]] && return 0
  say "building Jaeger $JAEGER_VERSION from the Go module proxy (first run only, about 6 minutes)"
  local src="$JAEGER_DIR/src"
  rm -rf "$src"
  mkdir -p "$src" "$JAEGER_DIR/bin"
  (
    cd "$src"
    go mod init outboxx.dev/jaeger-build >/dev/null 2>&1
    go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@$JAEGER_VERSION" >&2
    go build -o "$JAEGER_BIN.partial" github.com/jaegertracing/jaeger/cmd/jaeger >&2
  ) || die "building Jaeger failed"
  mv "$JAEGER_BIN.partial" "$JAEGER_BIN"
  say "Jaeger built: $JAEGER_BIN"
}

write_config() {
  # Everything on loopback; spans in memory (a test run's worth).
  cat >"$JAEGER_CONFIG" <<EOF
service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:$((QUERY_PORT + 1))
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:$QUERY_PORT
    grpc:
      endpoint: 127.0.0.1:$((QUERY_PORT + 2))
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:$OTLP_PORT
processors:
  batch:
    timeout: 200ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
EOF
}

up() {
  if live_pid "$JAEGER_PIDFILE" "$JAEGER_CONFIG" >/dev/null; then
    jaeger_settings
    return 0
  fi
  build
  mkdir -p "$JAEGER_DIR"
  write_config
  start_retrying_busy_port "$JAEGER_LOG" "Jaeger" start_once
  jaeger_settings
}

# One start: ready when both ports answer; given up (and stopped) when it
# exits, e.g. on a port taken (its ports lie in the ephemeral range), or after 60 s.
start_once() {
  say "starting Jaeger on 127.0.0.1:$OTLP_PORT (OTLP/HTTP) and 127.0.0.1:$QUERY_PORT (query API)"
  nohup "$JAEGER_BIN" --config "$JAEGER_CONFIG" >"$JAEGER_LOG" 2>&1 &
  local pid=$!
  echo "$pid" >"$JAEGER_PIDFILE"
  if wait_until 60 "Jaeger" bash -c "! kill -0 $pid || { exec 3<>/dev/tcp/127.0.0.1/$OTLP_PORT && exec 4<>/dev/tcp/127.0.0.1/$QUERY_PORT; }" 2>/dev/null \
    && kill -0 "$pid" 2>/dev/null; then
    return 0
  fi
  kill "$pid" 2>/dev/null || true
  rm -f "$JAEGER_PIDFILE"
  return 1
}

down() {
  local pid
  if pid="$(live_pid "$JAEGER_PIDFILE" "$JAEGER_CONFIG")"; then
    kill "$pid"
    wait_until 20 "Jaeger to stop" bash -c "! kill -0 $pid 2>/dev/null" || kill -9 "$pid" 2>/dev/null || true
    say "Jaeger stopped"
  fi
  rm -f "$JAEGER_PIDFILE"
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  build) build ;;
  status) if live_pid "$JAEGER_PIDFILE" "$JAEGER_CONFIG" >/dev/null; then say "Jaeger running"; else say "Jaeger not running"; exit 1; fi ;;
  *) die "usage: dev/jaeger.sh up|down|status|build" ;;
esac
