#!/usr/bin/env bash
# Mount start with many snapshots: creates a store holding N snapshots of one user (a small tree
# backed up N times with --time), then measures, each as wall seconds:
#   - keepfs mount until /MOUNT/alice is listable (the mount returns only once it serves)
#   - ls of /MOUNT/alice (N snapshot folders + latest)
#   - the first listing inside latest, and inside the oldest snapshot
# and the mount process's RSS. The issue's target: ready in under a second with 1,000 snapshots.
#
#   tools/bench/mount_start.sh [--snapshots N] [--work DIR] [--keepfs PATH]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
n=1000
work=/tmp/keepfs-mount-start
keepfs=${KEEPFS:-$here/../../build/tools/keepfs}
while [ $# -gt 0 ]; do
  case $1 in
    --snapshots) n=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --keepfs) keepfs=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
[ -x "$keepfs" ] || { echo "no keepfs binary at $keepfs (build it, or pass --keepfs)" >&2; exit 2; }
now() { date +%s.%N; }
cleanup() { mountpoint -q "$work/mnt" 2>/dev/null && "$keepfs" umount --lazy "$work/mnt" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
rm -rf "$work"; mkdir -p "$work/src/docs" "$work/mnt"
for i in $(seq 1 50); do echo "file $i" > "$work/src/docs/f$i.txt"; done
export KEEPFS_STORE="$work/store"
"$keepfs" init -q
echo "[mount_start] creating $n snapshots..." >&2
base=$(date -d 2024-01-01T03:00:00Z +%s)
for i in $(seq 0 $((n - 1))); do
  echo "$i" > "$work/src/counter"
  "$keepfs" -q backup --user alice --time "$(date -u -d @$((base + i * 86400)) +%Y-%m-%dT%H:%M:%SZ)" \
    "$work/src" >/dev/null
done
sync
t0=$(now)
"$keepfs" -q mount "$work/mnt"
ls "$work/mnt/alice" >/dev/null
t1=$(now)
count=$(ls "$work/mnt/alice" | wc -l)
t2=$(now)
ls "$work/mnt/alice/latest/docs" >/dev/null
t3=$(now)
oldest=$(ls "$work/mnt/alice" | grep -v latest | sed -n 1p)
ls "$work/mnt/alice/$oldest/docs" >/dev/null
t4=$(now)
pid=$(pgrep -f "keepfs -q mount $work/mnt" | sed -n 1p)
rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
"$keepfs" umount "$work/mnt" >/dev/null 2>&1
printf '| snapshots | mount until listable, s | ls of the user folder (%s entries), s | first ls in latest, s | first ls in the oldest, s | mount RSS, MiB |\n' "$count"
printf '|---|---|---|---|---|---|\n'
awk -v n="$n" -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v e="$t4" -v r="$rss" \
  'BEGIN { printf "| %d | %.3f | %.3f | %.3f | %.3f | %.1f |\n", n, b-a, c-b, d-c, e-d, r/1024 }'
