#!/usr/bin/env bash
# The test command: install dependencies, build, run the whole suite with ctest.
#   bash tools/test.sh            (BUILD_DIR=build-test, KEEPFS_SANITIZE=ON for ASan/UBSan)
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
BUILD_DIR="${BUILD_DIR:-build-test}"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DKEEPFS_SANITIZE="${KEEPFS_SANITIZE:-OFF}" >/dev/null
ninja -C "$BUILD_DIR"
cd "$BUILD_DIR"
ctest --output-on-failure -j2 --timeout 600
