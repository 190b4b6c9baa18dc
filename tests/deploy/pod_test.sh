#!/usr/bin/env bash
# The shipped Kubernetes pod (manifests/kubernetes/skr-pod.yaml), run for real under
# `podman kube play` against skr-emulator, with the images scripts/images built:
#   tests/deploy/pod_test.sh [--build DIR] [--tag TAG] [--keep]
# The pod is derived from the manifest by tests/deploy/podman_variant.py (what it changes, and
# why, is in its header and in docs/deploy-kubernetes.md). Checks, each printed as ok/FAIL:
#   skr-init attests and defers; skr-agent completes the release (reusing init's MAA token) and
#   becomes ready; the sample app unwraps a DEK and decrypts a sample; the app container has no
#   skr-keys volume and its socket mount is read-only; a uid outside the clients: rules gets 403;
#   a restarted agent serves from its sealed bundle with no new attestation or release.
# Needs root (podman, setpriv), podman, runc, the images (scripts/images --prebuilt DIR), python3-yaml.
set -euo pipefail
cd "$(dirname "$0")/../.."

build=build/release
tag=$(sed -n 's/^project(skr VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
keep=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build=$2; shift ;;
    --tag) tag=$2; shift ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "pod_test: unknown option '$1'" >&2; exit 2 ;;
  esac
  shift
done

skrctl=$PWD/$build/ctl/skrctl
emulator_bin=$PWD/$build/emulator/skr-emulator
manifest=manifests/kubernetes/skr-pod.yaml
pod=$(python3 -c 'import sys, yaml; print([d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"] == "Pod"][0]["metadata"]["name"])' "$manifest")
agent_ctr=$pod-skr-agent
app_ctr=$pod-app

# shellcheck source=scripts/lib/podman.sh
. scripts/lib/podman.sh
podman_private_conf
for image in skr-init skr-agent skr-sample-app; do
  podman image exists "localhost/$image:$tag" ||
    { echo "pod_test: image localhost/$image:$tag is missing: run scripts/images first" >&2; exit 1; }
done

