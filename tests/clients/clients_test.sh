#!/usr/bin/env bash
# ctest "examples: the client snippets seal, open and rewrap through a live agent": starts
# skr-emulator, releases one oct-HSM 256-bit key (app-kek) with skr-init, then runs every snippet
# of examples/clients/ against skr-agent (a clients rule that also requires a bearer token):
#   seal (wrap a fresh DEK, encrypt a sample text), started before the agent: each snippet must
#   wait for GET /readyz itself -> open (unwrap by the stored kid, decrypt; the plaintext is
#   asserted) -> a new key version + `skrctl rotate` -> rewrap (the kid must change) -> open again;
#   failures: an unknown key (404 KeyNotFound, non-zero exit), a wrong bearer token (401), no
#   agent (a bounded readiness wait), and an always-busy fake agent (tests/clients/fake_agent.py:
#   503/429 with Retry-After, 5 attempts that honour it, the outer AKV code reported).
# A missing toolchain (curl, python3, go, node, java) fails the test: run scripts/setup.
# Usage: tests/clients/clients_test.sh SOURCE_DIR EMULATOR INIT AGENT SKRCTL [SNIPPET...]
#   SNIPPET: curl python go node java cpp (default: all six; cpp is the binary in $SKR_CLIENT_CPP,
#   built by CMake from examples/clients/skr_client.cc)
set -euo pipefail
# shellcheck disable=SC2034  # emulator and skrctl are read by scripts/lib/emulator.sh
src=$1 emulator=$2 init=$3 agent=$4 skrctl=$5
shift 5
snippets=("$@")
[[ ${#snippets[@]} -gt 0 ]] || snippets=(curl python go node java cpp)
clients=$src/examples/clients

fail() {
  if [[ -s "${work:-}/agent.log" ]]; then
    echo "--- agent log (tail)" >&2
    tail -n 20 "$work/agent.log" >&2
  fi
  echo "clients_test: FAIL: $*" >&2
  exit 1
}

declare -A tools=([curl]=curl [python]=python3 [go]=go [node]=node [java]="java javac"
  [cpp]="${SKR_CLIENT_CPP:-skr-client-cpp}")
for s in "${snippets[@]}"; do
  [[ -n "${tools[$s]:-}" ]] || fail "unknown snippet '$s' (curl python go node java cpp)"
  for t in ${tools[$s]}; do
    command -v "$t" >/dev/null ||
      fail "'$t' is not installed (needed by the $s snippet): run scripts/setup"
  done
done

# Short path: socket paths must fit in sun_path (108 bytes).
work=$(mktemp -d /tmp/skr-clients-XXXXXX)
# shellcheck source=scripts/lib/emulator.sh
. "$src/scripts/lib/emulator.sh"
agent_pid='' fake_pid=''
cleanup() {
  local pid
  for pid in $agent_pid $fake_pid; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  emulator_stop
  rm -rf "$work"
}
trap cleanup EXIT

# Go writes a build cache: keep it in the work directory, never in the repository or $HOME.
export GOCACHE=$work/go-cache GOPATH=$work/go GOTOOLCHAIN=local GOFLAGS=

# run SNIPPET ARGS...: the snippet's own command line, as its header documents.
run() {
  local s=$1
  shift
  case $s in
    curl) bash "$clients/skr_client.sh" "$@" ;;
    python) python3 "$clients/skr_client.py" "$@" ;;
    go) "$work/skr-client-go" "$@" ;;
    node) node "$clients/skr_client.js" "$@" ;;
    java) java -cp "$work/java" SkrClient "$@" ;;
    cpp) "${SKR_CLIENT_CPP:-skr-client-cpp}" "$@" ;;
  esac
}

echo "== emulator, identity, an oct-HSM key whose release policy requires this HOST_DATA"
emulator_start
hostdata=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
emulator_chip_hostdata "$hostdata"
emulator_identity clients-test
first_kid=$(emulator_create_key mhsm app-kek '"kty":"oct-HSM","key_size":256' "$hostdata")
echo "created $first_kid"

