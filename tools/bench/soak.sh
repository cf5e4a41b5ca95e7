#!/usr/bin/env bash
# The soak test, long (issue 9, "Load"; what it runs and what counts as an error: tools/bench/soak.h).
# One `keepfs mount -f` serves a fresh store while 32 readers walk and check snapshots of two users
# through it, both users back up every 2 s, and prune, share and gc run in a loop; the mount's RSS,
# open files and threads are sampled every second. Then the report: operations of each kind,
# errors (must be 0), read() latency p50/p99/max, RSS over time and whether it stayed flat, and
# `keepfs check --verify-data` / `keepfs audit --dry-run` of what is left. Needs root and /dev/fuse.
#
#   tools/bench/soak.sh [--build DIR] [--work DIR] [--seconds 600] [--json] [keepfs_soak options]
#
# --build: the build folder holding tools/keepfs and tools/bench/keepfs_soak (default build, then
# build-lead). --work: where the store, the sources and the mount's log go (default
# /tmp/keepfs-soak, emptied first if an earlier soak made it). Other options go to keepfs_soak
# (tools/bench/soak_main.cc): --readers N, --backup-every S, --keep-last N, --gc-pause S,
# --profile small|default, --write-buffer BYTES, --sample-every S, --hang-seconds S, --no-evict,
# --seed N, --json-file FILE (the JSON there, the text on stdout).
# Exit 0 when the soak passed, 1 when it did not, 2 when it could not run.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=""
work=/tmp/keepfs-soak
seconds=600
pass=()
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) pass+=("$1"); shift ;;
  esac
done
if [ -z "$build" ]; then
  for b in "$root/build" "$root/build-lead"; do
    if [ -x "$b/tools/bench/keepfs_soak" ]; then build=$b; break; fi
  done
fi
if [ -z "$build" ] || [ ! -x "$build/tools/bench/keepfs_soak" ] || [ ! -x "$build/tools/keepfs" ]; then
  echo "soak.sh: no keepfs_soak and keepfs built; build the keepfs and keepfs_soak_run targets, or pass --build" >&2
  exit 2
fi
if [ -e "$work" ]; then
  if [ ! -d "$work/store" ] && [ -n "$(ls -A "$work")" ]; then
    echo "soak.sh: $work is not empty and is not an earlier soak's; pass --work" >&2
    exit 2
  fi
  mountpoint -q "$work/mnt" 2>/dev/null && umount -l "$work/mnt"
  rm -rf "$work"
fi
exec "$build/tools/bench/keepfs_soak" --keepfs "$build/tools/keepfs" --work "$work" \
  --seconds "$seconds" ${pass[@]+"${pass[@]}"}
