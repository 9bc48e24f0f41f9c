#!/bin/sh
# RUSTC_WRAPPER for building flux's libflux with a newer Rust than it pins: its crates `deny(warnings)` (feature
# "strict"), and lints added since turn into errors. RUSTFLAGS=--cap-lints=warn does not reach flux-core, which is a
# build-dependency (a host artifact) when cargo is given --target as InfluxData's pkg-config does. This caps every
# rustc invocation that cargo did not already cap.
rustc="$1"; shift
for a in "$@"; do
  case "$a" in --cap-lints|--cap-lints=*) exec "$rustc" "$@" ;; esac
done
exec "$rustc" "$@" --cap-lints warn
