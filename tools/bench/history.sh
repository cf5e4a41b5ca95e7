#!/usr/bin/env bash
# History listing on a big store: how long `keepfs versions --user U PATH` takes over 1,000
# snapshots, for a file that changed in 100 of them (docs/report.txt), one that never changed
# (docs/readme.txt) and one three folders down (t05/f003/data.log), each run a fresh process; "cold" runs drop the page cache first (root only;
# otherwise they are marked warm). When the mount serves /MOUNT/USER/.versions/, also
# `ls -l /MOUNT/U/.versions/docs/report.txt/` on a fresh mount (cold) and again (warm), and
# `keepfs versions` sent to the mount process. Medians of --runs runs.
#
# The store is made by keepfs_make_history (1,000 snapshots of 1,000,000 files, a few minutes)
# unless --store names one it made before.
#
#   tools/bench/history.sh --keepfs BIN [--make-history BIN] [--work DIR] [--store DIR]
#                          [--user alice] [--runs 5] [--no-drop-caches] [--keep-store]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
keepfs=${KEEPFS:-$here/../../build/tools/keepfs}
make_history=""
work=/tmp/keepfs-history
store=""
user=alice
runs=5
drop=1
keep_store=0
while [ $# -gt 0 ]; do
  case $1 in
    --keepfs) keepfs=$2; shift 2 ;;
    --make-history) make_history=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --store) store=$2; shift 2 ;;
    --user) user=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --no-drop-caches) drop=0; shift ;;
    --keep-store) keep_store=1; shift ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
say() { echo "[history] $*" >&2; }
now() { date +%s.%N; }
mkdir -p "$work"
mnt=$work/mnt
source "$here/big_store.sh"
ensure_big_store
cleanup() {
  mountpoint -q "$mnt" 2>/dev/null && "$keepfs" umount --lazy "$mnt" >/dev/null 2>&1 || true
  if [ $made_store = 1 ] && [ $keep_store = 0 ]; then rm -rf "$store"; fi
}
trap cleanup EXIT
can_drop=0
if [ $drop = 1 ] && [ "$(id -u)" = 0 ] && [ -w /proc/sys/vm/drop_caches ]; then can_drop=1; fi
[ $can_drop = 1 ] || say "page cache not dropped: 'cold' runs are fresh processes on a warm page cache"
drop_caches() { [ $can_drop = 1 ] || return 0; sync; echo 3 >/proc/sys/vm/drop_caches; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) printf "%.3f", a[(NR+1)/2]; else printf "%.3f", (a[NR/2]+a[NR/2+1])/2}'; }
timed() {  # timed CMD...: wall seconds of one run (output discarded)
  local t0 t1
  t0=$(now); "$@" >/dev/null; t1=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.4f\n", b-a}'
}

rows=()
versions_of() { "$keepfs" versions --store "$store" --user "$user" "$1" | wc -l; }
for path in docs/report.txt docs/readme.txt t05/f003/data.log; do
  n=$(versions_of "$path")
  cold=(); warm=()
  for i in $(seq 1 "$runs"); do
    drop_caches
    cold+=("$(timed "$keepfs" versions --store "$store" --user "$user" "$path")")
  done
  for i in $(seq 1 "$runs"); do
    warm+=("$(timed "$keepfs" versions --store "$store" --user "$user" "$path")")
  done
  c=$(printf '%s\n' "${cold[@]}" | median); w=$(printf '%s\n' "${warm[@]}" | median)
  say "keepfs versions $path: $n versions; cold ${cold[*]}; warm ${warm[*]}"
  rows+=("| \`keepfs versions --user $user $path\` | $n | $c | $w |")
done

# Through the mount: .versions when it exists, and the command run by the mount process.
mkdir -p "$mnt"
mount_fresh() {
  mountpoint -q "$mnt" && "$keepfs" umount "$mnt" >/dev/null 2>&1
  drop_caches
  "$keepfs" -q mount --store "$store" "$mnt"
}
mount_fresh
if [ -d "$mnt/$user/.versions" ]; then
  cold=(); warm=()
  for i in $(seq 1 "$runs"); do
    mount_fresh
    cold+=("$(timed ls -l "$mnt/$user/.versions/docs/report.txt/")")
    warm+=("$(timed ls -l "$mnt/$user/.versions/docs/report.txt/")")
  done
  n=$(ls "$mnt/$user/.versions/docs/report.txt/" | wc -l)
  c=$(printf '%s\n' "${cold[@]}" | median); w=$(printf '%s\n' "${warm[@]}" | median)
  say "ls -l .versions/docs/report.txt/: $n entries; cold ${cold[*]}; warm ${warm[*]}"
  rows+=("| \`ls -l /MOUNT/$user/.versions/docs/report.txt/\` (fresh mount / again) | $n | $c | $w |")
else
  say "the mount has no $user/.versions/: that step is skipped"
fi
for path in docs/report.txt docs/readme.txt; do
  mount_fresh
  first=$(timed "$keepfs" versions --store "$store" --user "$user" "$path")
  warm=()
  for i in $(seq 1 "$runs"); do
    warm+=("$(timed "$keepfs" versions --store "$store" --user "$user" "$path")")
  done
  w=$(printf '%s\n' "${warm[@]}" | median)
  say "keepfs versions $path through the mount: first $first; then ${warm[*]}"
  rows+=("| \`keepfs versions --user $user $path\` sent to the mount (first / then) | $(versions_of "$path") | $first | $w |")
done
"$keepfs" umount "$mnt" >/dev/null 2>&1

snaps=$("$keepfs" snapshots --store "$store" --user "$user" | grep -c "^$user " || true)
echo "History listing over $snaps snapshots of $user (medians of $runs runs; cold: page cache $([ $can_drop = 1 ] && echo dropped || echo NOT dropped) before each)"
echo
echo "| command | versions | cold s | warm s |"
echo "|---|---|---|---|"
printf '%s\n' "${rows[@]}"
