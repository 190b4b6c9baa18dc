#!/usr/bin/env bash
# ctest "skrctl: open-data through the agent ...": skrctl open-data against a fake agent
# (tests/ctl/fake_data_agent.py) that answers POST /data/open with a chunked plaintext, error
# JSON, or a body cut before its last chunk. Checks the request skrctl sends, the bytes and exit
# codes it produces, and that --out appears only for a body that ended properly.
# Usage: tests/ctl/open_data_test.sh SKRCTL
set -euo pipefail
skrctl=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/skr-open-data.XXXXXX")
pid=
cleanup() {
  if [[ -n $pid ]]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

head -c 1000003 /dev/urandom >"$work/plain.bin"
python3 "$here/fake_data_agent.py" "$work/agent.sock" "$work/plain.bin" "$work/requests.log" &
pid=$!
for _ in $(seq 1 100); do [[ -S $work/agent.sock ]] && break; sleep 0.05; done
[[ -S $work/agent.sock ]] || { echo "FAIL: the fake agent did not start" >&2; exit 1; }

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
base=https://acct.blob.core.windows.net/c

# open MODE EXPECTED_EXIT: runs open-data --out, checks the exit code and the output directory.
open() {
  local mode=$1 want=$2 rc=0
  rm -rf "$work/out" && mkdir "$work/out"
  "$skrctl" open-data --socket "$work/agent.sock" --url "$base/$mode" --key data-key \
    --out "$work/out/model.bin" 2>"$work/err" || rc=$?
  if [[ $rc -ne $want ]]; then
    fail "$mode: exit $rc, expected $want ($(cat "$work/err"))"
    return
  fi
  if [[ $want -eq 0 ]]; then
    cmp -s "$work/plain.bin" "$work/out/model.bin" || fail "$mode: the output differs"
    [[ $(stat -c %a "$work/out/model.bin") == 600 ]] || fail "$mode: the output is not mode 0600"
  fi
  if [[ $want -ne 0 && -n $(ls -A "$work/out") ]]; then
    fail "$mode: left files behind: $(ls -A "$work/out")"
  fi
  echo "ok: $mode -> exit $rc: $(head -c 300 "$work/err")"
}

open ok 0
grep -q "1000003 bytes opened with https://vault.example/keys/data-key/0123456789abcdef (chunked)" \
  "$work/err" || fail "ok: the summary line is missing: $(cat "$work/err")"
open cut 9
grep -q "ended before its last chunk" "$work/err" || fail "cut: the message does not say why"
open cut-inside 9
open missing 7
grep -q "BlobNotFound" "$work/err" || fail "missing: the agent's code is not shown"
open denied 6
grep -q "KeyMismatch" "$work/err" || fail "denied: the agent's code is not shown"
open corrupt 9
open unavailable 8

# To stdout, streamed.
"$skrctl" open-data --socket "$work/agent.sock" --url "$base/ok" --key data-key 2>/dev/null |
  cmp -s - "$work/plain.bin" || fail "stdout: the plaintext differs"

# The request: POST /data/open with X-SKR-Request and the JSON body (auth only when given).
SKR_AGENT_SOCKET="$work/agent.sock" "$skrctl" open-data --url "$base/ok?sv=1&sig=x" \
  --key data-key --auth sas --out "$work/sas.bin" 2>/dev/null || fail "SKR_AGENT_SOCKET: failed"
python3 - "$work/requests.log" "$base" <<'PY' || fail "the requests were not as specified"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
base = sys.argv[2]
assert all(l["path"] == "/data/open" for l in lines), lines
assert all(l["x_skr_request"] == "1" for l in lines), lines
assert all(l["content_type"] == "application/json" for l in lines), lines
assert lines[0]["body"] == {"url": base + "/ok", "key": "data-key"}, lines[0]
assert lines[-1]["body"] == {"url": base + "/ok?sv=1&sig=x", "key": "data-key", "auth": "sas"}, lines[-1]
PY

# Usage errors: no agent is contacted.
before=$(wc -l <"$work/requests.log")
for args in "--url http://x/c/b --key k" "--url $base/ok" "--url $base/ok --key k --auth other" \
            "--key-file $work/plain.bin --url $base/ok" "--url $base/ok --key k --in $work/plain.bin"; do
  rc=0
  # shellcheck disable=SC2086
  "$skrctl" open-data --socket "$work/agent.sock" $args 2>/dev/null >/dev/null || rc=$?
  [[ $rc -eq 2 ]] || fail "usage '$args': exit $rc, expected 2"
done
[[ $(wc -l <"$work/requests.log") -eq $before ]] || fail "a usage error reached the agent"
# No agent at all: 8.
rc=0
"$skrctl" open-data --socket "$work/none.sock" --url "$base/ok" --key k 2>/dev/null || rc=$?
[[ $rc -eq 8 ]] || fail "no agent: exit $rc, expected 8"

[[ $failures -eq 0 ]] || { echo "open_data_test: $failures failure(s)" >&2; exit 1; }
echo "open_data_test: all as expected"
