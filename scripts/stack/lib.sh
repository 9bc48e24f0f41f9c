# shellcheck shell=bash
# Shared settings of scripts/stack/*.sh: versions, cache and run directories, ports. Sourced, never run.
# Every value can be overridden from the environment (see docs/stack.md).

STACK_SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
UDF_STACK_CACHE="${UDF_STACK_CACHE:-$HOME/.cache/kapacitor-udf-sidecar}"
UDF_STACK_RUN="${UDF_STACK_RUN:-/tmp/udf-sidecar-stack}"

KAPACITOR_VERSION="${KAPACITOR_VERSION:-1.8.3}"
INFLUXDB_VERSION="${INFLUXDB_VERSION:-1.8.10}"
INFLUXDB2_VERSION="${INFLUXDB2_VERSION:-2.7.12}"
KAFKA_VERSION="${KAFKA_VERSION:-3.9.2}"
# InfluxData's pkg-config wrapper: builds flux's libflux (Rust) for cgo when Kapacitor 1.8 / InfluxDB 2 link it.
PKGCONFIG_VERSION="${PKGCONFIG_VERSION:-v0.2.14}"

INFLUXDB_PORT="${INFLUXDB_PORT:-18086}"
INFLUXDB_BIND_PORT="${INFLUXDB_BIND_PORT:-18088}"
INFLUXDB2_PORT="${INFLUXDB2_PORT:-18087}"
REDIS_PORT="${REDIS_PORT:-16379}"
KAFKA_PORT="${KAFKA_PORT:-29092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-29093}"
# SASL_SSL listener (TLS with the run dir's CA; SASL PLAIN and SCRAM-SHA-256, user KAFKA_SASL_USER).
KAFKA_SASL_SSL_PORT="${KAFKA_SASL_SSL_PORT:-29094}"
KAFKA_SASL_USER="${KAFKA_SASL_USER:-udffeeder}"
KAPACITOR_PORT="${KAPACITOR_PORT:-19092}"

STACK_BIN="$UDF_STACK_CACHE/bin"
KAPACITOR_BIN_DIR="$STACK_BIN/kapacitor-$KAPACITOR_VERSION"
INFLUXDB_BIN_DIR="$STACK_BIN/influxdb-$INFLUXDB_VERSION"
INFLUXDB2_BIN_DIR="$STACK_BIN/influxdb2-$INFLUXDB2_VERSION"
KAFKA_LIB_DIR="$STACK_BIN/kafka-$KAFKA_VERSION/libs"
STACK_LOGS="$UDF_STACK_CACHE/logs"

# One Go/Rust cache for every build, so that a second run (and CI on the same machine) reuses all of it.
stack_go_env() {
  export GOMODCACHE="$UDF_STACK_CACHE/go/mod"
  export GOCACHE="$UDF_STACK_CACHE/go/build"
  export GOPATH="$UDF_STACK_CACHE/go/path"
  export GOFLAGS="-mod=mod -buildvcs=false"
  export GOPROXY="${GOPROXY:-https://proxy.golang.org,direct}"
  export CARGO_HOME="$UDF_STACK_CACHE/cargo"
  export RUSTUP_TOOLCHAIN="${RUSTUP_TOOLCHAIN:-stable}"
  # flux's crates deny(warnings); cap lints on every rustc run (see rustc-cap-lints.sh). Copied to the cache so that
  # cargo sees one stable wrapper path whatever the checkout's path.
  mkdir -p "$STACK_BIN/tools"
  cmp -s "$STACK_SCRIPTS/rustc-cap-lints.sh" "$STACK_BIN/tools/rustc-cap-lints" ||
    install -m 755 "$STACK_SCRIPTS/rustc-cap-lints.sh" "$STACK_BIN/tools/rustc-cap-lints"
  export RUSTC_WRAPPER="$STACK_BIN/tools/rustc-cap-lints"
  export CGO_ENABLED=1
  export PKG_CONFIG="$STACK_BIN/tools/pkg-config-$PKGCONFIG_VERSION/pkg-config"
  mkdir -p "$GOMODCACHE" "$GOCACHE" "$GOPATH" "$CARGO_HOME"
}

stack_log() { printf '[stack] %s\n' "$*" >&2; }

stack_die() {
  stack_log "ERROR: $*"
  exit 1
}

# stack_tail FILE [N]: the last N lines of a log, for error messages.
stack_tail() {
  local f="$1" n="${2:-60}"
  if [ -f "$f" ]; then
    echo "----- last $n lines of $f -----" >&2
    tail -n "$n" "$f" >&2
    echo "-----" >&2
  fi
}

# stack_pid_alive PIDFILE: true when the pid file names a live process.
stack_pid_alive() {
  local pf="$1" pid
  [ -f "$pf" ] || return 1
  pid="$(cat "$pf" 2>/dev/null)"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

stack_http_ok() {
  curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null
}
