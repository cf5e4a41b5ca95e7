#!/usr/bin/env bash
# shellcheck disable=SC2016  # bash -c scripts take their arguments as $1, $2 on purpose
# keepfs backup benchmark: keepfs against restic, borg and `tar c | zstd`, side by side, in one run,
# on the same generated data (tools/bench/make_data.py). Prints a markdown table to stdout.
#
#   tools/bench/run.sh [--scale S] [--work DIR] [--keepfs PATH] [--runs N] [--only tool,...]
#                      [--json FILE] [--src DIR] [--seed N] [--keep-src] [--keep-repos]
#
#   --scale S     dataset size, 1.0 = full (~2.0 GB for alice; ~8.5 GB in /dev/shm in all)
#   --work DIR    repositories, caches and logs, on disk (default /tmp/keepfs-bench)
#   --keepfs P    keepfs binary (default $KEEPFS, else build/tools/keepfs under the repo root);
#                 if it is missing, keepfs is skipped with a warning
#   --runs N      repeat every measurement N times with fresh repositories; the table shows medians
#   --only LIST   comma-separated subset of: keepfs,restic,borg,tar,raw
#   --json FILE   also write every raw number (each run, and the medians) as JSON
#   --src DIR     where the source data lives (default /dev/shm/keepfs-bench-src, a tmpfs)
#   --keep-src    keep the generated source data afterwards (a later run with the same scale and
#                 seed reuses it); by default it is deleted on exit
#   --keep-repos  keep the repositories under the work dir; by default each is deleted once measured
#
# What runs, for each tool, in a fresh repository each run:
#   1. alice (day 1) into an empty repo: MB/s (alice's file bytes / wall s), peak RSS, stored bytes
#   2. bob into the same repo: wall s, stored bytes added
#   3. alice day 2 into the same repo: wall s, stored bytes added
#   4. many/ (100k small files) backed up once, then again unchanged: wall s of the second run
# tar+zstd (`tar c alice | zstd -3 -T0 > file`) has no dedup, so only step 1; "raw" is the speed of
# reading the source (`tar c alice | cat > /dev/null`).
#
# Fairness:
# - The source is on tmpfs ("backups ran with the source in memory"), so the tool is measured, not the
#   disk; repositories are on disk under --work. Nothing is dropped from the page cache; `sync` runs
#   before every timed step so one step's writeback does not land in the next.
# - Stored bytes are `du -sb` of the repository directory for every tool. Client-side caches
#   (restic's cache, borg's chunk index and files cache) live outside it and are not counted; keepfs
#   keeps everything in its store, so its figure includes its metadata.
# - Compression at an equal zstd level: restic `--compression auto` (repository version 2), borg
#   `--compression zstd,3`, keepfs its default (zstd 3).
# - restic always encrypts (AES-256-CTR + Poly1305-AES; RESTIC_PASSWORD is a fixed string here); borg runs
#   unencrypted (`init -e none`); keepfs does not encrypt.
# - alice and alice-day2 are backed up from the same path: a staging dir that is `rsync -a --delete`d
#   to the day's tree, as a nightly push does; unchanged files keep their inode, size, mtime and
#   ctime, so every tool's files cache (restic's parent snapshot, borg's files cache, keepfs's) can
#   skip them. Each user is its own restic host, so restic picks the right parent.
# - Time and peak RSS come from `/usr/bin/time -f '%e %M'` (apt-get install time).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$here/../.." && pwd)

scale=1
work=/tmp/keepfs-bench
keepfs=${KEEPFS:-$repo_root/build/tools/keepfs}
runs=1
only=keepfs,restic,borg,tar,raw
json_out=
src_root=/dev/shm/keepfs-bench-src
seed=1
keep_src=0
keep_repos=0

say() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 2; }
usage() { sed -n '3,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }

while [ $# -gt 0 ]; do
  case $1 in
    --scale) scale=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --keepfs) keepfs=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --json) json_out=$2; shift 2 ;;
    --src) src_root=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --keep-src) keep_src=1; shift ;;
    --keep-repos) keep_repos=1; shift ;;
    -h|--help) usage 0 ;;
    *) printf 'unknown argument: %s\n\n' "$1" >&2; usage 2 ;;
  esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer"
[[ $scale =~ ^[0-9]*\.?[0-9]+$ ]] || die "--scale must be a number"

tools=()
for t in ${only//,/ }; do
  case $t in
    keepfs|restic|borg|tar|raw) tools+=("$t") ;;
    tar+zstd) tools+=(tar) ;;
    *) die "--only: unknown tool '$t' (choose from keepfs,restic,borg,tar,raw)" ;;
  esac
done
has_tool() { local t; for t in "${tools[@]}"; do [ "$t" = "$1" ] && return 0; done; return 1; }
drop_tool() { local t keep=(); for t in "${tools[@]}"; do [ "$t" = "$1" ] || keep+=("$t"); done; tools=("${keep[@]}"); }

# ---- prerequisites: install nothing, say what is missing ----
missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$1 (apt-get install $2)"); }
need python3 python3
need rsync rsync
need du coreutils
[ -x /usr/bin/time ] || missing+=("/usr/bin/time (apt-get install time)")
if has_tool tar || has_tool raw; then need tar tar; fi
if has_tool tar; then need zstd zstd; fi
if has_tool restic; then need restic restic; fi
if has_tool borg; then need borg borgbackup; fi
if [ ${#missing[@]} -gt 0 ]; then
  say "missing tools:"; for m in "${missing[@]}"; do say "  $m"; done
  die "install them first, e.g.: apt-get install restic borgbackup zstd time rsync"
fi
if has_tool keepfs; then
  if [ ! -x "$keepfs" ]; then
    say "WARNING: keepfs binary not found at $keepfs (build it, or pass --keepfs PATH / set KEEPFS);" \
        "skipping keepfs"
    drop_tool keepfs
  else
    keepfs=$(cd "$(dirname "$keepfs")" && pwd)/$(basename "$keepfs")
  fi
fi
[ ${#tools[@]} -gt 0 ] || die "no tool left to measure"

# ---- layout ----
mkdir -p "$work"
work=$(cd "$work" && pwd)
data=$src_root/data            # make_data.py output: alice/ bob/ alice-day2/ many/ manifest.json
stage=$src_root/stage          # stage/alice: the path alice's two days are backed up from
logs=$work/logs
results=$work/results.tsv      # run <TAB> tool <TAB> metric <TAB> value
mkdir -p "$logs"
: >"$results"

cleanup() {
  if [ "$keep_src" = 0 ]; then rm -rf "$data" "$stage"; rmdir "$src_root" 2>/dev/null || true; fi
  if [ "$keep_repos" = 0 ]; then rm -rf "$work/repos" "$work/cache"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fstype=$(stat -f -c %T "$(dirname "$src_root")" 2>/dev/null || echo unknown)
[ "$fstype" = tmpfs ] || say "WARNING: $src_root is on $fstype, not tmpfs: backups will also measure the disk"

# ---- dataset ----
manifest_val() {  # manifest_val KEY.PATH -> value from $data/manifest.json
  python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v=v[k]
print(v)' "$data/manifest.json" "$1"
}
have_data=0
if [ -f "$data/manifest.json" ] &&
   python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))
sys.exit(0 if (m["scale"], m["seed"], m["generator_version"]) == (float(sys.argv[2]), int(sys.argv[3]), 1) else 1)' \
     "$data/manifest.json" "$scale" "$seed"; then
  have_data=1
  say "reusing the dataset in $data"
fi
if [ $have_data = 0 ]; then
  # make_data.py writes ~8.5 GB per unit of scale here (with the staging copy of alice).
  need_kb=$(python3 -c "print(int(8.9e6 * $scale) + 200000)")
  mkdir -p "$src_root"
  rm -rf "$data" "$stage"
  avail_kb=$(df -Pk "$src_root" | awk 'NR==2 {print $4}')
  [ "$avail_kb" -ge "$need_kb" ] ||
    die "$src_root has $((avail_kb / 1024)) MiB free, the dataset needs ~$((need_kb / 1024)) MiB (lower --scale)"
  say "generating the dataset (scale $scale) in $data ..."
  python3 "$here/make_data.py" "$data" --scale "$scale" --seed "$seed" >&2
fi
alice_bytes=$(manifest_val trees.alice.bytes)
mkdir -p "$stage"

stage_alice() {  # stage_alice TREE: make $stage/alice a copy of $data/TREE, the way a nightly push does
  rsync -a --delete "$data/$1/" "$stage/alice/"
}

# ---- measuring ----
T_S='' T_KB='' T_RC=''
timed() {  # timed LOGBASE CMD...: stdout -> LOGBASE.out, stderr -> LOGBASE.err; sets T_S T_KB T_RC
  local base=$1 tf; shift
  tf=$(mktemp "$work/.time.XXXXXX")
  { printf '+'; printf ' %q' "$@"; echo; } >"$base.err"
  sync
  set +e
  /usr/bin/time -f '%e %M' -o "$tf" "$@" >"$base.out" 2>>"$base.err"
  T_RC=$?
  set -e
  read -r T_S T_KB < <(tail -n 1 "$tf")
  rm -f "$tf"
}
record() { printf '%s\t%s\t%s\t%s\n' "$run" "$tool" "$1" "$2" >>"$results"; }
stored() { du -sb "$1" | cut -f1; }
mib() { python3 -c "print(round($1 / 1024, 1))"; }
mb() { python3 -c "print(f'{$1 / 1e6:.1f}')"; }

# Per-tool commands. init REPO; backup REPO USER SRC NAME (run under `timed`, from any cwd).
restic_init() { restic -r "$1" init --repository-version 2 >/dev/null; }
restic_backup() {
  # `.` from inside the source dir: the snapshot root is the tree itself; restic still records the
  # absolute path, which with --host USER selects the right parent snapshot.
  timed "$5" env -C "$3" restic -r "$1" --compression auto backup --json --host "$2" .
}
borg_init() { borg init -e none "$1" >/dev/null; }
borg_backup() {
  # --list --filter=AME names only added, modified and unreadable files: a check on the files cache.
  timed "$5" env -C "$3" borg create --compression zstd,3 --stats --list --filter=AME "$1::$4" .
}
keepfs_init() { "$keepfs" init --store "$1" >/dev/null; }
keepfs_backup() {
  timed "$5" "$keepfs" backup --store "$1" --user "$2" --json "$3"
}
ok_rc() {  # exit codes that mean "snapshot written" (with warnings for some)
  case $tool:$T_RC in
    *:0) return 0 ;;
    restic:3|keepfs:3) say "$tool: WARNING: exit 3, snapshot incomplete (some files unreadable)"; return 0 ;;
    borg:1) say "$tool: WARNING: borg exited 1 (warnings), see $2.err"; return 0 ;;
  esac
  say "$tool: FAILED with exit $T_RC; last lines of $2.err:"
  tail -n 15 "$2.err" | sed 's/^/[bench]   /' >&2
  return 1
}
summary_note() {  # summary_note STEP LOGBASE: what the tool itself reports, to check its caches worked
  case $tool in
    restic) python3 - "$2.out" <<'PY' || true