token=$(head -c 24 /dev/urandom | base64 -w0 | tr '+/' '-_')
token_sha256=$(printf '%s' "$token" | sha256sum | cut -d' ' -f1)
mkdir -m 0750 "$work/run"
cat >"$work/skr.yaml" <<YAML
platform: {kind: emulated, chip_dir: $SKR_EMULATOR_CHIP_DIR}
attestation:
  maa_endpoint: $SKR_EMULATOR_MAA_URL
  collateral: {sources: [thim], thim_url: $SKR_EMULATOR_IMDS_URL/metadata/THIM/amd/certification}
identity: {kind: managed, imds_endpoint: $SKR_EMULATOR_IMDS_URL, client_id: $client_id}
keys:
  - {name: app-kek, mhsm: $SKR_EMULATOR_MHSM_URL, enc: RSA_AES_KEY_WRAP_384}
state_dir: $work/state
seal: {provider: emulated}
tls: {ca_file: $SKR_EMULATOR_CA_FILE}
agent:
  client_socket: $work/run/agent.sock
  admin_socket: $work/run/admin.sock
  clients:
    - {name: app, uids: [$(id -u)], operations: ['*'], keys: ['*'], token_sha256: $token_sha256}
  admin_uids: [$(id -u)]
log: {format: text}
YAML
code=0
"$init" --config "$work/skr.yaml" 2>"$work/init.log" || code=$?
[[ $code -eq 0 ]] || { cat "$work/init.log"; fail "skr-init exit $code"; }

echo "== building the compiled snippets (Go, Java) into the work directory"
for s in "${snippets[@]}"; do
  case $s in
    go) (cd "$clients" && go build -o "$work/skr-client-go" skr_client.go) || fail "go build" ;;
    java) javac -d "$work/java" "$clients/SkrClient.java" || fail "javac" ;;
  esac
done

export SKR_AGENT_SOCKET=$work/run/agent.sock SKR_AGENT_TOKEN=$token SKR_KEY=app-kek

# expect_line OUTPUT LINE: OUTPUT must contain LINE as a whole line.
expect_line() { grep -qxF -- "$2" <<<"$1" || fail "expected the line '$2', got: $1"; }
kid_of() { sed -n 's/^sealed under \(.*\)$/\1/p; s/^rewrapped: .* -> \(.*\)$/\1/p' <<<"$1"; }

echo "== every snippet seals before the agent runs: each must wait for GET /readyz itself"
declare -A seal_pid old_kid
for s in "${snippets[@]}"; do
  run "$s" seal "$work/$s.json" "hello from the $s snippet" >"$work/$s.seal.out" 2>&1 &
  seal_pid[$s]=$!
