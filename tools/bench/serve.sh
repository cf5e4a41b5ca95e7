#!/usr/bin/env bash
# Server ingest benchmark: how long `keepfs serve` takes to ingest U users' finished pushes,
# with the ingest limit at 1 and at 2, against `keepfs spool-ingest` (one pass, one push after
# the other) and the raw read of the same trees (tar c | cat). Prints a markdown table.
#
#   tools/bench/serve.sh [--users U] [--mb MB] [--keepfs PATH] [--work DIR] [--src DIR]
#
#   --users  users pushing at once (default 2)
#   --mb     MB of data per user (default 300): a third text, a third random, a third copies of
#            another user's files (dedup across users)
#   --work   store, spool and mount point (default /tmp/keepfs-serve-bench)
#   --src    the generated trees, best on tmpfs (default /dev/shm/keepfs-serve-src)
#
# Each run starts from a fresh store; the spool holds the users' data/ trees before the server
# starts, all flags are raised at once (with the server running), and the time is from the
# flags until the last one is gone. Every run is checked afterwards (keepfs check).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$here/../.." && pwd)
users=2
mb=300
keepfs=${KEEPFS:-$repo_root/build/tools/keepfs}
work=/tmp/keepfs-serve-bench
src=/dev/shm/keepfs-serve-src
die() { echo "serve.sh: $*" >&2; exit 1; }
say() { echo "serve.sh: $*" >&2; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --users) users=$2; shift 2 ;;
    --mb) mb=$2; shift 2 ;;
    --keepfs) keepfs=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --src) src=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[[ -x $keepfs ]] || die "no keepfs binary at $keepfs (build it or pass --keepfs)"
[[ -e /dev/fuse ]] || die "needs /dev/fuse (keepfs serve mounts the store)"

if [[ ! -f $src/.done-$users-$mb ]]; then
  say "generating $users x $mb MB in $src"
  rm -rf "$src"
  python3 - "$src" "$users" "$mb" <<'PY'
import os, random, sys
src, users, mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
words = open('/usr/share/dict/words').read().split() if os.path.exists('/usr/share/dict/words') else \
        [''.join(random.choice('abcdefghij') for _ in range(6)) for _ in range(5000)]
for u in range(users):
    rnd = random.Random(u)
    root = f"{src}/user{u}"
    total, i = 0, 0
    while total < mb * 10**6:
        d = f"{root}/d{i // 200}"
        os.makedirs(d, exist_ok=True)
        size = rnd.choice([4000, 20000, 200000, 2000000])
        kind = i % 3
        if kind == 0:
            data = (' '.join(rnd.choice(words) for _ in range(size // 6))).encode()[:size]
        elif kind == 1:
            data = rnd.randbytes(size)
        else:  # what user u-1 also has: the same bytes under another name
            data = random.Random(10**6 + i).randbytes(size)
        open(f"{d}/f{i}", 'wb').write(data)
        total += len(data)
        i += 1
PY
  touch "$src/.done-$users-$mb"
fi

bytes=$(du -sb --exclude='.done-*' "$src" | cut -f1)
raw_start=$(date +%s.%N)
tar c -C "$src" . | cat > /dev/null
raw=$(echo "$(date +%s.%N) - $raw_start" | bc)

setup() {
  rm -rf "$work"; mkdir -p "$work/spool" "$work/mnt"
  "$keepfs" init --store "$work/store" -q
  for ((u = 0; u < users; u++)); do
    mkdir -p "$work/spool/user$u"; chmod 755 "$work/spool/user$u"
    cp -a "$src/user$u" "$work/spool/user$u/data"
  done
}
raise_flags() { for ((u = 0; u < users; u++)); do touch "$work/spool/user$u/.done"; done; }
wait_flags() {
  while :; do
    local left=0
    for ((u = 0; u < users; u++)); do [[ -e $work/spool/user$u/.done ]] && left=1; done
    [[ $left == 0 ]] && return; sleep 0.05
  done
}
serve_run() {  # $1: max_concurrent
  setup
  cat > "$work/keepfs.toml" <<TOML
store = "$work/store"
mountpoint = "$work/mnt"
spool = "$work/spool"
socket = ""
[ingest]
max_concurrent = $1
nice = 0
ionice = "none"
[schedule]
prune = "off"
gc = "off"
scrub = "off"
TOML
  "$keepfs" serve --config "$work/keepfs.toml" > "$work/serve.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do mountpoint -q "$work/mnt" && break; sleep 0.1; done
  local t0; t0=$(date +%s.%N)
  raise_flags; wait_flags
  local t; t=$(echo "$(date +%s.%N) - $t0" | bc)
  kill -TERM $pid; wait $pid || true
  "$keepfs" check --store "$work/store" -q > /dev/null || die "check found problems after serve $1"
  echo "$t"
}
pass_run() {
  setup; raise_flags
  local t0; t0=$(date +%s.%N)
  "$keepfs" spool-ingest --store "$work/store" -q "$work/spool" > /dev/null
  echo "$(echo "$(date +%s.%N) - $t0" | bc)"
}

say "spool-ingest (sequential)"; seq_t=$(pass_run)
say "serve, max_concurrent 1"; s1=$(serve_run 1)
say "serve, max_concurrent 2"; s2=$(serve_run 2)
stored=$(du -sb "$work/store" | cut -f1)
mbps() { echo "scale=1; $bytes / 1000000 / $1" | bc; }
echo "| run ($users users, $((bytes / 1000000)) MB in all) | wall s | MB/s | vs raw read |"
echo "|---|---|---|---|"
echo "| raw read (tar c \| cat) | $raw | $(mbps "$raw") | 1.00 |"
for row in "spool-ingest, one after the other:$seq_t" "serve, max_concurrent = 1:$s1" "serve, max_concurrent = 2:$s2"; do
  name=${row%%:*}; t=${row##*:}
  echo "| $name | $t | $(mbps "$t") | $(echo "scale=2; $t / $raw" | bc) |"
done
echo
echo "store after the last run: $((stored / 1000000)) MB"
