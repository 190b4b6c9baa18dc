# Shared by scripts/images and tests/deploy: run podman on this kind of machine without touching
# its configuration (docs/images.md, "Building on a machine without a registry").
# shellcheck shell=bash

# A private containers.conf through CONTAINERS_CONF:
# - runc as the runtime when it is installed (crun refuses cgroups v1 hybrid hosts);
# - no default ulimits (raising RLIMIT_NOFILE needs CAP_SYS_RESOURCE, which a sandbox may lack).
podman_private_conf() {
  [[ -n "${CONTAINERS_CONF:-}" ]] && return 0
  local conf
  conf=$(mktemp /tmp/skr-containers-XXXXXX.conf)
  {
    echo '[containers]'
    echo 'default_ulimits = []'
    if command -v runc >/dev/null; then
      echo '[engine]'
      echo 'runtime = "runc"'
    fi
  } >"$conf"
  export CONTAINERS_CONF=$conf
}

# podman_ensure_base_image NAME: the Debian 12 base image under NAME. Pulled when a registry is
# reachable; otherwise made from Debian's package archive with mmdebstrap (about a minute) and
# imported under the same name, so the Dockerfile builds unchanged.
podman_ensure_base_image() {
  local name=$1 tar
  podman image exists "$name" && return 0
  if timeout 60 podman pull -q "$name" >/dev/null 2>&1; then return 0; fi
  command -v mmdebstrap >/dev/null || {
    echo "no registry for $name and no mmdebstrap to make it (scripts/setup --deploy installs it)" >&2
    return 1
  }
  echo "making $name with mmdebstrap (no registry reachable)"
  tar=$(mktemp /tmp/skr-base-XXXXXX.tar)
  mmdebstrap --quiet --variant=apt --include=ca-certificates bookworm "$tar"
  podman import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$tar" "$name" >/dev/null
  rm -f "$tar"
}
