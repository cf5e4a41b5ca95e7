#!/usr/bin/env bash
# The test command: install dependencies, build, run the whole suite with ctest.
#   bash tools/test.sh            (BUILD_DIR=build-test)
#   KEEPFS_SANITIZE=ON bash tools/test.sh   the same under ASan+UBSan (what CI runs;
#                                           BUILD_DIR defaults to build-asan then)
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
SANITIZE="${KEEPFS_SANITIZE:-OFF}"
if [ "$SANITIZE" = ON ]; then
  BUILD_DIR="${BUILD_DIR:-build-asan}"
  # Any sanitizer report fails its test: UBSan stops at the first (it only
  # warns by default); ASan and LeakSanitizer stop by default.
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1 ${UBSAN_OPTIONS:-}"
else
  BUILD_DIR="${BUILD_DIR:-build-test}"
fi
# Paths below the checkout become relative for ccache: a fresh clone reuses
# the objects of an earlier build anywhere else.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
# Nor is the working directory hashed into objects with debug info (the
# price: their DW_AT_comp_dir names the first checkout that built them), and
# the cache holds the three builds (ASan, TSan, fuzz) at once.
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"
export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-16G}"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DKEEPFS_SANITIZE="$SANITIZE" >/dev/null
ninja -C "$BUILD_DIR"
cd "$BUILD_DIR"
ctest --output-on-failure -j2 --timeout 600
