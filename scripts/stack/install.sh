#!/usr/bin/env bash
# Installs the real servers the integration tests use, from the package registries only, cached by version under
# ${UDF_STACK_CACHE:-$HOME/.cache/kapacitor-udf-sidecar}. Idempotent: a component whose binaries are cached is skipped.
#
#   scripts/stack/install.sh [all|core|kapacitor|influxdb|redis|kafka|influxdb2]...
#
# `all` (the default) = kapacitor influxdb redis kafka influxdb2; `core` = the same without influxdb2 (its fresh build
# adds ~3.5 min on 2 cores; the `influx setup` tests need it). Each component's build log is kept in
# $UDF_STACK_CACHE/logs/<component>.log; on failure its tail is printed. See docs/stack.md.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

mkdir -p "$UDF_STACK_CACHE" "$STACK_BIN" "$STACK_LOGS"

# Two installs at once (e.g. CI plus a test helper) would build the same thing twice: serialise them.
exec 9>"$UDF_STACK_CACHE/install.lock"
if ! flock -n 9; then
  stack_log "another install.sh holds $UDF_STACK_CACHE/install.lock; waiting"
  flock 9
fi

now() { date +%s; }

# run_logged COMPONENT CMD...: runs CMD with its output appended to the component's log; on failure prints the tail.
run_logged() {
  local comp="$1"; shift
  local log="$STACK_LOGS/$comp.log"
  echo "+ $*" >>"$log"
  if ! "$@" >>"$log" 2>&1 </dev/null; then
    stack_log "$comp: command failed: $*"
    stack_tail "$log" 80
    stack_die "$comp install failed (full log: $log)"
  fi
}

# ---------------------------------------------------------------------------------------------------------------------
# Go helpers

# go_modfile MODULE@VERSION: path of that version's go.mod in the module cache (downloads it).
go_modfile() {
  local f
  f="$(go mod download -json "$1" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
  [ -n "$f" ] && [ -f "$f" ] || return 1
  echo "$f"
}

# InfluxData's pkg-config: a drop-in pkg-config that compiles flux's libflux with cargo (into GOCACHE) on demand.
install_pkgconfig() {
  local comp="$1"
  if [ -x "$PKG_CONFIG" ]; then return 0; fi
  command -v cargo >/dev/null || stack_die "$comp needs cargo (Rust) to build flux's libflux"
  (
    export GOBIN
    GOBIN="$(dirname "$PKG_CONFIG")"
    mkdir -p "$GOBIN"
    cd /tmp
    run_logged "$comp" go install "github.com/influxdata/pkg-config@$PKGCONFIG_VERSION"
  )
}

# build_wrapped COMPONENT MODULE VERSION OUTDIR LDFLAGS PKG...: builds packages of MODULE@VERSION through a throwaway
# module that carries MODULE's `replace` lines (go install refuses modules whose go.mod has replace directives).
build_wrapped() {
  local comp="$1" module="$2" version="$3" outdir="$4" ldflags="$5"; shift 5
  local w="$UDF_STACK_CACHE/src/$comp-${version#v}" modfile
  modfile="$(cd /tmp && go_modfile "$module@$version")" || { stack_tail "$STACK_LOGS/$comp.log"; stack_die "$comp: cannot fetch $module@$version/go.mod from the Go module proxy"; }
  rm -rf "$w"; mkdir -p "$w"
  (
    cd "$w"
    run_logged "$comp" go mod init stackbuild
    # Single-line and block replace directives, copied verbatim.
    awk '/^replace[[:space:]]*\(/{b=1; print; next} b{print; if ($0 ~ /^\)/) b=0; next} /^replace[[:space:]]/{print}' \
      "$modfile" >>go.mod
    # The wrapper needs a Go version at least the dependency's.
    local gov
    gov="$(sed -n 's/^go \([0-9.]*\).*/\1/p' "$modfile")"
    [ -n "$gov" ] && run_logged "$comp" go mod edit -go="$gov"
    run_logged "$comp" go get "$module@$version"
    mkdir -p "$outdir"
    local pkg
    for pkg in "$@"; do
      run_logged "$comp" go build -trimpath -ldflags "$ldflags" -o "$outdir/$(basename "$pkg")" "$pkg"
    done
  )
}

