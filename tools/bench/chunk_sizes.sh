#!/usr/bin/env bash
# Chunking parameter sweep: how the average chunk size and the inline limit
# change keepfs's speed and stored bytes on the benchmark dataset.
#
# For each setting, a fresh store takes alice, then bob (90% overlap), then
# alice's day 2 (2% of files edited in the middle), and the table reports the
# wall time of each step and the stored bytes (du -sb of the store) after it.
# The chunk sizes are (avg/4, avg, avg*4), as `keepfs init` takes them.
#
#   tools/bench/chunk_sizes.sh [--keepfs BIN] [--data DIR] [--scale S]
#                              [--avg "262144 524288 1048576 2097152"]
#                              [--inline "1024 4096 16384"]
#
# DIR defaults to a fresh make_data.py dataset in /dev/shm (deleted after).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
keepfs=${KEEPFS_BINARY:-$here/../../build/tools/keepfs}
data=""
scale=1
avgs="262144 524288 1048576 2097152"
inlines="1024 4096 16384"
while [ $# -gt 0 ]; do
  case "$1" in
    --keepfs) keepfs=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --scale) scale=$2; shift 2 ;;
    --avg) avgs=$2; shift 2 ;;
    --inline) inlines=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "chunk_sizes.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -x "$keepfs" ] || { echo "chunk_sizes.sh: no keepfs binary at $keepfs (build first, or --keepfs BIN)" >&2; exit 2; }

cleanup_data=""
if [ -z "$data" ]; then
  data=/dev/shm/keepfs-chunk-sweep-data
  cleanup_data=$data
  python3 "$here/make_data.py" "$data" --scale "$scale" --force >/dev/null
fi
work=$(mktemp -d /tmp/keepfs-chunk-sweep.XXXXXX)
trap 'rm -rf "$work" $cleanup_data' EXIT

step() {  # store user dir -> prints "seconds stored_bytes"
  local t0 t1
  t0=$(date +%s.%N)
  "$keepfs" backup --store "$1" --user "$2" --time "$4" "$3" >/dev/null 2>&1
  t1=$(date +%s.%N)
  printf '%.2f %s' "$(echo "$t1 - $t0" | bc)" "$(du -sb "$1" | cut -f1)"
}

mb() { echo "scale=1; $1 / 1000000" | bc; }

run() {  # min avg max inline
  local store=$work/store
  rm -rf "$store"
  "$keepfs" init --store "$store" --chunk-min "$1" --chunk-avg "$2" --chunk-max "$3" \
    --inline-max "$4" >/dev/null
  read -r ta sa <<<"$(step "$store" alice "$data/alice" 2026-10-01T03:00:00Z)"
  read -r tb sb <<<"$(step "$store" bob "$data/bob" 2026-10-01T03:00:00Z)"
  read -r td sd <<<"$(step "$store" alice "$data/alice-day2" 2026-10-02T03:00:00Z)"
  local chunks
  chunks=$("$keepfs" stats --store "$store" | awk '/unique data/ {print $(NF-1)}')
  echo "| $(( $2 / 1024 )) KiB | $4 | $ta | $(mb "$sa") | $tb | $(mb $((sb - sa))) | $td | $(mb $((sd - sb))) | $chunks |"
}

echo "keepfs chunking sweep on $data ($(du -sh "$data/alice" | cut -f1) alice); MB = 10^6 bytes"
echo
echo "| avg chunk | inline max | alice s | stored MB | bob s | bob +MB | day2 s | day2 +MB | chunks |"
echo "|---|---|---|---|---|---|---|---|---|"
for avg in $avgs; do run $((avg / 4)) "$avg" $((avg * 4)) 4096; done
for inl in $inlines; do
  [ "$inl" = 4096 ] && continue  # measured above with the default chunk sizes
  run 262144 1048576 4194304 "$inl"
done
