#!/usr/bin/env bash
# Stops test servers started by start.sh (SIGTERM, then SIGKILL after 30 s). Data stay in the run dir, so a later
# start.sh brings a server back with them; pass --clean to delete the run dir as well.
#
#   scripts/stack/stop.sh [--clean] influxdb|redis|kafka|influxdb2|kapacitord|all
# (kapacitord = leftover instances of test/integration/stack.ts startKapacitord; `all` includes them)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

clean=0
pidfile_of() {
  case "$1" in
    influxdb|influxdb2) echo "$UDF_STACK_RUN/$1/influxd.pid" ;;
    redis) echo "$UDF_STACK_RUN/redis/redis.pid" ;;
    kafka) echo "$UDF_STACK_RUN/kafka/kafka.pid" ;;
  esac
}

stop_one() {
  local svc="$1" pf pid
  pf="$(pidfile_of "$svc")"
  if stack_pid_alive "$pf"; then
    pid="$(cat "$pf")"
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for i in $(seq 1 300); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      stack_log "$svc: still alive after 30s, SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
    stack_log "$svc: stopped (pid $pid)"
  else
    stack_log "$svc: not running"
  fi
  rm -f "$pf"
  if [ "$clean" = 1 ]; then
    rm -rf "${UDF_STACK_RUN:?}/$svc"
    stack_log "$svc: run dir removed"
  fi
}

# kapacitord instances of test/integration/stack.ts (normally stopped by the tests themselves): kill leftovers.
stop_kapacitords() {
  local pf n=0
  for pf in "$UDF_STACK_RUN"/kapacitord/*/kapacitord.pid; do
    [ -f "$pf" ] || continue
    if stack_pid_alive "$pf"; then
      kill -TERM "$(cat "$pf")" 2>/dev/null || true
      n=$((n + 1))
    fi
    rm -f "$pf"
  done
  [ "$n" = 0 ] || { sleep 2; stack_log "kapacitord: sent SIGTERM to $n leftover instance(s)"; }
  if [ "$clean" = 1 ]; then rm -rf "${UDF_STACK_RUN:?}/kapacitord"; fi
}

[ $# -ge 1 ] || { sed -n '2,7p' "$0"; exit 2; }
for a in "$@"; do
  case "$a" in
    --clean) clean=1 ;;
    all) stop_kapacitords; for s in kafka redis influxdb influxdb2; do stop_one "$s"; done ;;
    influxdb|redis|kafka|influxdb2) stop_one "$a" ;;
    kapacitord) stop_kapacitords ;;
    *) stack_die "unknown service '$a' (influxdb|redis|kafka|influxdb2|kapacitord|all)" ;;
  esac
done