import json, sys
for line in open(sys.argv[1]):
    try: m = json.loads(line)
    except ValueError: continue
    if m.get("message_type") == "summary":
        print(f"files new/changed/unmodified {m['files_new']}/{m['files_changed']}/"
              f"{m['files_unmodified']}, restic says {m['data_added'] / 1e6:.1f} MB added")
PY
    ;;
    borg) awk '/^A /{a++} /^M /{m++} /^E /{e++} END {printf "files added/modified/error %d/%d/%d\n", a, m, e}' "$2.err" ;;
    keepfs)
      # Also records keepfs's own figures (STEP_reported_*) in the results, next to ours.
      python3 - "$2.out" "$run" "$1" "$results" <<'PY' || true
import json, sys
path, run, step, results = sys.argv[1:]
text = open(path).read().strip()
m = None
for candidate in (text, text.splitlines()[-1] if text else ""):  # whole stdout, or its last line
    try:
        m = json.loads(candidate)
        break
    except ValueError:
        pass
if not isinstance(m, dict):
    print("keepfs printed no JSON summary"); sys.exit()
errs = m.get("errors")
m["errors"] = len(errs) if isinstance(errs, list) else errs
with open(results, "a") as f:
    for k in ("files", "bytes_read", "bytes_new", "bytes_stored", "duration_s", "errors"):
        if isinstance(m.get(k), (int, float)):
            f.write(f"{run}\tkeepfs\t{step}_reported_{k}\t{m[k]}\n")
