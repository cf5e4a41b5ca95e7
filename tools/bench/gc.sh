#!/usr/bin/env bash
# Garbage-collection benchmark: keepfs gc against restic prune and borg compact, side by side,
# in one run, on the same store shapes. Prints a markdown table to stdout.
#
#   tools/bench/gc.sh [--files N,N...] [--days D] [--churn C] [--only keepfs,restic,borg]
#                     [--keepfs PATH] [--work DIR] [--src DIR] [--json FILE]
#
#   --files   store sizes: files in the source tree, one full run per size (default 16000,64000)
#   --days    daily snapshots before anything is deleted (default 10)
#   --churn   files rewritten each day (default 2000): every day adds the same amount of new data,
#             so "delete one day" deletes the same amount at every store size
#   --work    repositories, caches and logs, on disk (default /tmp/keepfs-gc-bench)
#   --src     the source tree, best on tmpfs (default /dev/shm/keepfs-gc-src)
#
# For each size and tool, in a fresh repository: D daily backups of the source, rewriting --churn
# files (about half text, half random bytes, 1-16 KiB) between days; then
#   A. delete the oldest day, then reclaim space;
#   B. delete every other remaining day (half the snapshots), then reclaim space.
# keepfs: `forget` + `gc --undelete-window 0s`; restic: `forget ID...` + `prune`;
# borg: `delete ::A...` + `compact`. The time of the delete and of the reclaim step are reported
# separately and together, with the reclaim step's peak RSS and the repository size after it
# (du -sb). Time and RSS come from /usr/bin/time. restic encrypts (always); borg runs without
# encryption; keepfs does not encrypt.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$here/../.." && pwd)
sizes=16000,64000
days=10
churn=2000
only=keepfs,restic,borg
keepfs=${KEEPFS:-$repo_root/build/tools/keepfs}
work=/tmp/keepfs-gc-bench
src=/dev/shm/keepfs-gc-src
json_out=

die() { echo "gc.sh: $*" >&2; exit 1; }
say() { echo "gc.sh: $*" >&2; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --files) sizes=$2; shift 2 ;;
    --days) days=$2; shift 2 ;;
    --churn) churn=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --keepfs) keepfs=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --src) src=$2; shift 2 ;;
    --json) json_out=$2; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
IFS=, read -r -a tools <<<"$only"
for t in "${tools[@]}"; do
  case $t in
    keepfs) [[ -x $keepfs ]] || die "no keepfs binary at $keepfs (build it or pass --keepfs)" ;;
    restic|borg) command -v "$t" >/dev/null || die "$t is missing: apt-get install restic borgbackup" ;;
    *) die "--only: unknown tool $t" ;;
  esac
done
[[ -x /usr/bin/time ]] || die "/usr/bin/time is missing: apt-get install time"
export RESTIC_PASSWORD=keepfs-bench RESTIC_CACHE_DIR=$work/cache/restic
export BORG_BASE_DIR=$work/cache/borg BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
results=$work/results.tsv
rm -rf "$work" && mkdir -p "$work"
: >"$results"

# timed NAME CMD...: runs CMD, appends "NAME seconds peak_kib" to $work/times.
timed() {
  local name=$1; shift
  sync
  /usr/bin/time -o "$work/time.tmp" -f '%e %M' "$@" >"$work/$name.out" 2>"$work/$name.err" ||
    { cat "$work/$name.err" >&2; die "$name failed"; }
  read -r secs kib <"$work/time.tmp"
  echo "$secs $kib"
}

# The source: N files in 64 dirs; day D rewrites files [D*churn, (D+1)*churn) mod N.
make_src() {
  python3 - "$src" "$1" "$2" "$3" <<'PY'
import os, random, sys
root, n, day, churn = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
words = b"backup snapshot chunk pack store tree content garbage collector keep prune ".split()
def write(i, day):
    rng = random.Random(i * 1000003 + day)
    size = rng.randint(1024, 16384)
    if i % 2:
        data = rng.randbytes(size)
    else:
        data = b" ".join(rng.choice(words) for _ in range(size // 6))[:size]
    d = os.path.join(root, "d%02d" % (i % 64))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%06d" % i), "wb") as f:
        f.write(data)
if day == 0:
    for i in range(n):
        write(i, 0)
else:
    for k in range(churn):
        write((day * churn + k) % n, day)
PY
}

stamp() { printf '2026-11-%02dT03:00:00Z' "$1"; }

backup() {  # tool repo day
  case $1 in
    keepfs) "$keepfs" --store "$2" -q backup --user alice --time "$(stamp "$3")" "$src" >/dev/null ;;
    restic) restic -r "$2" --compression auto backup --host alice -q --time "2026-11-$(printf %02d "$3") 03:00:00" "$src" >/dev/null ;;
    borg) borg create --compression zstd,3 "$2::day$3" "$src" ;;
  esac
}

init() {
  case $1 in
    keepfs) "$keepfs" --store "$2" -q init >/dev/null ;;
    restic) restic -r "$2" init --repository-version 2 >/dev/null ;;
    borg) borg init -e none "$2" >/dev/null ;;
  esac
}

