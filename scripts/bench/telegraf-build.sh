#!/usr/bin/env bash
# Builds Telegraf with only the plugins the feeder benchmark compares against (inputs.kafka_consumer,
# outputs.influxdb_v2, parsers.json_v2: Telegraf's `custom` build tags), from the Go module proxy, cached under the stack cache:
#
#   scripts/bench/telegraf-build.sh          # prints the binary's path; builds it first when not cached
#
# A fresh build downloads Telegraf's dependencies of those two plugins and compiles them: minutes on 2 cores. The log is
# $UDF_STACK_CACHE/logs/telegraf.log. TELEGRAF_VERSION overrides the pinned version.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../stack/lib.sh
. "$HERE/../stack/lib.sh"

TELEGRAF_VERSION="${TELEGRAF_VERSION:-1.37.2}"
out="$STACK_BIN/telegraf-$TELEGRAF_VERSION"
if [ -f "$out/.installed" ] && [ -x "$out/telegraf" ]; then
  echo "$out/telegraf"
  exit 0
fi
command -v go >/dev/null || stack_die "building Telegraf needs Go (the same toolchain install.sh uses)"
mkdir -p "$STACK_BIN" "$STACK_LOGS"
exec 9>"$UDF_STACK_CACHE/telegraf.lock"
flock 9
if [ -f "$out/.installed" ] && [ -x "$out/telegraf" ]; then
  echo "$out/telegraf"
  exit 0
fi
stack_go_env
# Telegraf is pure Go; cgo would only slow the build down.
export CGO_ENABLED=0
log="$STACK_LOGS/telegraf.log"
started="$(date +%s)"
echo "+ go install telegraf@v$TELEGRAF_VERSION (custom,inputs.kafka_consumer,outputs.influxdb_v2,parsers.json_v2) $(date -u +%FT%TZ)" >>"$log"
mkdir -p "$out"
if ! (cd /tmp && GOBIN="$out" go install -trimpath -tags "custom,inputs.kafka_consumer,outputs.influxdb_v2,parsers.json_v2" \
  -ldflags "-X github.com/influxdata/telegraf/internal.Version=$TELEGRAF_VERSION" \
  "github.com/influxdata/telegraf/cmd/telegraf@v$TELEGRAF_VERSION") >>"$log" 2>&1 </dev/null; then
  stack_tail "$log" 40
  stack_die "Telegraf $TELEGRAF_VERSION build failed (full log: $log)"
fi
echo "built in $(($(date +%s) - started)) s" >>"$log"
touch "$out/.installed"
echo "$out/telegraf"
