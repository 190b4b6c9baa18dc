#!/usr/bin/env bash
# Envelope encryption through skr-agent with curl and coreutils only.
#
# Run:  SKR_AGENT_SOCKET=/path/agent.sock [SKR_AGENT_TOKEN=...] [SKR_KEY=app-kek] [SKR_READY_TIMEOUT=30] \
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
  [[ -n "${SKR_AGENT_TOKEN:-}" ]] && printf 'Authorization: Bearer %s\n' "$SKR_AGENT_TOKEN" >>"$tmp/req-head"
  printf '%s' "${3:-}" | curl -sS --max-time 30 --unix-socket "$SKR_AGENT_SOCKET" -o "$tmp/body" \
    -D "$tmp/head" -w '%{http_code}' -H "@$tmp/req-head" -X "$1" "http://skr$2" \
    ${3:+--data-binary @-} 2>"$tmp/err" || true
}
# field NAME: the first string member NAME of the JSON on stdin (the outer error code comes first).
field() {
  awk -v k="$1" '{ if (match($0, "\"" k "\"[ \t]*:[ \t]*\"[^\"]*\"")) {
    s = substr($0, RSTART, RLENGTH); sub(/^[^:]*:[ \t]*"/, "", s); print substr(s, 1, length(s) - 1); exit } }'
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
    sleep "$(( ${wait:-$attempt} < 10 ? ${wait:-$attempt} : 10 ))"
  done
  echo "skr-agent: HTTP $status $(field code <"$tmp/body"): $(field message <"$tmp/body")$(cat "$tmp/err")" >&2
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
  echo "skr-agent at $SKR_AGENT_SOCKET not ready after ${SKR_READY_TIMEOUT:-30} s: HTTP $status $(cat "$tmp/body" "$tmp/err" 2>/dev/null)" >&2
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
    wrapped=$(call POST "/keys/$key/wrapkey" "{\"alg\":\"$alg\",\"value\":\"$dek\"}")
    unset dek
    data=$(call POST "/keys/$key/encrypt" "{\"alg\":\"A256GCM\",\"value\":\"$(printf '%s' "$3" | b64url)\"}")
    kid=$(field kid <<<"$wrapped")
    printf '{"kid":"%s","alg":"%s","wrapped_dek":"%s","data_kid":"%s","iv":"%s","tag":"%s","ciphertext":"%s"}\n' \
      "$kid" "$alg" "$(field value <<<"$wrapped")" "$(field kid <<<"$data")" "$(field iv <<<"$data")" \
      "$(field tag <<<"$data")" "$(field value <<<"$data")" >"$file"
    echo "sealed under $kid"
elif [[ $cmd == open ]]; then  # at start-up: the stored kid names the version that wrapped the DEK
    env=$(cat "$file")
    dek=$(call POST "/keys/$key/$(version "$(field kid <<<"$env")")/unwrapkey" \
      "{\"alg\":\"$(field alg <<<"$env")\",\"value\":\"$(field wrapped_dek <<<"$env")\"}" | field value)
    [[ ${#dek} -eq 43 ]] || { echo "unwrapped DEK is not 32 bytes" >&2; exit 1; }
    plain=$(call POST "/keys/$key/$(version "$(field data_kid <<<"$env")")/decrypt" \
      "{\"alg\":\"A256GCM\",\"value\":\"$(field ciphertext <<<"$env")\",\"iv\":\"$(field iv <<<"$env")\",\"tag\":\"$(field tag <<<"$env")\"}" |
      field value | tr '_-' '/+')
    while (( ${#plain} % 4 )); do plain+="="; done
    echo "plaintext: $(base64 -d <<<"$plain")"
else
    env=$(cat "$file")
    old=$(field kid <<<"$env")
    moved=$(call POST "/keys/$key/rewrap" \
      "{\"kid\":\"$old\",\"alg\":\"$(field alg <<<"$env")\",\"value\":\"$(field wrapped_dek <<<"$env")\"}")
    new=$(field kid <<<"$moved") value=$(field value <<<"$moved")
    sed "s|\"kid\":\"$old\"|\"kid\":\"$new\"|; s|\"wrapped_dek\":\"[^\"]*\"|\"wrapped_dek\":\"$value\"|" \
      <<<"$env" >"$file"
    echo "rewrapped: $old -> $new"
fi