# ---------------------------------------------------------------------------------------------------------------------
# Components

install_kapacitor() {
  if [ -f "$KAPACITOR_BIN_DIR/.installed" ] && [ -x "$KAPACITOR_BIN_DIR/kapacitord" ] && [ -x "$KAPACITOR_BIN_DIR/kapacitor" ]; then
    stack_log "kapacitor $KAPACITOR_VERSION: cached in $KAPACITOR_BIN_DIR"
    return 0
  fi
  command -v go >/dev/null || stack_die "kapacitor needs Go"
  stack_go_env
  case "$KAPACITOR_VERSION" in
    # Pure Go. Its go 1.15-era ugorji/go codec panics at init under Go >= 1.22 (base64 alphabet with duplicate
    # symbols): build with an older toolchain, which the go command fetches through the module proxy.
    1.5.*|1.6.*) export GOTOOLCHAIN="${KAPACITOR_GOTOOLCHAIN:-go1.21.13}" ;;
    *) install_pkgconfig kapacitor ;; # 1.7+ link flux's libflux (Rust)
  esac
  stack_log "kapacitor $KAPACITOR_VERSION: building from the Go module proxy (log: $STACK_LOGS/kapacitor.log)"
  build_wrapped kapacitor github.com/influxdata/kapacitor "v$KAPACITOR_VERSION" "$KAPACITOR_BIN_DIR" \
    "-X main.version=$KAPACITOR_VERSION -X main.commit=proxy -X main.branch=v$KAPACITOR_VERSION" \
    github.com/influxdata/kapacitor/cmd/kapacitord github.com/influxdata/kapacitor/cmd/kapacitor
  "$KAPACITOR_BIN_DIR/kapacitord" version >>"$STACK_LOGS/kapacitor.log" 2>&1 || { stack_tail "$STACK_LOGS/kapacitor.log"; stack_die "kapacitord does not run"; }
  touch "$KAPACITOR_BIN_DIR/.installed"
}

install_influxdb() {
  if [ -f "$INFLUXDB_BIN_DIR/.installed" ] && [ -x "$INFLUXDB_BIN_DIR/influxd" ]; then
    stack_log "influxdb $INFLUXDB_VERSION: cached in $INFLUXDB_BIN_DIR"
    return 0
  fi
  command -v go >/dev/null || stack_die "influxdb needs Go"
  stack_go_env
  stack_log "influxdb $INFLUXDB_VERSION: building from the Go module proxy (log: $STACK_LOGS/influxdb.log)"
  (
    export GOBIN="$INFLUXDB_BIN_DIR"
    mkdir -p "$GOBIN"
    cd /tmp
    # influxdb 1.8's go.mod has no replace directives: go install works directly. flux 0.65 there is pure Go.
    run_logged influxdb go install -ldflags "-X main.version=$INFLUXDB_VERSION -X main.commit=proxy -X main.branch=$INFLUXDB_VERSION" \
      "github.com/influxdata/influxdb/cmd/influxd@v$INFLUXDB_VERSION"
  )
  "$INFLUXDB_BIN_DIR/influxd" version >>"$STACK_LOGS/influxdb.log" 2>&1 || { stack_tail "$STACK_LOGS/influxdb.log"; stack_die "influxd does not run"; }
  touch "$INFLUXDB_BIN_DIR/.installed"
}

install_influxdb2() {
  if [ -f "$INFLUXDB2_BIN_DIR/.installed" ] && [ -x "$INFLUXDB2_BIN_DIR/influxd" ]; then
    stack_log "influxdb2 $INFLUXDB2_VERSION: cached in $INFLUXDB2_BIN_DIR"
    return 0
  fi
  command -v go >/dev/null || stack_die "influxdb2 needs Go"
  stack_go_env
  install_pkgconfig influxdb2
  stack_log "influxdb2 $INFLUXDB2_VERSION: building from the Go module proxy, libflux included (log: $STACK_LOGS/influxdb2.log)"
  # The UI assets are not in the module: the server runs without them (API only), which is all the tests need.
  local gotags="sqlite_foreign_keys,sqlite_json"
  GOFLAGS="$GOFLAGS -tags=$gotags" build_wrapped influxdb2 github.com/influxdata/influxdb/v2 "v$INFLUXDB2_VERSION" "$INFLUXDB2_BIN_DIR" \
    "-X main.version=$INFLUXDB2_VERSION -X main.commit=proxy" \
    github.com/influxdata/influxdb/v2/cmd/influxd
  "$INFLUXDB2_BIN_DIR/influxd" version >>"$STACK_LOGS/influxdb2.log" 2>&1 || { stack_tail "$STACK_LOGS/influxdb2.log"; stack_die "influxd (2.x) does not run"; }
  touch "$INFLUXDB2_BIN_DIR/.installed"
}

