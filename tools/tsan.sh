#!/usr/bin/env bash
# ThreadSanitizer over the concurrency tests: mount readers together with
# backups, gc, prune and the sharing pass; the chunk store, the metadata
# buffer, the thread pool and the inode cap (docs/hardening.md).
#   bash tools/tsan.sh                 build build-tsan and run them
#   KEEPFS_TSAN_FILTER=... bash tools/tsan.sh   another gtest filter
# Fails on any data race, lock-order inversion or test failure.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BUILD_DIR_TSAN:-build-tsan}"
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
start=$(date +%s)
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKEEPFS_TSAN=ON >/dev/null
ninja -C "$BUILD_DIR" -j"${KEEPFS_TSAN_BUILD_JOBS:-2}" store_test snapshot_test fs_test gc_test
built=$(date +%s)
echo "[tsan] built in $((built - start)) s"
# halt_on_error: the first race fails the run; second_deadlock_stack: both
# stacks of a lock-order inversion.
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 history_size=4 ${TSAN_OPTIONS:-}"
declare -A FILTERS=(
  [store_test]="ThreadPoolTest.*:ChunkStoreTest.Concurrent*:StoreTest.ReadersShareButExcludeWriters"
  [snapshot_test]="MetaBufferTest.ConcurrentPutsAllLand:CommitTest.*"
  [fs_test]="MountTest.SixteenReadersWhileABackupRuns:MountTest.GcRunsInTheMount*:MountTest.BackupsReadersPruneSharingAndGcRaceThroughTheMount:InodeCap*"
  [gc_test]="CollectorTest.ForcedRace*:CollectorTest.BoundedRace*:SharingTest.AnOpenReaderAndAForgetBesideThePassLoseNothing:StoreBackupTest.ACopyTakenWhile*"
)
failed=()
for t in store_test snapshot_test fs_test gc_test; do
  filter="${KEEPFS_TSAN_FILTER:-${FILTERS[$t]}}"
  echo "[tsan] $t --gtest_filter=$filter"
  if ! "$BUILD_DIR/tests/$t" --gtest_filter="$filter" --gtest_brief=1; then
    failed+=("$t")
  fi
done
echo "[tsan] ran in $(( $(date +%s) - built )) s"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "[tsan] FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "[tsan] no races"