mb = lambda k: f"{m[k] / 1e6:.1f}" if isinstance(m.get(k), (int, float)) else "?"
print(f"keepfs says files {m.get('files')}, read {mb('bytes_read')} MB, new {mb('bytes_new')} MB, "
      f"stored {mb('bytes_stored')} MB, errors {m.get('errors')}")
PY
    ;;
  esac
}

step() {  # step STEP USER SRC: one backup into $repo, timed; records STEP_s, STEP_rss_mib, STEP_added_b
  local name=$1 user=$2 src=$3 base=$logs/run$run-$tool-$1 before after
  before=$(stored "$repo")
  say "$tool: $name ($user from ${src#"$src_root"/}) ..."
  "${tool}_backup" "$repo" "$user" "$src" "$user-$name" "$base"
  ok_rc "$tool" "$base" || { record failed_step "$name"; return 1; }
  after=$(stored "$repo")
  record "${name}_s" "$T_S"
  record "${name}_rss_mib" "$(mib "$T_KB")"
  record "${name}_added_b" "$((after - before))"
  local note; note=$(summary_note "$name" "$base")
  say "$tool: $name took $T_S s, RSS $(mib "$T_KB") MiB, +$(mb $((after - before))) MB stored${note:+; $note}"
}

bench_repo_tool() {  # keepfs, restic, borg: the four steps in one fresh repository
  repo=$work/repos/$tool
  rm -rf "$repo" "$work/cache"
  mkdir -p "$work/repos" "$work/cache"
  export RESTIC_PASSWORD=keepfs-bench RESTIC_CACHE_DIR=$work/cache/restic
  export BORG_BASE_DIR=$work/cache/borg BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
  export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
  "${tool}_init" "$repo" || { say "$tool: init failed"; record failed_step init; return 0; }
  stage_alice alice
  step first alice "$stage/alice" || return 0
  record first_mbps "$(python3 -c "print(round($alice_bytes / 1e6 / max($T_S, 0.01), 1))")"
  record stored_alice_b "$(stored "$repo")"
  step bob bob "$data/bob" || return 0
  stage_alice alice-day2
  step day2 alice "$stage/alice" || return 0
  step many_first many "$data/many" || return 0
  step many many "$data/many" || return 0
  record stored_total_b "$(stored "$repo")"
  [ "$keep_repos" = 1 ] || rm -rf "$repo"
}

