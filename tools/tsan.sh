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
# Nor is the working directory hashed into objects with debug info (the
# price: their DW_AT_comp_dir names the first checkout that built them), and
# the cache holds the three builds (ASan, TSan, fuzz) at once.
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"
export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-16G}"
start=$(date +%s)
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKEEPFS_TSAN=ON >/dev/null
ninja -C "$BUILD_DIR" -j"${KEEPFS_TSAN_BUILD_JOBS:-2}" store_test snapshot_test fs_test gc_test
built=$(date +%s)
echo "[tsan] built in $((built - start)) s"
# halt_on_error: the first race fails the run; second_deadlock_stack: both
# stacks of a lock-order inversion; history_size=7: the most history, so
# that the earlier access of a race has its stack (the suppressions need it);
# tsan.supp: RocksDB, which is not built
# with TSan (see there).
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 history_size=7 suppressions=$PWD/tools/tsan.supp ${TSAN_OPTIONS:-}"
declare -A FILTERS=(
  [store_test]="ThreadPoolTest.*:ChunkStoreTest.Concurrent*"
  [snapshot_test]="MetaBufferTest.ConcurrentPutsAllLand:CommitTest.*"
  [fs_test]="MountTest.SixteenReadersWhileABackupRuns:MountTest.GcRunsInTheMount*:MountTest.BackupsReadersPruneSharingAndGcRaceThroughTheMount:InodeCap*"
  [gc_test]="CollectorTest.ForcedRace*:CollectorTest.BoundedRace*:SharingTest.AnOpenReaderAndAForgetBesideThePassLoseNothing:StoreBackupTest.ACopyTakenWhile*"
)
# The canary: a plain race between two threads must be reported (TSan's exit
# code 66), or a pass of this run would prove nothing.
canary="$BUILD_DIR/tsan_canary"
printf '%s\n' '#include <thread>' 'int shared;' \
  'int main() { std::thread t([] { shared = 1; }); shared = 2; t.join(); return 0; }' |
  c++ -x c++ -std=c++20 -g -O1 -fsanitize=thread -pthread - -o "$canary"
if "$canary" >/dev/null 2>&1; then
  echo "[tsan] FAILED: the canary's race was not reported; ThreadSanitizer is not working" >&2
  exit 1
fi
echo "[tsan] the canary's race is reported"
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
