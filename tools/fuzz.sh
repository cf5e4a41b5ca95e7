#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, docs/fuzzing.md) with clang in
# build-fuzz and runs each for a bounded time on a copy of its seed corpus.
#   bash tools/fuzz.sh                       every target, 20 s each
#   bash tools/fuzz.sh content_fuzzer        one target (or several)
#   KEEPFS_FUZZ_SECONDS=3600 bash tools/fuzz.sh   the long run, per target
#   KEEPFS_FUZZ_JOBS=N                       N processes per target (-fork=N)
#   KEEPFS_FUZZ_KEEP=1                       keep the grown corpora in build-fuzz/corpus
# Fails if any target crashes, leaks, times out on one input or breaks a
# property; the input is saved as build-fuzz/crashes/TARGET/crash-* (add it
# as a regression test: docs/fuzzing.md). Prints runs and coverage per target.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BUILD_DIR_FUZZ:-build-fuzz}"
SECONDS_PER_TARGET="${KEEPFS_FUZZ_SECONDS:-20}"
JOBS="${KEEPFS_FUZZ_JOBS:-1}"
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
# Nor is the working directory hashed into objects with debug info (the
# price: their DW_AT_comp_dir names the first checkout that built them), and
# the cache holds the three builds (ASan, TSan, fuzz) at once.
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"
export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-16G}"
if [ "$#" -gt 0 ]; then
  TARGETS=("$@")
else
  TARGETS=()
  for d in tests/fuzz/corpus/*/; do TARGETS+=("$(basename "$d")"); done
fi

start=$(date +%s)
CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DKEEPFS_FUZZ=ON -DKEEPFS_TESTS=OFF >/dev/null
ninja -C "$BUILD_DIR" -j"${KEEPFS_FUZZ_BUILD_JOBS:-2}" "${TARGETS[@]}"
built=$(date +%s)
echo "[fuzz] built ${#TARGETS[@]} targets in $((built - start)) s"

fork=""
[ "$JOBS" -le 1 ] || fork="-fork=$JOBS"
failed=()
for t in "${TARGETS[@]}"; do
  work="$BUILD_DIR/corpus/$t"
  crashes="$BUILD_DIR/crashes/$t"
  rm -rf "$work"
  mkdir -p "$work" "$crashes"
  cp tests/fuzz/corpus/"$t"/* "$work"/
  log="$BUILD_DIR/$t.log"
  # -malloc_limit_mb: a length field that makes a decoder allocate more than
  # the input could justify is a bug, not a slow run.
  if "$BUILD_DIR/tests/fuzz/$t" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 \
      -rss_limit_mb=2048 -malloc_limit_mb=512 -max_len=65536 $fork \
      -print_final_stats=1 -artifact_prefix="$crashes/" "$work" \
      >"$log" 2>&1; then
    status=ok
  else
    status=FAILED
    failed+=("$t")
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | awk '{s+=$2} END {print s+0}')
  cov=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+' || echo "cov: ?")
  echo "[fuzz] $t: $status, $runs runs, $cov"
  if [ "$status" = FAILED ]; then
    grep -E 'ERROR|FUZZ_CHECK|runtime error|SUMMARY|Test unit written' "$log" | head -20 || true
  fi
  [ -n "${KEEPFS_FUZZ_KEEP:-}" ] || rm -rf "$work"
done
echo "[fuzz] total $(( $(date +%s) - start )) s"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "[fuzz] FAILED: ${failed[*]} (logs in $BUILD_DIR/TARGET.log)" >&2
  exit 1
fi