# delete TOOL REPO DAY...: the delete step as one command line (echoed, run by timed).
delete_cmd() {
  local tool=$1 repo=$2; shift 2
  case $tool in
    keepfs)
      local names=()
      for d in "$@"; do names+=("2026-11-$(printf %02d "$d")_030000"); done
      echo "$keepfs --store $repo -q forget --user alice ${names[*]}" ;;
    restic)
      local ids=()
      for d in "$@"; do
        ids+=("$(restic -r "$repo" snapshots --json | python3 -c "
import json, sys
for s in json.load(sys.stdin):
    if s['time'].startswith('2026-11-%02d' % $d): print(s['short_id'])")")
      done
      echo "restic -r $repo forget ${ids[*]}" ;;
    borg)
      local names=()
      for d in "$@"; do names+=("day$d"); done
      echo "borg delete $repo ${names[*]}" ;;
  esac
}

reclaim_cmd() {
  case $1 in
    keepfs) echo "$keepfs --store $2 -q gc --undelete-window 0s" ;;
    restic) echo "restic -r $2 prune" ;;
    borg) echo "borg compact $2" ;;
  esac
}

IFS=, read -r -a size_list <<<"$sizes"
for n in "${size_list[@]}"; do
  say "store size $n files: generating the source"
  rm -rf "$src" && mkdir -p "$src"
  make_src "$n" 0 "$churn"
  for t in "${tools[@]}"; do init "$t" "$work/$t-$n"; done
  for ((d = 1; d <= days; d++)); do
    if ((d > 1)); then make_src "$n" "$d" "$churn"; fi
    for t in "${tools[@]}"; do backup "$t" "$work/$t-$n" "$d"; done
    say "  day $d backed up by ${tools[*]}"
  done
  half=()
  for ((d = 2; d <= days; d += 2)); do half+=("$d"); done
  for t in "${tools[@]}"; do
    repo=$work/$t-$n
    for scenario in A B; do
      if [[ $scenario == A ]]; then set -- 1; else set -- "${half[@]}"; fi
      # shellcheck disable=SC2046  # the command lines are word-split on purpose
      read -r dsecs _ < <(timed "$t-$n-$scenario-delete" $(delete_cmd "$t" "$repo" "$@"))
      # shellcheck disable=SC2046
      read -r rsecs rkib < <(timed "$t-$n-$scenario-reclaim" $(reclaim_cmd "$t" "$repo"))
      bytes=$(du -sb "$repo" | cut -f1)
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$t" "$scenario" "$dsecs" "$rsecs" "$rkib" \
        "$bytes" >>"$results"
      say "  $t $scenario: delete ${dsecs}s, reclaim ${rsecs}s, ${rkib} KiB peak, $bytes bytes left"
    done
    if [[ $t == keepfs ]]; then
      "$keepfs" --store "$repo" -q check >/dev/null || die "keepfs check failed after gc"
    fi
  done
  rm -rf "$work"/*-"$n"
done
rm -rf "$src"

python3 - "$results" "$json_out" <<'PY'
import json, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
data = {}
for n, tool, sc, ds, rs, kib, b in rows:
    data[(int(n), tool, sc)] = dict(delete_s=float(ds), reclaim_s=float(rs), rss_mib=int(kib) / 1024,
                                   bytes_after=int(b))
sizes = sorted({k[0] for k in data})
tools = [t for t in ("keepfs", "restic", "borg") if any(k[1] == t for k in data)]
label = {"A": "delete 1 day of 10", "B": "delete half the days"}
print("| files | scenario | tool | delete s | reclaim s | total s | reclaim peak RSS MiB | repo MB after |")
print("|---|---|---|---|---|---|---|---|")
for n in sizes:
    for sc in ("A", "B"):
        for t in tools:
            r = data.get((n, t, sc))
            if not r: continue
            print(f"| {n} | {label[sc]} | {t} | {r['delete_s']:.2f} | {r['reclaim_s']:.2f} | "
                  f"{r['delete_s'] + r['reclaim_s']:.2f} | {r['rss_mib']:.0f} | {r['bytes_after'] / 1e6:.1f} |")
print()
if "keepfs" in tools:
    for p in tools:
        if p == "keepfs": continue
        for n in sizes:
            for sc in ("A", "B"):
                k, o = data.get((n, "keepfs", sc)), data.get((n, p, sc))
                if k and o:
                    kt, ot = k["delete_s"] + k["reclaim_s"], o["delete_s"] + o["reclaim_s"]
                    print(f"- {n} files, {label[sc]}: {p} delete+reclaim takes {ot / max(kt, 0.01):.1f}x "
                          f"keepfs's ({ot:.2f} s vs {kt:.2f} s)")
if sys.argv[2]:
    json.dump({f"{n}/{t}/{sc}": v for (n, t, sc), v in data.items()}, open(sys.argv[2], "w"), indent=1)
PY
