#!/bin/sh
# Assembles the root file system of one runtime image (run inside the image build, as root):
#   rootfs.sh DIR UID GID USER GROUP BINARY...
# DIR gets each BINARY in /usr/local/bin, every shared library `ldd` names for them (and the
# dynamic loader) at the same path, /etc/passwd and /etc/group naming only USER (UID), GROUP (GID)
# and root, and the CA bundle for HTTPS. Nothing else: no shell, no package manager. Fails when ldd
# reports a library "not found", so an image never ships a binary that cannot start.
set -eu
dir=$1 uid=$2 gid=$3 user=$4 group=$5
shift 5
mkdir -p "$dir/usr/local/bin" "$dir/etc/ssl/certs" "$dir/tmp"
chmod 1777 "$dir/tmp"
for bin in "$@"; do
  install -m 0755 "$bin" "$dir/usr/local/bin/"
  if ldd "$bin" | grep -q 'not found'; then
    echo "rootfs.sh: $bin: missing shared libraries:" >&2
    ldd "$bin" | grep 'not found' >&2
    exit 1
  fi
  # "libx.so => /lib/.../libx.so (0x...)" and the loader "/lib64/ld-linux-x86-64.so.2 (0x...)"
  for lib in $(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
    mkdir -p "$dir$(dirname "$lib")"
    cp -L "$lib" "$dir$lib"
  done
done
# Debian 12 is merged-/usr: /lib and /lib64 are links into /usr; keep the same shape.
for link in lib lib64; do
  if [ -L "/$link" ] && [ -d "$dir/$link" ] && [ ! -L "$dir/$link" ]; then
    mkdir -p "$dir/usr/$link"
    cp -a "$dir/$link/." "$dir/usr/$link/"
    rm -rf "${dir:?}/$link"
    ln -s "usr/$link" "$dir/$link"
  fi
done
cp -L /etc/ssl/certs/ca-certificates.crt "$dir/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\n%s:x:%s:%s:%s:/nonexistent:/sbin/nologin\n' \
  "$user" "$uid" "$gid" "$user" >"$dir/etc/passwd"
printf 'root:x:0:\n%s:x:%s:\n' "$group" "$gid" >"$dir/etc/group"
printf 'hosts: files dns\n' >"$dir/etc/nsswitch.conf"
