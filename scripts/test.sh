#!/usr/bin/env bash
# The README's test command: build, bring up the real servers the integration tests need (installed on first run,
# cached after), then run every test. Integration tests fail, never skip, when a server cannot start.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build --silent
bash scripts/stack/install.sh
npx vitest run "$@"
