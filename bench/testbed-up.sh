#!/usr/bin/env bash
# Times `npm run testbed -- up`: a warm run (everything cached and running) by default; with
# --cold, first moves the cache aside (SLIMWHEEL_TESTBED_DIR points at a fresh directory).
# Prints wall time and peak memory (GNU time).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--cold" ]; then
  export SLIMWHEEL_TESTBED_DIR
  SLIMWHEEL_TESTBED_DIR=$(mktemp -d /var/tmp/slimwheel-testbed-cold.XXXXXX)
  echo "cold run in $SLIMWHEEL_TESTBED_DIR"
fi
/usr/bin/time -f "testbed up: %e s wall, %M KiB max RSS" npx --no-install tsx testbed/cli.ts up >/dev/null
if [ "${1:-}" = "--cold" ]; then
  npx --no-install tsx testbed/cli.ts down >/dev/null
  rm -rf "$SLIMWHEEL_TESTBED_DIR"
fi
