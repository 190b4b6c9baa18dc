#!/usr/bin/env bash
# ctest "examples: the client snippets seal, open and rewrap through a live agent": starts
# skr-emulator, releases one oct-HSM 256-bit key (app-kek) with skr-init, serves it with skr-agent
# (a clients rule that also requires a bearer token), then runs every snippet of examples/clients/:
#   seal (wrap a fresh DEK, encrypt a sample text) -> open (unwrap by the stored kid, decrypt),
#   a new key version + `skrctl rotate` -> rewrap (asserts a new kid) -> open again,
#   and one failure each: an unknown key must exit non-zero naming 404 and KeyNotFound.
# A missing toolchain (curl, python3, go, node, java) fails the test: run scripts/setup.
# Usage: tests/clients/clients_test.sh SOURCE_DIR EMULATOR INIT AGENT SKRCTL [SNIPPET...]
#   SNIPPET: curl python go node java (default: all five)
set -euo pipefail
src=$1 emulator=$2 init=$3 agent=$4 skrctl=$5
shift 5
snippets=("$@")
[[ ${#snippets[@]} -gt 0 ]] || snippets=(curl python go node java)
clients=$src/examples/clients

fail() { echo "clients_test: FAIL: $*" >&2; exit 1; }

declare -A tool=([curl]=curl [python]=python3 [go]=go [node]=node [java]=java)
for s in "${snippets[@]}"; do
  [[ -n "${tool[$s]:-}" ]] || fail "unknown snippet '$s' (curl python go node java)"
  command -v "${tool[$s]}" >/dev/null ||
    fail "'${tool[$s]}' is not installed (needed by the $s snippet): run scripts/setup"
done

# Short path: socket paths must fit in sun_path (108 bytes).
work=$(mktemp -d /tmp/skr-clients-XXXXXX)
# shellcheck source=scripts/lib/emulator.sh
. "$src/scripts/lib/emulator.sh"
agent_pid=
cleanup() {
  if [[ -n "$agent_pid" ]]; then kill "$agent_pid" 2>/dev/null || true; wait "$agent_pid" 2>/dev/null || true; fi
  emulator_stop
  rm -rf "$work"
}
trap cleanup EXIT
trap 'echo "--- agent log (tail)"; tail -n 20 "$work/agent.log" 2>/dev/null || true' ERR

# Go and Java write caches; keep them in the work directory, never in the repository or $HOME.
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
  clients: [{name: app, uids: [$(id -u)], operations: ['*'], keys: ['*'], token_sha256: $token_sha256}]
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

# The agent starts not ready; the first snippet runs at once and must wait for /readyz itself.
"$agent" --config "$work/skr.yaml" 2>"$work/agent.log" &
agent_pid=$!
export SKR_AGENT_SOCKET=$work/run/agent.sock SKR_AGENT_TOKEN=$token SKR_KEY=app-kek

# expect_line OUTPUT LINE: OUTPUT must contain LINE as a whole line.
expect_line() { grep -qxF -- "$2" <<<"$1" || fail "expected the line '$2', got: $1"; }
kid_of() { sed -n 's/^sealed under \(.*\)$/\1/p; s/^rewrapped: .* -> \(.*\)$/\1/p' <<<"$1"; }

declare -A old_kid
for s in "${snippets[@]}"; do
  echo "== $s: seal, open"
  text="hello from the $s snippet"
  out=$(run "$s" seal "$work/$s.json" "$text") || fail "$s seal: exit $?: $out"
  echo "$out"
  old_kid[$s]=$(kid_of "$out")
  [[ ${old_kid[$s]} == */keys/app-kek/* ]] || fail "$s seal: no kid of app-kek in: $out"
  out=$(run "$s" open "$work/$s.json") || fail "$s open: exit $?: $out"
  echo "$out"
  expect_line "$out" "plaintext: $text"
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
  grep -qF "$new_kid" "$work/$s.json" || fail "$s rewrap: the stored envelope does not name $new_kid"
done

for s in "${snippets[@]}"; do
  echo "== $s: an unknown key is an error with the HTTP status and the AKV code"
  code=0
  out=$(SKR_KEY=no-such-key run "$s" seal "$work/$s-bad.json" "never stored" 2>&1) || code=$?
  echo "$out"
  [[ $code -ne 0 ]] || fail "$s with an unknown key exited 0"
  grep -q '404' <<<"$out" && grep -q 'KeyNotFound' <<<"$out" ||
    fail "$s with an unknown key: expected 404 and KeyNotFound in: $out"
  [[ ! -e "$work/$s-bad.json" ]] || fail "$s with an unknown key still wrote an envelope"
done

echo "== a wrong bearer token is 401 Unauthorized, not retried"
code=0
out=$(SKR_AGENT_TOKEN=wrong run "${snippets[0]}" open "$work/${snippets[0]}.json" 2>&1) || code=$?
echo "$out"
[[ $code -ne 0 ]] && grep -q '401' <<<"$out" && grep -q 'Unauthorized' <<<"$out" ||
  fail "${snippets[0]} with a wrong token: expected a non-zero exit with 401 Unauthorized"

echo "clients_test: ${#snippets[@]} snippets sealed, opened, rewrapped and failed as expected"
