#!/usr/bin/env bash
# The built images (scripts/images) as a user gets them:
#   tests/deploy/image_test.sh [--tag TAG]
# (images/Dockerfile, whose runtime file systems images/rootfs.sh assembles.)
# Checks: each image exists and runs its program as the documented non-root uid:gid; the
# FROM-scratch images have no shell and start only their binary; every shared library resolves
# inside the image (the program starts and prints its version); skr-agent stays under 60 MB.
set -euo pipefail
cd "$(dirname "$0")/../.."
tag=$(sed -n 's/^project(skr VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
[[ "${1:-}" == --tag ]] && tag=$2
# shellcheck source=scripts/lib/podman.sh
. scripts/lib/podman.sh
podman_private_conf

passed=0 failed=0
check() { local what=$1; shift; if "$@"; then echo "ok   $what"; passed=$((passed + 1)); else echo "FAIL $what"; failed=$((failed + 1)); fi; }
podman_run() { podman run --rm --ulimit host --network none "$@"; }
export -f podman_run

declare -A user=([skr-init]=10001:10001 [skr-agent]=10001:10002 [skr-emulator]=10900:10900 [skr-sample-app]=10100:10002)
declare -A program=([skr-init]=skr-init [skr-agent]=skr-agent [skr-emulator]=skr-emulator)
for image in skr-init skr-agent skr-emulator skr-sample-app; do
  ref=localhost/$image:$tag
  if ! podman image exists "$ref"; then check "$ref exists (run scripts/images)" false; continue; fi
  check "$image: USER ${user[$image]}" test "$(podman image inspect -f '{{.Config.User}}' "$ref")" = "${user[$image]}"
  if [[ $image == skr-sample-app ]]; then
    check "$image: runs as uid:gid ${user[$image]}" test "$(podman_run --entrypoint python3 "$ref" \
      -c 'import os; print(f"{os.getuid()}:{os.getgid()}")')" = "${user[$image]}"
  fi
  if [[ -n "${program[$image]:-}" ]]; then
    check "$image: /usr/local/bin/${program[$image]} --version runs (every library resolves)" \
      bash -c "podman_run '$ref' --version | grep -q '^${program[$image]} $tag'"
    check "$image: no shell in the image" \
      bash -c "! podman_run --entrypoint /bin/sh '$ref' -c true >/dev/null 2>&1"
    check "$image: the file system is the program, its libraries, passwd/group, CA bundle" \
      bash -c "[[ \$(podman image inspect -f '{{len .RootFS.Layers}}' '$ref') -eq 1 ]]"
  fi
done
bytes=$(podman image inspect -f '{{.Size}}' "localhost/skr-agent:$tag" 2>/dev/null || echo 999999999)
check "skr-agent image is under 60 MB ($(awk -v b="$bytes" 'BEGIN {printf "%.1f MB", b / 1e6}'))" test "$bytes" -lt 60000000
check "skrctl in the agent image runs" \
  bash -c "podman_run --entrypoint /usr/local/bin/skrctl 'localhost/skr-agent:$tag' --version | grep -q '^skrctl $tag'"
echo "images: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
