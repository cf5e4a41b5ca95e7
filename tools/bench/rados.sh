#!/usr/bin/env bash
# Packs in RADOS against packs on the local disk, side by side in one run on
# the same machine and data (issue 10, docs/scale-out.md): backup MB/s, a
# second (unchanged) backup, and reading everything back through
# `keepfs mount` (cold: a fresh mount, page cache dropped), as ratios.
#
#   tools/bench/rados.sh [--scale S] [--work DIR] [--keepfs PATH] [--store memstore|bluestore]
#                        [--runs N]
#
#   --scale S     make_data.py's scale (default 0.25: alice ~0.5 GB with a 256 MiB file)
#   --work DIR    stores, the throw-away cluster and mount points (default /tmp/keepfs-bench-rados)
#   --keepfs P    keepfs binary (default $KEEPFS, else build-lead/tools/keepfs, else build/tools/keepfs)
#   --store S     the OSD's object store: bluestore (default; a sparse file on the same disk as
#                 the local store, so both write to one disk) or memstore (RAM: the cost of
#                 RADOS itself, without a disk)
#   --runs N      each step N times on fresh stores; medians shown (default 1)
#
# The cluster is one OSD on loopback (tools/ceph/cluster.sh): it measures what keepfs pays per
# pack operation and per round trip, not what a real cluster carries.
set -euo pipefail
export LC_ALL=C
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
scale=0.25 work=/tmp/keepfs-bench-rados runs=1 osd=bluestore
keepfs=${KEEPFS:-}
while [ $# -gt 0 ]; do
  case $1 in
    --scale) scale=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --keepfs) keepfs=$2; shift 2 ;;
    --store) osd=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "rados.sh: unknown argument $1 (--help)" >&2; exit 2 ;;
  esac
done
if [ -z "$keepfs" ]; then
  for k in "$root/build-lead/tools/keepfs" "$root/build/tools/keepfs"; do
    [ -x "$k" ] && keepfs=$k && break
  done
fi
[ -x "$keepfs" ] || { echo "rados.sh: no keepfs binary; build it or pass --keepfs" >&2; exit 2; }

rm -rf "$work"
mkdir -p "$work"
cluster=$work/ceph
cleanup() {
  for m in "$work"/mnt-*; do [ -d "$m" ] && umount -l "$m" 2>/dev/null || true; done
  bash "$root/tools/ceph/cluster.sh" stop "$cluster" --purge >/dev/null 2>&1 || true
}
trap cleanup EXIT
bash "$root/tools/ceph/cluster.sh" start "$cluster" --store "$osd" --block-size 20G >&2
conf=$cluster/ceph.conf

# The same place and data as run.sh and mount.sh; a dataset left there by an
# earlier run (of any of them) is reused.
src=/dev/shm/keepfs-bench-src
[ -d "$src/alice" ] || python3 "$here/make_data.py" --scale "$scale" "$src" >&2
alice=$src/alice
bytes=$(du -sb "$alice" | cut -f1)

now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }
median() { python3 -c "import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }

# One run of one backend: prints "backup_s again_s read_s".
run_once() {
  local kind=$1 n=$2 store=$work/store-$1-$2 mnt=$work/mnt-$1-$2
  if [ "$kind" = local ]; then
    "$keepfs" init --store "$store" -q
  else
    "$keepfs" init --store "$store" -q --packs "rados:keepfs/bench-$n-$$" --ceph-conf "$conf"
  fi
  sync
  local t0 t1 t2 t3
  t0=$(now)
  "$keepfs" backup --store "$store" --user alice -q "$alice" >/dev/null
  t1=$(now)
  "$keepfs" backup --store "$store" --user alice -q "$alice" >/dev/null
  t2=$(now)
  mkdir -p "$mnt"
  sync
  echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
  "$keepfs" mount --store "$store" "$mnt" >/dev/null 2>&1 &
  local pid=$! i
  for i in $(seq 1 200); do [ -d "$mnt/alice/latest" ] && break; sleep 0.05; done
  local dir
  dir=$(readlink -f "$mnt/alice/latest")
  t3=$(now)
  tar -cf - -C "$dir" . | cat >/dev/null
  local t4
  t4=$(now)
  umount "$mnt" 2>/dev/null || umount -l "$mnt"
  wait "$pid" 2>/dev/null || true
  echo "$(secs "$t0" "$t1") $(secs "$t1" "$t2") $(secs "$t3" "$t4")"
}

declare -A col
for kind in local rados; do
  b=() a=() r=()
  for n in $(seq 1 "$runs"); do
    read -r x y z < <(run_once "$kind" "$n")
    b+=("$x"); a+=("$y"); r+=("$z")
    echo "[rados.sh] $kind run $n: backup ${x} s, again ${y} s, read ${z} s" >&2
  done
  col[$kind-b]=$(median "${b[@]}"); col[$kind-a]=$(median "${a[@]}"); col[$kind-r]=$(median "${r[@]}")
done

mbps() { python3 -c "print(f'{$bytes / 1e6 / $1:.0f}')"; }
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
echo
echo "alice: $((bytes / 1000000)) MB; OSD: $osd; runs: $runs (medians); keepfs: $keepfs"
echo
echo "| step | local | rados | rados / local |"
echo "|---|---|---|---|"
echo "| backup, MB/s | $(mbps "${col[local-b]}") | $(mbps "${col[rados-b]}") | $(ratio "$(mbps "${col[rados-b]}")" "$(mbps "${col[local-b]}")") |"
echo "| unchanged backup, s | ${col[local-a]} | ${col[rados-a]} | $(ratio "${col[rados-a]}" "${col[local-a]}") |"
echo "| mount read (tar of all, cold), MB/s | $(mbps "${col[local-r]}") | $(mbps "${col[rados-r]}") | $(ratio "$(mbps "${col[rados-r]}")" "$(mbps "${col[local-r]}")") |"
