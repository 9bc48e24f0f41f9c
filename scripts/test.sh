#!/usr/bin/env bash
# The README's test command: build, bring up the real servers the integration tests need (installed on first run,
# cached after), then run every test. Integration tests fail, never skip, when a server cannot start.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build --silent
# Lint, format and type checks (biome, tsc over src and tests): a slip fails the run before any server starts.
npm run lint --silent
npm run typecheck --silent
bash scripts/stack/install.sh
bash scripts/stack/sshd.sh install   # the router tests' SSH server (Debian openssh-server)
report="$(mktemp)"
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?
# One plain closing line, whatever the reporter printed above.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
' "$report" || true
rm -f "$report"
exit "$status"