bench_tar() {
  local out=$work/repos/tar base=$logs/run$run-tar-first
  rm -rf "$out"; mkdir -p "$out"
  stage_alice alice
  say "tar: first (tar c alice | zstd -3 -T0) ..."
  timed "$base" bash -c 'set -o pipefail; tar -cf - -C "$1" . | zstd -3 -T0 -q -c >"$2"' \
    _ "$stage/alice" "$out/alice.tar.zst"
  ok_rc tar "$base" || { record failed_step first; return 0; }
  record first_s "$T_S"
  record first_rss_mib "$(mib "$T_KB")"
  record first_mbps "$(python3 -c "print(round($alice_bytes / 1e6 / max($T_S, 0.01), 1))")"
  record stored_alice_b "$(stored "$out")"
  say "tar: first took $T_S s, RSS $(mib "$T_KB") MiB, $(mb "$(stored "$out")") MB stored"
  [ "$keep_repos" = 1 ] || rm -rf "$out"
}

bench_raw() {
  local base=$logs/run$run-raw-first
  stage_alice alice
  say "raw: reading alice (tar c alice | cat > /dev/null) ..."
  # Through cat: GNU tar writing straight to /dev/null skips reading file data.
  timed "$base" bash -c 'set -o pipefail; tar -cf - -C "$1" . | cat >/dev/null' _ "$stage/alice"
  ok_rc raw "$base" || { record failed_step first; return 0; }
  record first_s "$T_S"
  record first_mbps "$(python3 -c "print(round($alice_bytes / 1e6 / max($T_S, 0.01), 1))")"
  say "raw: read alice in $T_S s"
}

versions() {
  local t
  for t in "${tools[@]}"; do
    case $t in
      restic) printf 'restic\t%s\n' "$(restic version 2>/dev/null | head -n1)" ;;
      borg) printf 'borg\t%s\n' "$(borg --version 2>/dev/null)" ;;
      tar) printf 'tar\t%s; zstd %s\n' "$(tar --version | head -n1)" "$(zstd --version | grep -o 'v[0-9.]*' | head -n1)" ;;
      keepfs) local v; v=$("$keepfs" --version 2>/dev/null | head -n1) || true
              printf 'keepfs\t%s (%s)\n' "${v:-keepfs}" "$keepfs" ;;
    esac
  done
}

say "tools: ${tools[*]}; scale $scale; runs $runs; work $work; source $src_root"
for run in $(seq 1 "$runs"); do
  for tool in "${tools[@]}"; do
    case $tool in
      raw) bench_raw ;;
      tar) bench_tar ;;
      *) bench_repo_tool ;;
    esac
  done
done

# ---- report ----
versions >"$work/versions.tsv"
python3 - "$results" "$data/manifest.json" "$work/versions.tsv" "$json_out" "$runs" "$scale" \
  "$(IFS=,; echo "${tools[*]}")" "$work" "$src_root" <<'PY'
import json, statistics, sys

results, manifest_path, versions_path, json_out, runs, scale, tools, work, src = sys.argv[1:]
tools = tools.split(",")
manifest = json.load(open(manifest_path))
versions = dict(l.rstrip("\n").split("\t", 1) for l in open(versions_path) if "\t" in l)

per_run, failed = {}, {}
for line in open(results):
    run, tool, metric, value = line.rstrip("\n").split("\t")
    if metric == "failed_step":
        failed.setdefault(tool, []).append(f"run {run}: {value}")
        continue
    per_run.setdefault(int(run), {}).setdefault(tool, {})[metric] = float(value)

median = {}
for t in tools:
    metrics = sorted({m for r in per_run.values() for m in r.get(t, {})})
    median[t] = {m: statistics.median(r[t][m] for r in per_run.values() if m in r.get(t, {}))
                 for m in metrics}

