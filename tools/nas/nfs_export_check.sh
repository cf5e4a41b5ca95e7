#!/usr/bin/env bash
# NFS export end to end, with a real NFS server (docs/nas.md, "NFS export").
#
# NFS-Ganesha's FSAL_VFS serves a local filesystem by kernel file handle
# (name_to_handle_at / open_by_handle_at: the kernel's exportfs path, the one
# knfsd uses). It exports a keepfs mount; a libnfs client (nfs_hold.c) opens
# files over NFSv3 and keeps its NFS file handles while ganesha and keepfs are
# both stopped and started again (a server restart), then reads the same
# handles again and looks the paths up again: same file ids, same bytes.
#
# For where knfsd cannot run (this check was written on a kernel without
# NFSD). Needs root, gcc, rpcbind, nfs-ganesha, nfs-ganesha-vfs and
# libnfs-dev (apt-get install), and ports 111 and 2049 free.
#   bash tools/nas/nfs_export_check.sh [KEEPFS_BINARY]   (default build/tools/keepfs)
# Exit 0 when every handle reads the same after the restart.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
K="$(realpath "${1:-$here/../../build/tools/keepfs}")"
[ "$(id -u)" -eq 0 ] || { echo "needs root" >&2; exit 2; }
for t in gcc ganesha.nfsd rpcbind; do
  command -v "$t" >/dev/null || { echo "needs $t (apt-get install gcc nfs-ganesha nfs-ganesha-vfs rpcbind libnfs-dev)" >&2; exit 2; }
done
[ -e /usr/include/nfsc/libnfs.h ] || { echo "needs libnfs-dev" >&2; exit 2; }

W="$(mktemp -d /tmp/keepfs-nfs-check.XXXXXX)"
GANESHA=""; RPCBIND=""; HOLDER=""
cleanup() {
  set +e
  [ -n "$HOLDER" ] && kill "$HOLDER" 2>/dev/null
  [ -n "$GANESHA" ] && kill "$GANESHA" 2>/dev/null && sleep 1
  mountpoint -q "$W/mnt" && "$K" umount "$W/mnt" >/dev/null
  [ -n "$RPCBIND" ] && kill "$RPCBIND" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT

gcc -O2 -o "$W/nfs_hold" "$here/nfs_hold.c" -lnfs

# A store with two snapshots: a 20 MB file, a hard link, a changed file.
mkdir -p "$W/src/docs/deep" "$W/mnt"
head -c 20000000 /dev/urandom > "$W/src/docs/deep/big.bin"
echo "a small file" > "$W/src/docs/small.txt"
ln "$W/src/docs/small.txt" "$W/src/hard.txt"
"$K" init --store "$W/store" -q
"$K" backup --store "$W/store" --user alice --time 2026-10-01T03:00:00Z -q "$W/src" >/dev/null
echo "changed" >> "$W/src/docs/small.txt"
"$K" backup --store "$W/store" --user alice --time 2026-10-02T03:00:00Z -q "$W/src" >/dev/null
"$K" mount --store "$W/store" "$W/mnt" >/dev/null

cat > "$W/ganesha.conf" <<CONF
NFS_CORE_PARAM { Protocols = 3; Enable_NLM = false; Enable_RQUOTA = false; }
EXPORT {
  Export_Id = 17; Path = $W/mnt; Pseudo = /keepfs;
  Access_Type = RO; Squash = No_Root_Squash; Protocols = 3; Transports = TCP; SecType = sys;
  Filesystem_id = 17.17;
  FSAL { Name = VFS; }
}
LOG { Default_Log_Level = EVENT; }
CONF
start_ganesha() {
  ganesha.nfsd -F -f "$W/ganesha.conf" -L "$W/ganesha.log" -p "$W/ganesha.pid" &
  GANESHA=$!
  sleep 4
}
if ! rpcinfo -p >/dev/null 2>&1; then rpcbind -f -w & RPCBIND=$!; sleep 1; fi
start_ganesha

mkfifo "$W/go"
sleep 100000 > "$W/go" & HOLDER=$!
S1=/alice/2026-10-01_030000 S2=/alice/2026-10-02_030000
"$W/nfs_hold" 127.0.0.1 "$W/mnt" 3 "$S1/docs/deep/big.bin" "$S1/docs/small.txt" "$S2/docs/small.txt" \
  "$S2/hard.txt" < "$W/go" > "$W/client.out" 2>&1 &
CLIENT=$!
for _ in $(seq 1 100); do grep -q ready "$W/client.out" && break; sleep 0.1; done
echo "restart: ganesha stop, keepfs umount, keepfs mount, ganesha start"
kill "$GANESHA"; wait "$GANESHA" 2>/dev/null || true; GANESHA=""
"$K" umount "$W/mnt" >/dev/null
"$K" mount --store "$W/store" "$W/mnt" >/dev/null
start_ganesha
echo > "$W/go"
rc=0; wait "$CLIENT" || rc=$?
cat "$W/client.out"
[ "$rc" -eq 0 ] && echo "PASS: every NFS handle reads the same after the restart" || echo "FAIL"
exit "$rc"
