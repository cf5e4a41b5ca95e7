#!/usr/bin/env bash
# The ctest fixture of the RADOS tests (tests/tools/CMakeLists.txt): one
# throw-away cluster (tools/ceph/cluster.sh) for the whole ctest run.
#   ctest_fixture.sh start DIR    (re)creates the cluster in DIR
#   ctest_fixture.sh stop DIR     stops it and removes DIR
# Without Ceph installed, start says so and succeeds, and the RADOS tests
# skip; with KEEPFS_REQUIRE_RADOS=1 (as in .ci/run) it fails instead.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:?start or stop}
dir=${2:?DIR}
case $cmd in
  start)
    if ! command -v ceph-mon >/dev/null || ! command -v ceph-osd >/dev/null || ! command -v rados >/dev/null; then
      msg="Ceph is not installed (ceph-mon, ceph-osd, rados: tools/install-deps.sh)"
      if [ "${KEEPFS_REQUIRE_RADOS:-0}" = 1 ]; then echo "$msg" >&2; exit 1; fi
      echo "$msg; the RADOS tests will skip"
      exit 0
    fi
    # A cluster left by an interrupted run is stopped and removed first.
    if [ -e "$dir" ]; then bash "$here/cluster.sh" stop "$dir" --purge >/dev/null 2>&1 || rm -rf "$dir"; fi
    exec bash "$here/cluster.sh" start "$dir"
    ;;
  stop)
    [ -e "$dir" ] || exit 0
    exec bash "$here/cluster.sh" stop "$dir" --purge
    ;;
  *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
