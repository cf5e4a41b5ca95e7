#!/usr/bin/env bash
# Installs what keepfs needs to build, test and benchmark on Debian 12.
# Safe to run again: apt-get skips what is already installed.
set -euo pipefail
PKGS=(build-essential cmake ninja-build ccache pkg-config
      librocksdb-dev libzstd-dev libxxhash-dev libssl-dev libspdlog-dev libfmt-dev
      libcli11-dev libtomlplusplus-dev libgtest-dev libgmock-dev
      libfuse3-dev fuse3 attr acl rsync time zstd python3 samba smbclient
      librados-dev libradospp-dev ceph-mon ceph-osd ceph-common  # packs on RADOS
      e2fsprogs btrfs-progs xfsprogs
      clang libclang-rt-14-dev)  # the fuzz targets (tools/fuzz.sh)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "[deps] installing: ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
