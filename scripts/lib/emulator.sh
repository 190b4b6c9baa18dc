# Shared by scripts/demo and scripts/bench: start skr-emulator and prepare it like an Azure
# subscription would be prepared for skr (an identity with roles, keys with a release policy).
# Source it after setting: emulator, skrctl (binary paths), work (a scratch directory).
# shellcheck shell=bash

emu_pid=

# The value of "name":"..." in a one-line JSON answer (the emulator's answers are canonical JSON).
json_field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p"; }

# Starts the emulator with its state in $work/emulator and sources its endpoints.env.
emulator_start() {
  "$emulator" --state "$work/emulator" 2>"$work/emulator.log" &
  emu_pid=$!
  # Up to 60 s: it makes its CA and chip keys first, slow on a loaded machine.
  for _ in $(seq 1 600); do [[ -f "$work/emulator/endpoints.env" ]] && break; sleep 0.1; done
  if [[ ! -f "$work/emulator/endpoints.env" ]]; then
    echo "the emulator did not start:" >&2
    cat "$work/emulator.log" >&2
    return 1
  fi
  # shellcheck disable=SC1091
  . "$work/emulator/endpoints.env"
  admin=$SKR_EMULATOR_ADMIN_URL/_emulator
}

emulator_stop() {
  if [[ -n "$emu_pid" ]]; then
    kill "$emu_pid" 2>/dev/null || true
    wait "$emu_pid" 2>/dev/null || true
    emu_pid=
  fi
}

curl_admin() { curl -sS --fail-with-body -H 'Content-Type: application/json' "$@"; }

# emulator_chip_hostdata HEX: the HOST_DATA the emulated chip's reports carry from now on.
emulator_chip_hostdata() {
  curl_admin -X PUT "$admin/chip" -d "{\"host_data\":\"$1\",\"debug\":false}" >/dev/null
}

# emulator_identity NAME: a user-assigned identity with the officer and release roles on both
# vaults; sets client_id.
emulator_identity() {
  local identity object_id assignment
  identity=$(curl_admin -X POST "$admin/identities" -d "{\"kind\":\"user\",\"name\":\"$1\"}")
  client_id=$(json_field client_id <<<"$identity")
  object_id=$(json_field object_id <<<"$identity")
  for assignment in "Key Vault Crypto Officer|vault" "Managed HSM Crypto Officer|mhsm" \
                    "Managed HSM Crypto Service Release User|mhsm"; do
    curl_admin -X POST "$admin/role-assignments" \
      -d "{\"principal_id\":\"$object_id\",\"role\":\"${assignment%|*}\",\"vault\":\"${assignment#*|}\"}" >/dev/null
  done
}

# emulator_token RESOURCE (url-encoded): an IMDS token for client_id.
emulator_token() {
  curl -sS -H 'Metadata: true' \
    "$SKR_EMULATOR_IMDS_URL/metadata/identity/oauth2/token?api-version=2018-02-01&resource=$1&client_id=$client_id" |
    json_field access_token
}

# emulator_create_key vault|mhsm NAME SPEC HOSTDATA: an exportable key whose release policy
# requires HOSTDATA and the emulated MAA; prints its kid.
emulator_create_key() {
  local url resource policy
  if [[ $1 == mhsm ]]; then
    url=$SKR_EMULATOR_MHSM_URL resource=https%3A%2F%2Fmanagedhsm.azure.net
  else
    url=$SKR_EMULATOR_VAULT_URL resource=https%3A%2F%2Fvault.azure.net
  fi
  policy=$("$skrctl" release-policy --authority "$SKR_EMULATOR_MAA_URL" --hostdata "$4" \
             --no-uvm-compliance --wire)
  curl -sS --fail-with-body --cacert "$SKR_EMULATOR_CA_FILE" \
    -H "Authorization: Bearer $(emulator_token "$resource")" -H 'Content-Type: application/json' \
    -X POST "$url/keys/$2/create?api-version=7.4" \
    -d "{$3,\"attributes\":{\"exportable\":true},\"release_policy\":$policy}" | json_field kid
}
