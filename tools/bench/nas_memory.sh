#!/usr/bin/env bash
# The mount's memory on a big store (issue 8: under 64 MiB RSS in the low-memory profile with
# 1,000 snapshots and a million files). For each [mount] profile of STORE/config.toml, a fresh
# `keepfs mount`, then these steps, with the mount process's peak RSS during each (VmHWM, reset
# through /proc/PID/clear_refs before each step) and its VmRSS after it (/proc/PID/status):
#   mount     right after `keepfs mount` returns
#   find      find /MOUNT/U/latest/ | wc -l          (every entry of the newest snapshot)
#   ls user   ls /MOUNT/U | wc -l                   (the 1,000 snapshot folders)
#   versions  ls -l /MOUNT/U/.versions/docs/report.txt/  (skipped when the mount has no .versions)
#   stat      ls -l of one 1,000-file folder in every 10th snapshot (100 snapshots, 100,000 stats)
#   read      cat of 300 files: the big data.log (96-288 KiB, chunked) of 100 folders of latest,
#             and 200 small files from 200 snapshots
#   ls -lR    ls -lR of one top folder of latest (about 32,000 entries)
#   backup    `keepfs backup --user nasbench SRC`, run by the mount process (one writer): 256 MiB
#             in 32 files of 8 MiB (incompressible) and 4,000 small files, made once in WORK/src
#   gc        `keepfs forget --user nasbench latest` and `keepfs gc --undelete-window 0s`, also
#             run by the mount process; this leaves the store as it was
#
# The store is made by keepfs_make_history (1,000 snapshots of 1,000,000 files) unless --store
# names one it made before. config.toml is put back as it was at the end.
#
#   tools/bench/nas_memory.sh --keepfs BIN [--make-history BIN] [--work DIR] [--store DIR]
#                             [--user alice] [--profiles default,small] [--keep-store]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
keepfs=${KEEPFS:-$here/../../build/tools/keepfs}
make_history=""
work=/tmp/keepfs-nas-memory
store=""
user=alice
profiles=default,small
keep_store=0
while [ $# -gt 0 ]; do
  case $1 in
    --keepfs) keepfs=$2; shift 2 ;;
    --make-history) make_history=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --store) store=$2; shift 2 ;;
    --user) user=$2; shift 2 ;;
    --profiles) profiles=$2; shift 2 ;;
    --keep-store) keep_store=1; shift ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
say() { echo "[nas_memory] $*" >&2; }
now() { date +%s.%N; }
mkdir -p "$work"
mnt=$work/mnt
source "$here/big_store.sh"
ensure_big_store
cp "$store/config.toml" "$work/config.toml.orig"
cleanup() {
  mountpoint -q "$mnt" 2>/dev/null && "$keepfs" umount --lazy "$mnt" >/dev/null 2>&1 || true
  cp "$work/config.toml.orig" "$store/config.toml" 2>/dev/null || true
  if [ $made_store = 1 ] && [ $keep_store = 0 ]; then rm -rf "$store"; fi
}
trap cleanup EXIT
set_profile() {  # the [mount] section's profile key, replaced or added
  python3 - "$store/config.toml" "$1" <<'EOF'
import re, sys
path, profile = sys.argv[1], sys.argv[2]
text = open(path).read()
text = re.sub(r'(?m)^profile\s*=.*\n', '', text)
text = text.replace('[mount]\n', '[mount]\nprofile = "%s"\n' % profile, 1)
open(path, 'w').write(text)
EOF
}
status_kib() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$pid/status"; }
mib() { awk -v k="$1" 'BEGIN{printf "%.1f", k/1024}'; }

src=$work/src
if [ ! -f "$src/.complete" ]; then
  say "making the backup source $src (256 MiB and 4,000 small files)..."
  rm -rf "$src"
  python3 - "$src" <<'EOF'
import os, random, sys
root = sys.argv[1]
rng = random.Random(8)
os.makedirs(root + "/big")
for i in range(32):
    with open("%s/big/part%02d.bin" % (root, i), "wb") as f:
        f.write(rng.randbytes(8 << 20))
for d in range(40):
    os.makedirs("%s/small/d%02d" % (root, d))
    for i in range(100):
        with open("%s/small/d%02d/note%03d.txt" % (root, d, i), "w") as f:
            f.write(("line %d of note %d in folder %d\n" % (i, i, d)) * rng.randint(20, 200))