# The emulator runs as the skr uid (10001, from the manifest), so the containers can read the
# chip and CA files of its state directory through the hostPath mount.
skr_uid=$(python3 -c 'import sys, yaml
pod = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"] == "Pod"][0]
print([c for c in pod["spec"]["initContainers"] if c["name"] == "skr-agent"][0]["securityContext"]["runAsUser"])' "$manifest")
work=$(mktemp -d /tmp/skr-pod-XXXXXX)
chmod 0755 "$work"
cat >"$work/run-emulator" <<EOF
#!/bin/sh
exec setpriv --reuid $skr_uid --regid $skr_uid --clear-groups "$emulator_bin" "\$@"
EOF
chmod 0755 "$work/run-emulator"
emulator=$work/run-emulator
install -d -m 0700 -o "$skr_uid" -g "$skr_uid" "$work/emulator"
# shellcheck source=scripts/lib/emulator.sh
. scripts/lib/emulator.sh

passed=0 failed=0
ok() { echo "ok   $*"; passed=$((passed + 1)); }
bad() { echo "FAIL $*"; failed=$((failed + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

cleanup() {
  for c in "$agent_ctr" "$app_ctr"; do podman logs "$c" >"$work/$c.log" 2>&1 || true; done
  if [[ $failed -ne 0 ]]; then
    for c in "$agent_ctr" "$app_ctr"; do
      echo "--- podman logs $c (last 20 lines)"; tail -n 20 "$work/$c.log"
    done
  fi
  podman pod rm -f "$pod" >/dev/null 2>&1 || true
  [[ -n "${volumes:-}" ]] && remove_volumes
  emulator_stop
  if [[ $keep -eq 1 ]]; then echo "pod_test: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# Counts the emulator's requests whose path matches REGEX.
requests() { curl -sS "$admin/requests" | grep -o '"path":"[^"]*"' | cut -d'"' -f4 | grep -cE "$1" || true; }

emulator_start
echo "pod_test: emulator up ($SKR_EMULATOR_MAA_URL), state $work/emulator"

# The group's CCE policy, its HOST_DATA on the emulated chip, and the key's release policy.
printf 'package policy\n\napi_version := "0.10.0"\nframework_version := "0.2.3"\n# skr pod test\n' |
  base64 -w0 >"$work/cce-policy.b64"
hostdata=$("$skrctl" hostdata --policy "$work/cce-policy.b64")
emulator_chip_hostdata "$hostdata"
emulator_identity skr-pod
key_name=$(python3 -c 'import sys, yaml
docs = list(yaml.safe_load_all(open(sys.argv[1])))
cfg = yaml.safe_load([d for d in docs if d["kind"] == "ConfigMap"][0]["data"]["skr.yaml"])
print(cfg["keys"][0]["name"])' "$manifest")
kid=$(emulator_create_key vault "$key_name" '"kty":"RSA-HSM","key_size":3072' "$hostdata")
echo "pod_test: key $kid, release policy requires hostdata $hostdata"

python3 tests/deploy/podman_variant.py "$manifest" --endpoints "$work/emulator/endpoints.env" \
  --emulator-dir "$work/emulator" --client-id "$client_id" --tag "$tag" >"$work/pod.yaml"

# podman 4.3 turns an emptyDir into a named volume on disk, owned by the uid of the first container
# that mounts it, and keeps it after the pod is gone. Kubernetes makes a Memory emptyDir a fresh
# tmpfs with mode 0777 that lives as long as the pod: make the pod's emptyDir volumes that way
# (a tmpfs mounted on the volume's directory for the whole test), and remove them afterwards.
volumes=$(python3 -c 'import sys, yaml
pod = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"] == "Pod"][0]
print(" ".join(v["name"] for v in pod["spec"]["volumes"] if "emptyDir" in v))' "$work/pod.yaml")
remove_volumes() {
  local v mp
  for v in $volumes; do
    mp=$(podman volume inspect -f '{{.Mountpoint}}' "$v" 2>/dev/null) || continue
    while mountpoint -q "$mp"; do umount "$mp" || break; done
    podman volume rm -f "$v" >/dev/null 2>&1 || true
  done
}
podman pod rm -f "$pod" >/dev/null 2>&1 || true   # a pod left over from an interrupted run
remove_volumes
for v in $volumes; do
  podman volume create "$v" >/dev/null
  mount -t tmpfs -o mode=0777,size=4m "skr-test-$v" "$(podman volume inspect -f '{{.Mountpoint}}' "$v")"
done

start=$(date +%s.%N)
podman kube play "$work/pod.yaml" >"$work/play.log" 2>&1 || { cat "$work/play.log"; bad "podman kube play"; exit 1; }
ok "podman kube play $manifest (derived variant)"

# The app logs one line when it decrypted its sample (it waits for the agent itself).
for _ in $(seq 1 240); do
  podman logs "$app_ctr" 2>/dev/null | grep -q '"event": "sample_decrypted"' && break
  [[ "$(podman inspect -f '{{.State.Status}}' "$app_ctr" 2>/dev/null)" == exited ]] && break
  sleep 0.5
done
elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}')
check "the sample app unwrapped its DEK through the agent and decrypted the sample (${elapsed} s after play)" \
  bash -c "podman logs '$app_ctr' 2>/dev/null | grep -q '\"event\": \"sample_decrypted\"'"

check "skr-agent is ready (skrctl health --ready inside the agent container, as the startupProbe runs it)" \
  podman exec "$agent_ctr" /usr/local/bin/skrctl health --ready
attests=$(requests '^/attest/') releases=$(requests '/release$')
check "skr-init attested once ($attests MAA attest requests)" test "$attests" -eq 1
check "skr-init deferred and skr-agent completed the release with init's MAA token" \
  bash -c "podman logs '$agent_ctr' 2>&1 | grep -q '\"pending_token_reused\"'"
check "exactly one Key Vault release ($releases)" test "$releases" -eq 1

mounts=$(podman inspect -f '{{range .Mounts}}{{.Destination}}:{{.RW}} {{end}}' "$app_ctr")
check "the app container has no skr-keys mount (mounts: $mounts)" \
  bash -c "[[ '$mounts' != */run/skr/keys* ]] && ! podman exec '$app_ctr' ls /run/skr/keys >/dev/null 2>&1"
check "the app's socket volume is read-only" \
  bash -c "! podman exec '$app_ctr' touch /run/skr/sock/agent/planted 2>/dev/null"

set +e
out=$(podman exec --user 10200:10002 "$app_ctr" python3 /app/skr_sample_app.py keys 2>&1)
code=$?
set -e
check "uid 10200 (no clients: rule) gets 403 and exit code 3" \
  bash -c "[[ $code -eq 3 && '$out' == *'\"status\": 403'* ]]"

attest_before=$(requests '^/attest/') release_before=$(requests '/release$')
podman restart "$agent_ctr" >/dev/null
ready=0
for _ in $(seq 1 100); do
  podman exec "$agent_ctr" /usr/local/bin/skrctl health --ready >/dev/null 2>&1 && { ready=1; break; }
  sleep 0.2
done
check "the restarted agent is ready again" test $ready -eq 1
check "the app decrypts a new sample after the agent restart" \
  podman exec "$app_ctr" python3 /app/skr_sample_app.py demo
check "the restart served the sealed bundle: no new attestation, no new release" \
  test "$(requests '^/attest/')" -eq "$attest_before" -a "$(requests '/release$')" -eq "$release_before"
check "the restarted agent loaded its bundle (bundles_loaded in its log)" \
  bash -c "podman logs '$agent_ctr' 2>&1 | grep -q '\"bundles_loaded\"'"

echo "pod test: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
