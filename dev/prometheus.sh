#!/usr/bin/env bash
# Prometheus and promtool from Debian's `prometheus` package, for the tests
# that check the alert rules (promtool) and scrape a running daemon
# (prometheus, started by the test itself on loopback with its own config and
# data directory). The package's own service is not used: it is stopped if the
# install started it.
#
#   bash dev/prometheus.sh install    prints OUTBOXX_TEST_PROMETHEUS=... and OUTBOXX_TEST_PROMTOOL=...
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

install() {
  if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
    dev_lock prometheus-install
    if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
      # No service may start from the install (there is no init system here, and we bind our own).
      local policy=/usr/sbin/policy-rc.d created_policy=0
      if [[ "$(id -u)" == "0" && ! -e "$policy" ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod +x "$policy"
        created_policy=1
      fi
      apt_install prometheus
      ((created_policy)) && rm -f "$policy"
    fi
  fi
  echo "OUTBOXX_TEST_PROMETHEUS=$(command -v prometheus)"
  echo "OUTBOXX_TEST_PROMTOOL=$(command -v promtool)"
}

case "${1:-install}" in
  install) install ;;
  *) die "usage: dev/prometheus.sh install" ;;
esac
