#!/usr/bin/env bash
# Builds Kapacitor's own Go UDF agent example, moving_avg (github.com/influxdata/kapacitor@v$KAPACITOR_VERSION,
# udf/agent/examples/moving_avg), from the Go module proxy into the stack cache, for the benchmarks to compare with:
#
#   scripts/bench/build-go-agent.sh        prints the binary's path; cached (a second run builds nothing)
#
# The example serves stdin/stdout only. The build copies its moving_avg.go from the module cache into a throwaway module
# under $UDF_STACK_CACHE/src, renames its main to stdioMain, and adds go-moving-avg/socket.go (ours), whose main serves
# the same handler over a Unix socket through the agent package's agent.NewServer when given `-socket PATH`. Nothing
# fetched is committed. Build log: $UDF_STACK_CACHE/logs/go-moving-avg.log.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../stack/lib.sh
. "$HERE/../stack/lib.sh"

out_dir="$STACK_BIN/go-moving-avg-$KAPACITOR_VERSION"
bin="$out_dir/moving_avg"
stamp="$out_dir/.installed"
# The socket main is ours and may change: rebuild when it does.
want="$(sha256sum "$HERE/go-moving-avg/socket.go" | cut -c1-16)"
if [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "$bin"
  exit 0
fi

command -v go >/dev/null || stack_die "the Go agent baseline needs Go (the stack's kapacitord build needs it too)"
mkdir -p "$STACK_LOGS" "$out_dir"
log="$STACK_LOGS/go-moving-avg.log"
: >"$log"
stack_go_env
# Pure Go: no cgo, no libflux.
export CGO_ENABLED=0
module=github.com/influxdata/kapacitor
version="v$KAPACITOR_VERSION"
w="$UDF_STACK_CACHE/src/go-moving-avg-$KAPACITOR_VERSION"
rm -rf "$w"; mkdir -p "$w"
fail() { stack_tail "$log" 40; stack_die "go-moving-avg: $1 (log: $log)"; }
(
  cd "$w"
  {
    go mod init gomovingavg
    go get "$module@$version"
  } >>"$log" 2>&1 || exit 1
) || fail "cannot fetch $module@$version from the Go module proxy"
src="$(cd "$w" && go list -m -f '{{.Dir}}' "$module")/udf/agent/examples/moving_avg/moving_avg.go"
[ -f "$src" ] || fail "$src is missing from the module"
sed 's/^func main() {$/func stdioMain() {/' "$src" >"$w/moving_avg.go"
grep -q '^func stdioMain() {$' "$w/moving_avg.go" || fail "moving_avg.go has no 'func main() {' line to rename"
cp "$HERE/go-moving-avg/socket.go" "$w/socket.go"
(
  cd "$w"
  { go mod tidy && go build -trimpath -o "$bin" . ; } >>"$log" 2>&1
) || fail "go build failed"
echo "$want" >"$stamp"
echo "$bin"