open(root + "/.complete", "w").close()
EOF
fi
if [ "$("$keepfs" snapshots --store "$store" --user nasbench 2>/dev/null | grep -c '^nasbench ')" != 0 ]; then
  echo "user nasbench has snapshots in $store: forget them first (this benchmark adds and removes its own)" >&2
  exit 2
fi

mkdir -p "$mnt"
header="| profile |"; sep="|---|"; out=()
snaps=()
for p in ${profiles//,/ }; do
  set_profile "$p"
  msg=$("$keepfs" mount --store "$store" "$mnt" 2>&1)
  pid=$(sed -n 's/.*(pid \([0-9][0-9]*\)).*/\1/p' <<<"$msg" | head -n1)
  [ -n "$pid" ] || { echo "cannot find the mount's pid in: $msg" >&2; exit 1; }
  [ ${#snaps[@]} -gt 0 ] || mapfile -t snaps < <(ls "$mnt/$user" | grep -v '^latest$' | grep -v '^\.' | sort)
  cells=(); names=()
  step() {  # step NAME CMD...: runs it; records the peak during it, VmRSS after, and the time
    local t0 t1
    echo 5 >"/proc/$pid/clear_refs"  # VmHWM starts again from VmRSS
    t0=$(now); "${@:2}" >/dev/null 2>&1 || say "$1: exit $? ($p)"; t1=$(now)
    names+=("$1")
    cells+=("$(mib "$(status_kib VmHWM)") / $(mib "$(status_kib VmRSS)") ($(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f s", b-a}'))")
    peak=$(awk -v a="$peak" -v b="$(status_kib VmHWM)" 'BEGIN{print (b > a ? b : a)}')
  }
  names+=("mount"); cells+=("$(mib "$(status_kib VmRSS)")")
  peak=$(status_kib VmHWM)
  step "find" sh -c "find '$mnt/$user/latest/' | wc -l"
  step "ls user" sh -c "ls '$mnt/$user' | wc -l"
  if [ -d "$mnt/$user/.versions" ]; then
    step "versions" ls -l "$mnt/$user/.versions/docs/report.txt/"
  else
    names+=("versions"); cells+=("n/a")
  fi
  stat_many() {
    local i
    for ((i = 0; i < ${#snaps[@]}; i += 10)); do ls -l "$mnt/$user/${snaps[$i]}/t00/f001"; done
  }
  step "stat 100k" stat_many
  read_many() {
    local i f
    for ((i = 0; i < 100; i++)); do
      cat "$mnt/$user/latest/$(printf 't%02d/f%03d' $((i % 25)) $((i / 25)))/data.log"
    done
    for ((i = 0; i < 200 && i < ${#snaps[@]}; i++)); do
      f=$(ls "$mnt/$user/${snaps[$((i * ${#snaps[@]} / 200))]}/t01/f002" | sed -n "$((i % 50 + 2))p")
      cat "$mnt/$user/${snaps[$((i * ${#snaps[@]} / 200))]}/t01/f002/$f"
    done
  }
  step "read 300" read_many
  step "ls -lR" ls -lR "$mnt/$user/latest/t02"
  step "backup" "$keepfs" -q backup --store "$store" --user nasbench "$src"
  forget_gc() {
    "$keepfs" -q forget --store "$store" --user nasbench latest &&
      "$keepfs" -q gc --store "$store" --undelete-window 0s
  }
  step "gc" forget_gc
  hwm=$(mib "$peak")
  say "profile $p: ${names[*]} -> ${cells[*]}; VmHWM $hwm MiB"
  "$keepfs" umount "$mnt" >/dev/null 2>&1
  if [ ${#out[@]} -eq 0 ]; then
    for n in "${names[@]}"; do header+=" $n |"; sep+="---|"; done
    header+=" VmHWM |"; sep+="---|"
  fi
  row="| $p |"
  for c in "${cells[@]}"; do row+=" $c |"; done
  out+=("$row $hwm |")
done
echo "Mount process memory in MiB per step: the peak during it (VmHWM, reset before each step) / VmRSS after it (step time); last column the peak of the whole run. Store: $store"
echo
echo "$header"
echo "$sep"
printf '%s\n' "${out[@]}"