install_redis() {
  if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
    stack_log "redis: $(redis-server --version | awk '{print $3}') at $(command -v redis-server)"
    return 0
  fi
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || stack_die "redis-server is missing and we are not root: apt-get install redis-server"
    sudo="sudo -n"
  fi
  stack_log "redis: apt-get install redis-server (log: $STACK_LOGS/redis.log)"
  export DEBIAN_FRONTEND=noninteractive
  # Package lists may be missing or stale on a fresh machine: update once, only when the install fails.
  if ! $sudo apt-get install -y --no-install-recommends redis-server >>"$STACK_LOGS/redis.log" 2>&1 </dev/null; then
    run_logged redis $sudo apt-get update
    run_logged redis $sudo apt-get install -y --no-install-recommends redis-server
  fi
  # Debian's package may start a system redis on 6379 where an init system exists; ours run on their own ports.
  command -v redis-server >/dev/null || stack_die "redis-server still missing after apt-get install"
}

install_kafka() {
  if [ -f "$KAFKA_LIB_DIR/.installed" ]; then
    stack_log "kafka $KAFKA_VERSION: cached in $KAFKA_LIB_DIR"
    return 0
  fi
  command -v java >/dev/null || stack_die "kafka needs Java (17)"
  command -v mvn >/dev/null || stack_die "kafka needs Maven (mvn) to fetch its jars from Maven Central"
  stack_log "kafka $KAFKA_VERSION: fetching jars from Maven Central (log: $STACK_LOGS/kafka.log)"
  local w="$UDF_STACK_CACHE/src/kafka-$KAFKA_VERSION"
  rm -rf "$w" "$KAFKA_LIB_DIR"; mkdir -p "$w" "$KAFKA_LIB_DIR"
  # The broker jar brings no slf4j backend. 3.x configures log4j 1: slf4j-reload4j. 4.x uses log4j 2 (log4j-core comes
  # with it): bind slf4j 1.7 to it with log4j-slf4j-impl.
  local backend='<groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version>'
  case "$KAFKA_VERSION" in
    [4-9].*) backend='<groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>2.24.3</version>' ;;
  esac
  cat >"$w/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.udf-sidecar.stack</groupId>
  <artifactId>kafka-server</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency>$backend</dependency>
  </dependencies>
</project>
EOF
  run_logged kafka mvn -B -q -f "$w/pom.xml" -Dmaven.repo.local="$UDF_STACK_CACHE/m2" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIB_DIR"
  ls "$KAFKA_LIB_DIR"/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null 2>&1 || stack_die "kafka jars missing in $KAFKA_LIB_DIR"
  touch "$KAFKA_LIB_DIR/.installed"
}

# ---------------------------------------------------------------------------------------------------------------------

components=()
[ $# -eq 0 ] && set -- all
for a in "$@"; do
  case "$a" in
    all) components+=(redis kafka influxdb kapacitor influxdb2) ;;
    core) components+=(redis kafka influxdb kapacitor) ;;
    kapacitor|influxdb|redis|kafka|influxdb2) components+=("$a") ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) stack_die "unknown component '$a' (all|core|kapacitor|influxdb|redis|kafka|influxdb2)" ;;
  esac
done

total0=$(now)
summary=""
for c in "${components[@]}"; do
  t0=$(now)
  "install_$c"
  dt=$(( $(now) - t0 ))
  summary+="$(printf '  %-10s %5ss' "$c" "$dt")"$'\n'
done
stack_log "install done in $(( $(now) - total0 ))s (cache: $UDF_STACK_CACHE)"
printf '%s' "$summary" >&2