M = 1e6
# (label, metric, scale, format, better): better "hi" = higher is better
rows = [
    ("first backup, MB/s", "first_mbps", 1, "{:.0f}", "hi"),
    ("first backup, s", "first_s", 1, "s", "lo"),
    ("first backup, peak RSS MiB", "first_rss_mib", 1, "{:.0f}", "lo"),
    ("stored after alice, MB", "stored_alice_b", M, "{:.1f}", "lo"),
    ("bob into the same repo, s", "bob_s", 1, "s", "lo"),
    ("bob, MB added", "bob_added_b", M, "{:.1f}", "lo"),
    ("alice day 2, s", "day2_s", 1, "s", "lo"),
    ("alice day 2, MB added", "day2_added_b", M, "{:.1f}", "lo"),
    (f"many/ unchanged re-backup ({manifest['trees']['many']['files']:,} files), s",
     "many_s", 1, "s", "lo"),
]
cols = [(t, n) for t, n in (("keepfs", "keepfs"), ("restic", "restic"), ("borg", "borg"),
                            ("tar", "tar+zstd -3"), ("raw", "raw (source read)")) if t in tools]
ratios = [(p, f"keepfs vs {p}") for p in ("restic", "borg") if "keepfs" in tools and p in tools]
dedup_tools = {"keepfs", "restic", "borg"}

def fmt_value(v, fmt):
    if fmt == "s":  # seconds: two decimals below 10 s
        return f"{v:.2f}" if v < 10 else f"{v:.1f}"
    return fmt.format(v)

def cell(t, metric, div, fmt):
    v = median.get(t, {}).get(metric)
    if v is not None:
        return fmt_value(v / div, fmt)
    if t in failed:
        return "FAIL"
    if t == "raw" and metric not in ("first_mbps", "first_s"):
        return ""
    if t in ("tar", "raw") and not metric.startswith("first") and metric != "stored_alice_b":
        return "n/a"
    return ""

def ratio(metric, peer):
    a, b = median.get("keepfs", {}).get(metric), median.get(peer, {}).get(metric)
    if a is None or b is None or b == 0:
        return ""
    return f"{a / b:.2f}x"

t = manifest["trees"]
c = manifest["alice_day2_changes"]
print(f"Dataset (scale {float(scale):g}): alice {t['alice']['files']:,} files, "
      f"{t['alice']['bytes'] / M:,.1f} MB; bob {t['bob']['files']:,} files, "
      f"{t['bob']['bytes'] / M:,.1f} MB ({manifest['bob_unique']['bytes'] / M:,.1f} MB unique); "
      f"alice day 2: {c['modified']} modified, {c['deleted']} deleted, {c['new']} new; "
      f"many {t['many']['files']:,} files.")
print(f"Source on tmpfs ({src}), repositories on disk ({work}). "
      + ("Medians of %s runs." % runs if int(runs) > 1 else "One run."))
print("Versions: " + "; ".join(versions[k] for k in ("keepfs", "restic", "borg", "tar") if k in versions))
print()
head = ["metric"] + [n for _, n in cols] + [n for _, n in ratios]
print("| " + " | ".join(head) + " |")
print("|" + "---|" * len(head))
for label, metric, div, fmt, better in rows:
    arrow = " (higher is better)" if better == "hi" else ""
    line = [label + arrow] + [cell(t, metric, div, fmt) for t, _ in cols]
    line += [ratio(metric, p) for p, _ in ratios]
    print("| " + " | ".join(line) + " |")
if ratios:
    print()
    print("Ratios are keepfs / peer: above 1 is better for MB/s, below 1 is better for everything else.")
for tl, steps in failed.items():
    print(f"\n{tl} FAILED at: {', '.join(steps)} (logs in {work}/logs)")

if json_out:
    out = {"config": {"scale": float(scale), "runs": int(runs), "tools": tools, "work": work,
                      "source": src, "versions": versions},
           "dataset": manifest,
           "runs": [per_run[r] for r in sorted(per_run)],
           "median": median, "failed": failed,
           "units": {"_s": "seconds", "_b": "bytes", "_mbps": "1e6 bytes/s", "_rss_mib": "MiB"}}
    with open(json_out, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
PY
if [ -n "$json_out" ]; then say "raw numbers written to $json_out"; fi
say "logs in $logs"
