#!/usr/bin/env bash
# ctest "node-jose: encrypted objects ...": runs data-check.mjs (npm jose + node:crypto against
# skrctl seal-data / open-data). A missing node or tests/node/node_modules is a FAILURE (run
# scripts/setup), not a skip.
# Usage: tests/node/run-data-check.sh PATH/TO/skrctl
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[[ $# -eq 1 ]] || { echo "run-data-check: usage: $0 SKRCTL" >&2; exit 2; }
if ! command -v node >/dev/null; then
  echo "run-data-check: FAIL: 'node' is not installed; run scripts/setup" >&2
  exit 1
fi
if [[ ! -f "$here/node_modules/jose/package.json" ]]; then
  echo "run-data-check: FAIL: $here/node_modules is missing; run scripts/setup (npm ci --prefix tests/node)" >&2
  exit 1
fi
[[ -x $1 ]] || { echo "run-data-check: FAIL: not an executable: $1" >&2; exit 1; }
node "$here/data-check.mjs" --skrctl "$1"
