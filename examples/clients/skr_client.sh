#!/usr/bin/env bash
# Envelope encryption through skr-agent with curl and coreutils only.
#
# Run:  SKR_AGENT_SOCKET=/path/agent.sock [SKR_AGENT_TOKEN=...] [SKR_KEY=app-kek] \
#         [SKR_READY_TIMEOUT=30] \
#         bash skr_client.sh seal FILE TEXT | open FILE | rewrap FILE
# seal: a fresh 32-byte DEK wrapped under the key (A256KW); FILE keeps the wrapped DEK with its kid.
# open: unwraps the DEK by the stored kid (versioned path) and prints the plaintext.
# rewrap: after a rotation, moves the wrapped DEK to the primary version and stores the new kid.
# A shell has no AES-GCM (`openssl enc` refuses AEAD ciphers and would put the key on a command
# line): the text is sealed by the agent's own A256GCM route (an oct key), its kid stored the same
# way. Use a language with AES-GCM (the Go, Node.js, Java snippets) to encrypt with the DEK itself.
set -euo pipefail
: "${SKR_AGENT_SOCKET:?set SKR_AGENT_SOCKET to the path of the agent client socket}"
key=${SKR_KEY:-app-kek}
alg=A256KW  # RSA-OAEP-256 for an RSA key
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# send METHOD PATH [BODY]: one request; the answer lands in $tmp/body, headers in $tmp/head;
# prints the HTTP status (000 when the socket does not answer). BODY (it may hold the DEK) and
# the token go through stdin and a header file, never curl's command line (visible in /proc).
send() {
  printf 'X-SKR-Request: 1\nContent-Type: application/json\n' >"$tmp/req-head"
  [[ -z "${SKR_AGENT_TOKEN:-}" ]] ||
    printf 'Authorization: Bearer %s\n' "$SKR_AGENT_TOKEN" >>"$tmp/req-head"
  printf '%s' "${3:-}" | curl -sS --max-time 30 --unix-socket "$SKR_AGENT_SOCKET" -o "$tmp/body" \
    -D "$tmp/head" -w '%{http_code}' -H "@$tmp/req-head" -X "$1" "http://skr$2" \
    ${3:+--data-binary @-} 2>"$tmp/err" || true
}
# field NAME: the first string member NAME of the JSON on stdin (the outer error code comes first).
field() {
  awk -v k="$1" '{ if (match($0, "\"" k "\"[ \t]*:[ \t]*\"[^\"]*\"")) {
    s = substr($0, RSTART, RLENGTH); sub(/^[^:]*:[ \t]*"/, "", s)
    print substr(s, 1, length(s) - 1); exit } }'
}
# obj NAME VALUE ...: a flat JSON object of strings (every value here is base64url or a kid).
obj() {
  local out=
  while (($#)); do out+=${out:+,}"\"$1\":\"$2\""; shift 2; done
  echo "{$out}"
}

# call METHOD PATH [BODY]: prints the answer; 429/503 are retried after Retry-After (5 attempts),
# any other error exits 1 naming the HTTP status and the AKV error code.
call() {
  local attempt status wait
  for attempt in 1 2 3 4 5; do
    status=$(send "$@")
    [[ $status == 2?? ]] && { cat "$tmp/body"; return; }
    [[ ($status == 429 || $status == 503) && $attempt -lt 5 ]] || break
    wait=$(sed -n 's/^retry-after: *\([0-9]*\).*/\1/ip' "$tmp/head")
    sleep "$(awk -v w="$wait" -v a="$attempt" \
      'BEGIN { if (w == "") w = 0.2 * 2 ^ a; print (w > 10 ? 10 : w) }')"
  done
  echo "skr-agent: HTTP $status $(field code <"$tmp/body"):" \
    "$(field message <"$tmp/body")$(cat "$tmp/err")" >&2
  exit 1
}

# wait_ready: GET /readyz with exponential backoff (0.1 s doubling, at most 2 s) for at most
# SKR_READY_TIMEOUT seconds (30).
wait_ready() {
  local delay=0.1 end=$((SECONDS + ${SKR_READY_TIMEOUT:-30})) status
  while ((SECONDS < end)); do
    status=$(send GET /readyz)
    [[ $status == 200 ]] && return
    sleep "$delay"
    delay=$(awk "BEGIN { d = $delay * 2; print (d > 2 ? 2 : d) }")
  done
  echo "skr-agent at $SKR_AGENT_SOCKET not ready after ${SKR_READY_TIMEOUT:-30} s:" \
    "HTTP $status $(cat "$tmp/body" "$tmp/err" 2>/dev/null)" >&2
  exit 1
}

b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
version() { echo "${1##*/}"; }

cmd=${1:-} file=${2:-}
[[ ($cmd == seal && $# -eq 3) || ($cmd =~ ^(open|rewrap)$ && $# -eq 2) ]] ||
  { echo "usage: $0 seal FILE TEXT | open FILE | rewrap FILE" >&2; exit 2; }
wait_ready
if [[ $cmd == seal ]]; then
  dek=$(head -c 32 /dev/urandom | b64url)
  wrapped=$(call POST "/keys/$key/wrapkey" "$(obj alg "$alg" value "$dek")")
  unset dek
  data=$(call POST "/keys/$key/encrypt" "$(obj alg A256GCM value "$(printf '%s' "$3" | b64url)")")
  kid=$(field kid <<<"$wrapped")
  obj kid "$kid" alg "$alg" wrapped_dek "$(field value <<<"$wrapped")" \
    data_kid "$(field kid <<<"$data")" iv "$(field iv <<<"$data")" tag "$(field tag <<<"$data")" \
    ciphertext "$(field value <<<"$data")" >"$file"
  echo "sealed under $kid"
  exit
fi
env=$(cat "$file")
kid=$(field kid <<<"$env") alg=$(field alg <<<"$env") wrapped_dek=$(field wrapped_dek <<<"$env")
data_kid=$(field data_kid <<<"$env") iv=$(field iv <<<"$env") tag=$(field tag <<<"$env")
ciphertext=$(field ciphertext <<<"$env")
if [[ $cmd == open ]]; then  # at start-up: the stored kid names the version that wrapped the DEK
  dek=$(call POST "/keys/$key/$(version "$kid")/unwrapkey" \
    "$(obj alg "$alg" value "$wrapped_dek")" | field value)
  [[ ${#dek} -eq 43 ]] || { echo "unwrapped DEK is not 32 bytes" >&2; exit 1; }
  plain=$(call POST "/keys/$key/$(version "$data_kid")/decrypt" \
    "$(obj alg A256GCM value "$ciphertext" iv "$iv" tag "$tag")" |
    field value | tr '_-' '/+')
  while ((${#plain} % 4)); do plain+="="; done
  echo "plaintext: $(base64 -d <<<"$plain")"
else
  moved=$(call POST "/keys/$key/rewrap" \
    "$(obj kid "$kid" alg "$alg" value "$wrapped_dek")")
  new=$(field kid <<<"$moved")
  obj kid "$new" alg "$alg" wrapped_dek "$(field value <<<"$moved")" \
    data_kid "$data_kid" iv "$iv" tag "$tag" \
    ciphertext "$ciphertext" >"$file"
  echo "rewrapped: $kid -> $new"
fi