done
sleep 1
"$agent" --config "$work/skr.yaml" 2>"$work/agent.log" &
agent_pid=$!
for s in "${snippets[@]}"; do
  code=0
  wait "${seal_pid[$s]}" || code=$?
  out=$(cat "$work/$s.seal.out")
  echo "$s: $out"
  [[ $code -eq 0 ]] || fail "$s seal: exit $code: $out"
  old_kid[$s]=$(kid_of "$out")
  [[ ${old_kid[$s]} == */keys/app-kek/* ]] || fail "$s seal: no kid of app-kek in: $out"
done

for s in "${snippets[@]}"; do
  echo "== $s: open (unwrap by the stored kid, decrypt)"
  out=$(run "$s" open "$work/$s.json") || fail "$s open: exit $?: $out"
  echo "$out"
  expect_line "$out" "plaintext: hello from the $s snippet"
done

echo "== a new version of app-kek in the Managed HSM; skrctl rotate makes it primary"
emulator_create_key mhsm app-kek '"kty":"oct-HSM","key_size":256' "$hostdata" >/dev/null
"$skrctl" rotate app-kek --socket "$work/run/admin.sock"

for s in "${snippets[@]}"; do
  echo "== $s: rewrap after the rotation, open again"
  out=$(run "$s" rewrap "$work/$s.json") || fail "$s rewrap: exit $?: $out"
  echo "$out"
  new_kid=$(kid_of "$out")
  [[ $new_kid == */keys/app-kek/* ]] || fail "$s rewrap: no new kid in: $out"
  [[ $new_kid != "${old_kid[$s]}" ]] || fail "$s rewrap: the kid did not change (${old_kid[$s]})"
  out=$(run "$s" open "$work/$s.json") || fail "$s open after rewrap: exit $?: $out"
  echo "$out"
  expect_line "$out" "plaintext: hello from the $s snippet"
  grep -qF "$new_kid" "$work/$s.json" ||
    fail "$s rewrap: the stored envelope does not name $new_kid"
done

for s in "${snippets[@]}"; do
  echo "== $s: an unknown key is an error with the HTTP status and the AKV code"
  code=0
  out=$(SKR_KEY=no-such-key run "$s" seal "$work/$s-bad.json" "never stored" 2>&1) || code=$?
  echo "$out"
  [[ $code -ne 0 ]] || fail "$s with an unknown key exited 0"
  [[ $out == *404* && $out == *KeyNotFound* ]] ||
    fail "$s with an unknown key: expected 404 and KeyNotFound in: $out"
  [[ ! -e "$work/$s-bad.json" ]] || fail "$s with an unknown key still wrote an envelope"
done

echo "== a wrong bearer token is 401 Unauthorized, not retried"
code=0
out=$(SKR_AGENT_TOKEN=wrong run "${snippets[0]}" open "$work/${snippets[0]}.json" 2>&1) || code=$?
echo "$out"
[[ $code -ne 0 && $out == *401* && $out == *Unauthorized* ]] ||
  fail "${snippets[0]} with a wrong token: expected a non-zero exit with 401 Unauthorized"

echo "== no agent at all: each snippet gives up after SKR_READY_TIMEOUT with a clear error"
for s in "${snippets[@]}"; do
  code=0
  out=$(SKR_AGENT_SOCKET=$work/run/none.sock SKR_READY_TIMEOUT=1 run "$s" open "$work/$s.json" 2>&1) ||
    code=$?
  echo "$s: $out"
  [[ $code -ne 0 && $out == *"not ready after"* ]] ||
    fail "$s without an agent: expected 'not ready after', exit $code"
done

echo "== an always-busy agent (503 and 429, Retry-After: 2): 5 attempts, Retry-After honoured"
python3 "$src/tests/clients/fake_agent.py" "$work/run/busy.sock" "$work/busy.log" &
fake_pid=$!
for _ in $(seq 1 50); do [[ -S "$work/run/busy.sock" ]] && break; sleep 0.1; done
declare -A busy_pid
for s in "${snippets[@]}"; do
  SKR_AGENT_SOCKET=$work/run/busy.sock SKR_KEY=busy-$s run "$s" seal "$work/$s-busy.json" "never" \
    >"$work/$s.busy.out" 2>&1 &
  busy_pid[$s]=$!
done
for s in "${snippets[@]}"; do
  code=0
  wait "${busy_pid[$s]}" || code=$?
  out=$(cat "$work/$s.busy.out")
  echo "$s: $out"
  [[ $code -ne 0 && $out == *"503 ServerBusy"* && $out != *FakeInner* ]] ||
    fail "$s against a busy agent: expected a non-zero exit naming 503 ServerBusy (exit $code)"
  times=$(awk -v p="/keys/busy-$s/wrapkey" '$2 == p { print $1 }' "$work/busy.log")
  [[ $(wc -l <<<"$times") -eq 5 ]] ||
    fail "$s against a busy agent: $(wc -l <<<"$times") attempts, expected 5"
  span=$(awk 'NR == 1 { first = $1 } { last = $1 } END { printf "%.1f", last - first }' <<<"$times")
  awk -v s="$span" 'BEGIN { exit !(s >= 7.9) }' ||
    fail "$s against a busy agent: 5 attempts within $span s, expected >= 8 s (4 x Retry-After: 2)"
  echo "$s: 5 attempts over $span s"
done
kill "$fake_pid"; wait "$fake_pid" 2>/dev/null || true; fake_pid=

echo "clients_test: ${#snippets[@]} snippets sealed, opened, rewrapped and failed as expected"
