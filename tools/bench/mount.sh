#!/usr/bin/env bash
# shellcheck disable=SC2016  # bash -c scripts take their arguments as $1, $2 on purpose
# keepfs mount benchmark: browsing and reading backups through `keepfs mount`, `restic mount` and
# `borg mount`, and the same tree on the local disk ("native"), side by side, in one run, on the
# same generated data (tools/bench/make_data.py). Prints a markdown table to stdout.
#
#   tools/bench/mount.sh [--scale S] [--work DIR] [--keepfs PATH] [--runs N] [--only tool,...]
#                        [--json FILE] [--src DIR] [--seed N] [--keep-src] [--keep-repos]
#                        [--drop-caches native|all|none] [--native-on disk|tmpfs] [--timeout S]
#                        [--via-latest] [--no-verify]
#
#   --scale S     dataset size, 1.0 = full (alice ~2.0 GB with a 1 GiB file, many/ 100k files;
#                 ~6.5 GB in /dev/shm in all)
#   --work DIR    repositories, caches, mount points, the native copy and logs, on disk
#                 (default /tmp/keepfs-bench-mount)
#   --keepfs P    keepfs binary (default $KEEPFS, else build/tools/keepfs under the repo root)
#   --runs N      repeat every measurement N times (the repositories are built once); medians shown
#   --only LIST   comma-separated subset of: keepfs,restic,borg,native
#   --json FILE   also write every raw number (each run, and the medians) as JSON
#   --src DIR     where the source data lives (default /dev/shm/keepfs-bench-src, a tmpfs; the
#                 same place as run.sh's, so a dataset kept with --keep-src serves both)
#   --keep-src    keep the generated source data afterwards (reused by a later run with the same
#                 scale and seed); by default it is deleted on exit
#   --keep-repos  keep the repositories and the native copy; by default they are deleted on exit
#   --drop-caches what `sync; echo 3 > /proc/sys/vm/drop_caches` runs before (needs root):
#                 native (default): before every cold native step only; a cold FUSE step is a
#                 fresh mount, with the repository files possibly still in the page cache;
#                 all: also before every fresh mount, so repositories are read from disk too;
#                 none: never (native "cold" steps are then warm)
#   --native-on   where the native tree is read from: disk (default; a `cp -a` copy of alice and
#                 many under --work, so dropping the page cache makes it cold) or tmpfs (the
#                 source itself; never cold)
#   --timeout S   give up on one step after S seconds (default 900); the cell then shows ">S"
#   --via-latest  work through the `latest` symlinks (keepfs MP/USER/latest/..., restic
#                 MP/hosts/HOST/latest/...) instead of the snapshot directories they point to
#   --no-verify   skip the final correctness check of the keepfs mount against the source
#
# Each tool holds two snapshots in one repository: alice (its 1 GiB file big/binaries.img and
# ~63k entries) and many (100k small files). Restic and borg back up `.` from inside the source
# dir (as run.sh does), so every tool's snapshot root is the tree itself:
#   keepfs MP/alice/latest/   restic MP/hosts/alice/latest/   borg MP/alice/   native WORK/native/alice/
# A mount is usable once that path lists; the steps then work in the directory `latest` points to
# (`readlink -f`), since `ls -lR` and `cat` look up every path from the top.
# For each tool, every run measures, each step on a fresh mount (unmount, mount again):
#   A. mount until `ls` of alice's snapshot root succeeds; `cat big/binaries.img > /dev/null`
#      (cold), then three times more on the same mount (warm: the median of the three), as MB/s
#   B. mount until `ls` of many's root succeeds; `find ROOT | wc -l` (cold)
#   C. mount again; `ls -lR ROOT > /dev/null` (cold) on many
#   D. mount again (alice); `tar -cf - -C ROOT . | cat > /dev/null` (cold; GNU tar writing straight
#      to /dev/null would skip reading file data)
# and the mount process's VmRSS (/proc/PID/status) after each step. "Mount" times run from the start
# of the mount command until the listing succeeds. For native, a "fresh mount" is a page-cache drop.
# Each timed step also measures the CPU that other processes used meanwhile, and the time the
# hypervisor stole from this VM (steal in /proc/stat); either above 0.3 cores flags the step (a
# warning, and a note under the table):
# the machine is shared and FUSE round trips suffer first from a busy CPU.
# Then (unless --no-verify) the keepfs mount is checked against the source: every entry's type,
# mode, owner, size, mtime and link target (`find -printf`), and every file's bytes (`diff -r`).
set -euo pipefail
export LC_ALL=C  # a '.' in $EPOCHREALTIME; plain `ls` and `sort`

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$here/../.." && pwd)

scale=1
work=/tmp/keepfs-bench-mount
keepfs=${KEEPFS:-$repo_root/build/tools/keepfs}
runs=1
only=keepfs,restic,borg,native
json_out=
src_root=/dev/shm/keepfs-bench-src
seed=1
keep_src=0
keep_repos=0
drop_mode=native
native_on=disk
step_timeout=900
verify=1
via_latest=0
mount_timeout=300  # seconds a mount may take to become listable

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
    --drop-caches) drop_mode=$2; shift 2 ;;
    --native-on) native_on=$2; shift 2 ;;
    --timeout) step_timeout=$2; shift 2 ;;
    --no-verify) verify=0; shift ;;
    --via-latest) via_latest=1; shift ;;
    -h|--help) usage 0 ;;
    *) printf 'unknown argument: %s\n\n' "$1" >&2; usage 2 ;;
  esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer"
[[ $scale =~ ^[0-9]*\.?[0-9]+$ ]] || die "--scale must be a number"
[[ $step_timeout =~ ^[1-9][0-9]*$ ]] || die "--timeout must be a positive integer (seconds)"
case $drop_mode in native|all|none) ;; *) die "--drop-caches must be native, all or none" ;; esac
case $native_on in disk|tmpfs) ;; *) die "--native-on must be disk or tmpfs" ;; esac
if [ -n "$json_out" ]; then
  json_out=$(cd "$(dirname "$json_out")" && pwd)/$(basename "$json_out")
fi

tools=()
for t in ${only//,/ }; do
  case $t in
    keepfs|restic|borg|native) tools+=("$t") ;;
    *) die "--only: unknown tool '$t' (choose from keepfs,restic,borg,native)" ;;
  esac
done
has_tool() { local t; for t in "${tools[@]}"; do [ "$t" = "$1" ] && return 0; done; return 1; }
drop_tool() { local t keep=(); for t in "${tools[@]}"; do [ "$t" = "$1" ] || keep+=("$t"); done; tools=("${keep[@]}"); }

# ---- prerequisites: install nothing; die for what every column needs, skip a tool that is missing ----
missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$1 (apt-get install $2)"); }
need python3 python3
need tar tar
need find findutils
need timeout coreutils
need mountpoint util-linux
if [ ${#missing[@]} -gt 0 ]; then
  say "missing tools:"; for m in "${missing[@]}"; do say "  $m"; done
  die "install them first"
fi
skip() { say "WARNING: $1; skipping $2"; drop_tool "$2"; }
fuse_ok=1
if [ ! -c /dev/fuse ]; then fuse_ok=0; fi
for t in keepfs restic borg; do
  has_tool "$t" || continue
  [ $fuse_ok = 1 ] || { skip "/dev/fuse is missing (apt-get install fuse3)" "$t"; continue; }
  case $t in
    keepfs)
      if [ ! -x "$keepfs" ]; then
        skip "keepfs binary not found at $keepfs (build it, or pass --keepfs PATH / set KEEPFS)" keepfs
      else
        keepfs=$(cd "$(dirname "$keepfs")" && pwd)/$(basename "$keepfs")
      fi ;;
    restic)
      command -v restic >/dev/null 2>&1 || { skip "restic not found (apt-get install restic)" restic; continue; }
      command -v fusermount3 >/dev/null 2>&1 || command -v fusermount >/dev/null 2>&1 ||
        skip "fusermount not found (apt-get install fuse3)" restic ;;
    borg)
      # (borg mount also needs python3-llfuse or python3-pyfuse3: without, its mount fails)
      command -v borg >/dev/null 2>&1 || skip "borg not found (apt-get install borgbackup)" borg ;;
  esac
done
[ ${#tools[@]} -gt 0 ] || die "no tool left to measure"
fusermount_cmd=fusermount3
command -v fusermount3 >/dev/null 2>&1 || fusermount_cmd=fusermount

can_drop=1
if [ "$drop_mode" != none ] && ! { [ -w /proc/sys/vm/drop_caches ] && [ "$(id -u)" = 0 ]; }; then
  say "WARNING: cannot write /proc/sys/vm/drop_caches (not root): native \"cold\" steps will be warm"
  can_drop=0
fi
[ "$drop_mode" = none ] && can_drop=0

# ---- layout ----
mkdir -p "$work"
work=$(cd "$work" && pwd)
data=$src_root/data            # make_data.py output: alice/ bob/ alice-day2/ many/ manifest.json
logs=$work/logs
mnt=$work/mnt                  # mnt/TOOL: each tool's mount point
native_dir=$work/native        # with --native-on disk: copies of alice/ and many/
results=$work/results.tsv      # run <TAB> tool <TAB> metric <TAB> value
mkdir -p "$logs" "$mnt"
: >"$results"

export RESTIC_PASSWORD=keepfs-bench RESTIC_CACHE_DIR=$work/cache/restic
export BORG_BASE_DIR=$work/cache/borg BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes

MOUNT_PID=''       # the mount process of the tool being measured (started by this script)
MOUNT_TOOL=''
unmount_any() {  # unmount_any MP: whatever is mounted there, politely first
  local mp=$1
  mountpoint -q "$mp" 2>/dev/null || return 0
  case $MOUNT_TOOL in
    keepfs) timeout 60 "$keepfs" umount "$mp" >/dev/null 2>&1 || true ;;
    borg) timeout 60 borg umount "$mp" >/dev/null 2>&1 || true ;;
    restic) if [ -n "$MOUNT_PID" ]; then kill -INT "$MOUNT_PID" 2>/dev/null || true; fi ;;
  esac
  for _ in $(seq 1 100); do mountpoint -q "$mp" 2>/dev/null || break; sleep 0.1; done
  mountpoint -q "$mp" 2>/dev/null && { "$fusermount_cmd" -u "$mp" 2>/dev/null || "$fusermount_cmd" -uz "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null || true; }
  return 0
}
cleanup() {
  local mp
  for mp in "$mnt"/*; do [ -d "$mp" ] && unmount_any "$mp"; done
  if [ -n "$MOUNT_PID" ] && kill -0 "$MOUNT_PID" 2>/dev/null; then
    kill -TERM "$MOUNT_PID" 2>/dev/null || true
    sleep 1
    kill -KILL "$MOUNT_PID" 2>/dev/null || true
  fi
  if [ "$keep_src" = 0 ]; then rm -rf "$data"; rmdir "$src_root" 2>/dev/null || true; fi
  if [ "$keep_repos" = 0 ]; then rm -rf "$work/repos" "$work/cache" "$native_dir"; fi
  rmdir "$mnt"/* "$mnt" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fstype=$(stat -f -c %T "$(dirname "$src_root")" 2>/dev/null || echo unknown)
[ "$fstype" = tmpfs ] || say "WARNING: $src_root is on $fstype, not tmpfs"

# ---- dataset (the same checks and place as run.sh) ----
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
  need_kb=$(python3 -c "print(int(6.6e6 * $scale) + 200000)")
  mkdir -p "$src_root"
  rm -rf "$data"
  avail_kb=$(df -Pk "$src_root" | awk 'NR==2 {print $4}')
  [ "$avail_kb" -ge "$need_kb" ] ||
    die "$src_root has $((avail_kb / 1024)) MiB free, the dataset needs ~$((need_kb / 1024)) MiB (lower --scale)"
  say "generating the dataset (scale $scale) in $data ..."
  python3 "$here/make_data.py" "$data" --scale "$scale" --seed "$seed" >&2
fi
big_rel=big/binaries.img
[ -f "$data/alice/$big_rel" ] || die "$data/alice/$big_rel is missing: not a make_data.py dataset?"
big_bytes=$(stat -c %s "$data/alice/$big_rel")
alice_bytes=$(manifest_val trees.alice.bytes)

# ---- helpers ----
elapsed() { python3 -c "print(f'{$2 - $1:.3f}')"; }
record() { printf '%s\t%s\t%s\t%s\n' "$run" "$tool" "$1" "$2" >>"$results"; }
drop_caches() { [ $can_drop = 1 ] || return 0; sync; echo 3 >/proc/sys/vm/drop_caches; }
rss_mib() {  # VmRSS of the mount process in MiB, or nothing
  [ -n "$MOUNT_PID" ] || return 0
  awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$MOUNT_PID/status" 2>/dev/null || true
}
record_rss() {  # VmRSS for the table; RssAnon (heap, without mapped files) for --json
  local r; r=$(rss_mib); [ -z "$r" ] || record "rss_$1_mib" "$r"
  r=$(awk '/^RssAnon:/ {printf "%.1f", $2 / 1024}' "/proc/$MOUNT_PID/status" 2>/dev/null || true)
  [ -z "$r" ] || record "anon_$1_mib" "$r"
}
rss_note() { local r; r=$(rss_mib); [ -z "$r" ] || printf ', RSS %s MiB' "$r"; }
find_mount_pid() {  # find_mount_pid MP: the process whose command line has "mount" and MP
  python3 - "$1" <<'PY'
import os, sys
mp, me = sys.argv[1], os.getpid()
for p in sorted(os.listdir("/proc"), key=lambda s: int(s) if s.isdigit() else 0):
    if not p.isdigit() or int(p) == me:
        continue
    try:
        args = open(f"/proc/{p}/cmdline", "rb").read().decode(errors="replace").split("\0")
    except OSError:
        continue
    if "mount" in args and mp in args:
        print(p); break
PY
}

# ---- repositories: alice and many in one repository per tool (untimed, logged) ----
keepfs_setup() {
  local repo=$work/repos/keepfs
  "$keepfs" --store "$repo" init -q
  "$keepfs" --store "$repo" backup --user alice "$data/alice" >"$logs/keepfs-backup-alice.out" 2>"$logs/keepfs-backup-alice.err"
  "$keepfs" --store "$repo" backup --user many "$data/many" >"$logs/keepfs-backup-many.out" 2>"$logs/keepfs-backup-many.err"
}
restic_setup() {
  local repo=$work/repos/restic
  restic -r "$repo" init --repository-version 2 >/dev/null
  env -C "$data/alice" restic -r "$repo" --compression auto backup --host alice . \
    >"$logs/restic-backup-alice.out" 2>"$logs/restic-backup-alice.err"
  env -C "$data/many" restic -r "$repo" --compression auto backup --host many . \
    >"$logs/restic-backup-many.out" 2>"$logs/restic-backup-many.err"
}
borg_setup() {
  local repo=$work/repos/borg
  borg init -e none "$repo" >/dev/null
  env -C "$data/alice" borg create --compression zstd,3 "$repo::alice" . \
    >"$logs/borg-backup-alice.out" 2>"$logs/borg-backup-alice.err"
  env -C "$data/many" borg create --compression zstd,3 "$repo::many" . \
    >"$logs/borg-backup-many.out" 2>"$logs/borg-backup-many.err"
}
native_setup() {
  [ "$native_on" = disk ] || return 0
  rm -rf "$native_dir"; mkdir -p "$native_dir"
  cp -a "$data/alice" "$data/many" "$native_dir/"
  sync
}

# root NAME: the snapshot root of alice or many (trailing slash: latest is a symlink)
keepfs_root() { printf '%s/%s/latest/' "$mnt/keepfs" "$1"; }
restic_root() { printf '%s/hosts/%s/latest/' "$mnt/restic" "$1"; }
borg_root() { printf '%s/%s/' "$mnt/borg" "$1"; }
native_root() {
  if [ "$native_on" = disk ]; then printf '%s/%s/' "$native_dir" "$1"; else printf '%s/%s/' "$data" "$1"; fi
}

# start the mount in the background or as a daemon; sets MOUNT_PID (0 on failure to start)
keepfs_mount() {
  local err=$logs/run$run-keepfs-mount-$1.err
  "$keepfs" --store "$work/repos/keepfs" mount "$mnt/keepfs" 2>"$err" || return 1
  MOUNT_PID=$(sed -n 's/.*(pid \([0-9][0-9]*\)).*/\1/p' "$err" | head -n1)
  [ -n "$MOUNT_PID" ] || MOUNT_PID=$(find_mount_pid "$mnt/keepfs")
}
restic_mount() {
  restic -r "$work/repos/restic" mount "$mnt/restic" >"$logs/run$run-restic-mount-$1.out" 2>&1 &
  MOUNT_PID=$!
}
borg_mount() {
  borg mount "$work/repos/borg" "$mnt/borg" >"$logs/run$run-borg-mount-$1.out" 2>&1 || return 1
  MOUNT_PID=$(find_mount_pid "$mnt/borg")
}

umount_tool() {  # unmount the current tool and wait for its mount process to end
  [ "$tool" = native ] && return 0
  unmount_any "$mnt/$tool"
  if [ -n "$MOUNT_PID" ]; then
    for _ in $(seq 1 300); do kill -0 "$MOUNT_PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$MOUNT_PID" 2>/dev/null; then
      say "$tool: WARNING: mount process $MOUNT_PID still running 30 s after unmounting; killing it"
      kill -KILL "$MOUNT_PID" 2>/dev/null || true
    fi
    wait "$MOUNT_PID" 2>/dev/null || true
  fi
  MOUNT_PID=''
}

ROOT=''  # the snapshot root the steps work in, set by fresh
fresh() {  # fresh NAME: (re)mount and wait until NAME's snapshot root lists; records mount_NAME_s
  local name=$1 root t0 t1 deadline
  root=$("${tool}_root" "$name")
  umount_tool
  if [ "$tool" = native ] || [ "$drop_mode" = all ]; then drop_caches; fi
  t0=$EPOCHREALTIME
  if [ "$tool" != native ]; then
    MOUNT_TOOL=$tool
    "${tool}_mount" "$name" || { say "$tool: mount command failed (logs in $logs)"; return 1; }
  fi
  deadline=$(( ${t0%.*} + mount_timeout ))
  until ls "$root" >/dev/null 2>&1; do
    if [ -n "$MOUNT_PID" ] && ! kill -0 "$MOUNT_PID" 2>/dev/null; then
      say "$tool: mount process exited before $root was listable"; return 1
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      say "$tool: $root not listable after $mount_timeout s"; return 1
    fi
    sleep 0.01
  done
  t1=$EPOCHREALTIME
  # Steps work in the snapshot's own directory, `latest` resolved (unless --via-latest)
  if [ "$via_latest" = 1 ]; then ROOT=$root; else ROOT=$(readlink -f "$root")/; fi
  record "mount_${name}_s" "$(elapsed "$t0" "$t1")"
  record_rss "mount_$name"
  say "$tool: mounted, $name root listable after $(elapsed "$t0" "$t1") s$(rss_note)"
}

T_S='' T_RC='' T_OUT=''
clk_tck=$(getconf CLK_TCK)
busy_limit=0.3   # cores of other load during a step that mark its figure unreliable
cpu_busy_ticks() { awk '/^cpu / {print $2 + $3 + $4; exit}' /proc/stat; }  # user nice system
cpu_steal_ticks() { awk '/^cpu / {print $9; exit}' /proc/stat; }
mount_cpu_ticks() {  # utime + stime of the mount process (fields after the parenthesised name)
  if [ -n "$MOUNT_PID" ] && [ -r "/proc/$MOUNT_PID/stat" ]; then
    sed 's/.*) //' "/proc/$MOUNT_PID/stat" | awk '{print $12 + $13}'
  else echo 0; fi
}
timed() {  # timed LABEL CMD...: runs CMD under `timeout`; sets T_S, T_RC, T_OUT (stdout, trimmed)
  local label=$1 t0 t1 base=$logs/run$run-$tool-$1; shift
  { printf '+'; printf ' %q' "$@"; echo; } >"$base.err"
  local busy0 busy1 mcpu0 mcpu1 other steal0 steal1 steal
  busy0=$(cpu_busy_ticks); mcpu0=$(mount_cpu_ticks); steal0=$(cpu_steal_ticks)
  times >"$work/.times0"  # (in this shell: a subshell would not see this shell's children)
  set +e
  t0=$EPOCHREALTIME
  timeout "$step_timeout" "$@" >"$base.out" 2>>"$base.err"
  T_RC=$?
  t1=$EPOCHREALTIME
  set -e
  times >"$work/.times1"
  busy1=$(cpu_busy_ticks); mcpu1=$(mount_cpu_ticks); steal1=$(cpu_steal_ticks)
  T_S=$(elapsed "$t0" "$t1")
  T_OUT=$(head -c 200 "$base.out" | tr -d ' \n')
  # Other load: CPU busy on the machine, less the step's own processes and the mount process;
  # and the CPU time the hypervisor stole from this VM (other VMs' load: ~0.1 core when idle).
  other=$(python3 -c "
def kids(path):
    u, s = open(path).read().split('\\n')[1].split()
    return sum(int(x.split('m')[0]) * 60 + float(x.split('m')[1].rstrip('s')) for x in (u, s))
tck = $clk_tck
used = ($busy1 - $busy0) / tck - ($mcpu1 - $mcpu0) / tck - (kids('$work/.times1') - kids('$work/.times0'))
print(f'{max(0.0, used) / max($T_S, 0.01):.2f}')")
  record "other_cores_$label" "$other"
  steal=$(python3 -c "print(f'{($steal1 - $steal0) / $clk_tck / max($T_S, 0.01):.2f}')")
  record "steal_cores_$label" "$steal"
  # (CPU times come in 10 ms ticks: too coarse to judge steps shorter than 0.3 s)
  if python3 -c "import sys; sys.exit(0 if $other > $busy_limit and $T_S >= 0.3 else 1)"; then
    say "$tool: WARNING: other processes kept $other cores busy during $label: its figure is unreliable"
  fi
  if python3 -c "import sys; sys.exit(0 if $steal > $busy_limit and $T_S >= 0.3 else 1)"; then
    say "$tool: WARNING: the hypervisor stole $steal cores during $label: its figure is unreliable"
  fi
  if [ "$T_RC" = 124 ]; then
    say "$tool: $label timed out after $step_timeout s"
  elif [ "$T_RC" != 0 ]; then
    say "$tool: WARNING: $label exited $T_RC; last lines of $base.err:"
    tail -n 5 "$base.err" | sed 's/^/[bench]   /' >&2
  fi
}
result() {  # result METRIC [MB/s-metric BYTES]: record the step's time (or a timeout / failure)
  if [ "$T_RC" = 124 ]; then record "${1}_timeout" "$step_timeout"; return 1; fi
  record "$1" "$T_S"
  [ "$T_RC" = 0 ] || record "${1}_rc" "$T_RC"
  if [ $# -ge 3 ]; then record "$2" "$(python3 -c "print(round($3 / 1e6 / max($T_S, 1e-3), 1))")"; fi
  return 0
}

measure_tool() {  # one run of steps A-D for $tool
  local a m
  # A. cold and warm read of the 1 GiB file
  if fresh alice; then
    a=$ROOT
    timed read_cold bash -c 'cat "$1" >/dev/null' _ "$a$big_rel"
    result read_cold_s read_cold_mbps "$big_bytes" && record_rss read_cold
    say "$tool: cold read $T_S s ($(python3 -c "print(round($big_bytes / 1e6 / max($T_S, 1e-3)))") MB/s)$(rss_note)"
    # Warm: three reads (a page-cache read of 1 GiB takes ~0.25 s, so one is mostly noise)
    for _ in 1 2 3; do
      timed read_warm bash -c 'cat "$1" >/dev/null' _ "$a$big_rel"
      result read_warm_s read_warm_mbps "$big_bytes" && record_rss read_warm
      say "$tool: warm read $T_S s ($(python3 -c "print(round($big_bytes / 1e6 / max($T_S, 1e-3)))") MB/s)$(rss_note)"
      [ "$T_RC" != 124 ] || break
    done
  else record failed_step mount_alice; fi
  # B. find
  if fresh many; then
    m=$ROOT
    timed find bash -c 'set -o pipefail; find "$1" | wc -l' _ "$m"
    if result find_s; then
      record_rss find
      [[ $T_OUT =~ ^[0-9]+$ ]] && record find_entries "$T_OUT"
    fi
    say "$tool: find | wc -l: $T_OUT entries in $T_S s$(rss_note)"
  else record failed_step mount_many; fi
  # C. ls -lR
  if fresh many; then
    m=$ROOT
    timed lslr bash -c 'ls -lR "$1" >/dev/null' _ "$m"
    result lslr_s && record_rss lslr
    say "$tool: ls -lR $T_S s$(rss_note)"
  else record failed_step mount_many; fi
  # D. tar of alice
  if fresh alice; then
    a=$ROOT
    timed tar bash -c 'set -o pipefail; tar -cf - -C "$1" . | cat >/dev/null' _ "$a"
    result tar_s tar_mbps "$alice_bytes" && record_rss tar
    say "$tool: tar alice $T_S s$(rss_note)"
  else record failed_step mount_alice; fi
  umount_tool
}

verify_keepfs() {  # the keepfs mount against the source: metadata of every entry, bytes of every file
  local name root ok=1 n
  say "keepfs: verifying the mount against the source ..."
  fresh alice || { record verify_failed 1; return 0; }
  for name in alice many; do
    root=$(readlink -f "$(keepfs_root "$name")")/
    for side in src mnt; do
      local dir=$root; [ $side = src ] && dir=$data/$name/
      # type mode uid gid size(not for dirs) mtime path -> target
      (cd "$dir" && find . -printf '%y %#m %U %G %s %T@ %p -> %l\n' |
        awk '$1 == "d" { $5 = "-" } { print }' | LC_ALL=C sort) >"$logs/verify-$name.$side"
    done
    n=$(diff "$logs/verify-$name.src" "$logs/verify-$name.mnt" | grep -c '^[<>]' || true)
    record "verify_${name}_meta_diff_lines" "$n"
    if [ "$n" != 0 ]; then
      ok=0
      say "keepfs: WARNING: $name: metadata differs from the source ($n diff lines; < source, > mount):"
      diff "$logs/verify-$name.src" "$logs/verify-$name.mnt" | grep '^[<>]' | head -n 10 | sed 's/^/[bench]   /' >&2
    fi
    n=$(diff -rq --no-dereference "$data/$name" "$root" 2>&1 | tee "$logs/verify-$name.content" | wc -l || true)
    record "verify_${name}_content_diff_files" "$n"
    if [ "$n" != 0 ]; then
      ok=0
      say "keepfs: WARNING: $name: contents differ from the source ($n lines of diff -rq):"
      head -n 10 "$logs/verify-$name.content" | sed 's/^/[bench]   /' >&2
    fi
  done
  umount_tool
  [ $ok = 0 ] || say "keepfs: the mount matches the source (metadata and contents of alice and many)"
}

versions() {
  local t
  for t in "${tools[@]}"; do
    case $t in
      restic) printf 'restic\t%s\n' "$(restic version 2>/dev/null | head -n1)" ;;
      borg) printf 'borg\t%s\n' "$(borg --version 2>/dev/null)" ;;
      keepfs) local v; v=$("$keepfs" --version 2>/dev/null | head -n1) || true
              printf 'keepfs\t%s (%s)\n' "${v:-keepfs}" "$keepfs" ;;
      native) printf 'native\t%s on %s\n' "$(native_root alice)" \
                "$(df --output=fstype "$(native_root alice)" 2>/dev/null | tail -n1 || echo '?')" ;;
    esac
  done
}

# ---- run ----
say "tools: ${tools[*]}; scale $scale; runs $runs; work $work; source $src_root;" \
    "page-cache drops: $drop_mode; native on $native_on"
for mp in "$mnt"/*; do
  if mountpoint -q "$mp" 2>/dev/null; then die "something is mounted at $mp: unmount it first"; fi
done
rm -rf "$work/repos" "$work/cache"
mkdir -p "$work/repos" "$work/cache"
run=0
for tool in "${tools[@]}"; do
  say "$tool: preparing (alice and many) ..."
  t0=$EPOCHREALTIME
  if ! "${tool}_setup"; then
    say "$tool: preparing FAILED (logs in $logs); skipping it"
    record failed_step setup
    continue
  fi
  record setup_s "$(elapsed "$t0" "$EPOCHREALTIME")"
  [ "$tool" = native ] || mkdir -p "$mnt/$tool"
done
for run in $(seq 1 "$runs"); do
  for tool in "${tools[@]}"; do
    grep -q "^0"$'\t'"$tool"$'\t'"failed_step" "$results" && continue
    say "$tool: run $run ..."
    MOUNT_PID=''
    measure_tool
  done
done
run=v  # the verification's own mount is not counted among the measurements
if [ "$verify" = 1 ] && has_tool keepfs && ! grep -q "^0"$'\t'"keepfs"$'\t'"failed_step" "$results"; then
  tool=keepfs
  verify_keepfs
fi

# ---- report ----
versions >"$work/versions.tsv"
python3 - "$results" "$data/manifest.json" "$work/versions.tsv" "$json_out" "$runs" "$scale" \
  "$(IFS=,; echo "${tools[*]}")" "$work" "$src_root" "$drop_mode" "$native_on" "$big_bytes" \
  "$step_timeout" "$via_latest" <<'PY'
import json, statistics, sys

(results, manifest_path, versions_path, json_out, runs, scale, tools, work, src, drop_mode,
 native_on, big_bytes, step_timeout, via_latest) = sys.argv[1:]
tools = [t for t in tools.split(",") if t]
manifest = json.load(open(manifest_path))
versions = dict(l.rstrip("\n").split("\t", 1) for l in open(versions_path) if "\t" in l)

# Every value of a metric counts: mount times and RSS are measured at every fresh mount (two
# each per run), warm reads three times per run, the rest once per run.
per_run, failed, setup, verified = {}, {}, {}, {}
for line in open(results):
    run, tool, metric, value = line.rstrip("\n").split("\t")
    if metric == "failed_step":
        failed.setdefault(tool, []).append(f"run {run}: {value}")
    elif run == "0":
        setup.setdefault(tool, {})[metric] = float(value)
    elif run == "v":
        if metric.startswith("verify_"):
            verified.setdefault(tool, {})[metric] = float(value)
    else:
        per_run.setdefault(int(run), {}).setdefault(tool, {}).setdefault(metric, []).append(float(value))

median = {}
for t in tools:
    metrics = sorted({m for r in per_run.values() for m in r.get(t, {})})
    median[t] = {m: statistics.median(v for r in per_run.values() for v in r.get(t, {}).get(m, []))
                 for m in metrics}

tr = manifest["trees"]
many_n, alice_n = tr["many"]["files"], tr["alice"]["files"] + tr["alice"]["symlinks"] + tr["alice"]["dirs"]
big_mib = int(big_bytes) / 2**20
# (label, short name, metric, format, better, targets): better "hi" = higher is better;
# targets: {peer: ratio bound}, keepfs/peer must be <= bound ("lo") or >= bound ("hi")
rows = [
    ("mount until alice's root lists, s", "", "mount_alice_s", "s", "lo", {}),
    ("mount until many's root lists, s", "", "mount_many_s", "s", "lo", {}),
    (f"`find \\| wc -l` on many ({many_n:,} files), cold, s", "find, cold", "find_s", "s", "lo",
     {"restic": 0.5, "borg": 0.5, "native": 3.0}),
    ("`ls -lR` on many, cold, s", "ls -lR, cold", "lslr_s", "s", "lo", {"restic": 0.5, "borg": 0.5}),
    (f"read the {big_mib:,.0f} MiB file, cold, MB/s", "file read, cold", "read_cold_mbps", "{:.0f}",
     "hi", {"restic": 2.0, "borg": 2.0}),
    (f"read the {big_mib:,.0f} MiB file, warm (median of 3 more reads), MB/s", "file read, warm",
     "read_warm_mbps", "{:.0f}", "hi", {"restic": 2.0, "borg": 2.0, "native": 1 / 1.2}),
    (f"`tar c` of alice ({tr['alice']['bytes'] / 1e6:,.0f} MB, {alice_n:,} entries), cold, s",
     "tar of alice, cold", "tar_s", "s", "lo", {"restic": 0.5, "borg": 0.5}),
    ("`tar c` of alice, MB/s", "", "tar_mbps", "{:.0f}", "hi", {}),
    ("entries found by `find` (check)", "", "find_entries", "{:.0f}", "", {}),
    ("RSS after mount + alice root listed, MiB", "", "rss_mount_alice_mib", "{:.0f}", "lo", {}),
    ("RSS after cold read, MiB", "", "rss_read_cold_mib", "{:.0f}", "lo", {}),
    ("RSS after warm read, MiB", "", "rss_read_warm_mib", "{:.0f}", "lo", {}),
    ("RSS after mount + many root listed, MiB", "", "rss_mount_many_mib", "{:.0f}", "lo", {}),
    ("RSS after find, MiB", "", "rss_find_mib", "{:.0f}", "lo", {}),
    ("RSS after ls -lR, MiB", "", "rss_lslr_mib", "{:.0f}", "lo", {}),
    ("RSS after tar, MiB", "", "rss_tar_mib", "{:.0f}", "lo", {}),
]
names = {"keepfs": "keepfs mount", "restic": "restic mount", "borg": "borg mount",
         "native": "native (" + ("disk copy" if native_on == "disk" else "tmpfs source") + ")"}
cols = [t for t in ("keepfs", "restic", "borg", "native") if t in tools]
peers = [p for p in ("restic", "borg", "native") if "keepfs" in tools and p in tools]
timeout_metrics = {"find_s", "lslr_s", "read_cold_s", "read_warm_s", "tar_s"}

def fmt_value(v, fmt):
    if fmt == "s":
        return f"{v:.3f}" if v < 1 else f"{v:.2f}" if v < 10 else f"{v:.1f}"
    return fmt.format(v)

def timed_out(t, metric):
    base = {"read_cold_mbps": "read_cold_s", "read_warm_mbps": "read_warm_s",
            "tar_mbps": "tar_s"}.get(metric, metric)
    return base in timeout_metrics and median.get(t, {}).get(base + "_timeout") is not None

def cell(t, metric, fmt):
    v = median.get(t, {}).get(metric)
    if v is not None:
        s = fmt_value(v, fmt)
        rc = median.get(t, {}).get(metric.replace("_mbps", "_s") + "_rc")
        return s + (f" (exit {rc:.0f})" if rc else "")
    if timed_out(t, metric):
        return f">{step_timeout} s" if metric.endswith("_s") else f"<{int(big_bytes) / 1e6 / float(step_timeout):.1f}"
    if t in failed:
        return "FAIL"
    if t == "native" and metric.startswith("rss_"):
        return "n/a"
    return ""

def ratio_val(metric, peer):
    a, b = median.get("keepfs", {}).get(metric), median.get(peer, {}).get(metric)
    if a is None or b is None or b == 0:
        return None
    return a / b

def ratio(metric, peer):
    r = ratio_val(metric, peer)
    if r is None:
        # a peer that timed out: keepfs is at least this much better
        a = median.get("keepfs", {}).get(metric)
        if a is not None and timed_out(peer, metric) and metric.endswith("_s"):
            return f"<{a / float(step_timeout):.2f}x"
        return ""
    return f"{r:.2f}x"

print(f"Dataset (scale {float(scale):g}): alice {tr['alice']['files']:,} files, "
      f"{tr['alice']['bytes'] / 1e6:,.1f} MB ({alice_n:,} entries, the largest file "
      f"{int(big_bytes) / 1e6:,.1f} MB); many {many_n:,} files, {tr['many']['bytes'] / 1e6:,.1f} MB.")
drops = {"native": "before each cold native step only (a cold FUSE step is a fresh mount; "
                   "repository files may still be in the page cache)",
         "all": "before every fresh mount and every cold native step",
         "none": "never"}[drop_mode]
print(f"Repositories on disk ({work}); source on tmpfs ({src}); page cache dropped {drops}. "
      + ("Medians of %s runs." % runs if int(runs) > 1 else "One run."))
print("Steps run in " + ("the `latest` symlinks (MP/USER/latest/, restic MP/hosts/HOST/latest/)."
                         if via_latest == "1" else
                         "each snapshot's own directory (`latest` resolved once after mounting)."))
print("Versions: " + "; ".join(versions[k] for k in ("keepfs", "restic", "borg", "native") if k in versions))
print()
head = ["metric"] + [names[t] for t in cols] + [f"keepfs/{p}" for p in peers]
print("| " + " | ".join(head) + " |")
print("|" + "---|" * len(head))
for label, _, metric, fmt, better, _ in rows:
    if not any(metric in median.get(t, {}) or timed_out(t, metric) for t in cols):
        continue
    arrow = " (higher is better)" if better == "hi" else ""
    line = [label + arrow] + [cell(t, metric, fmt) for t in cols]
    line += [ratio(metric, p) if better else "" for p in peers]
    print("| " + " | ".join(line) + " |")
if peers:
    print()
    print("Ratios are keepfs / peer: above 1 is better for MB/s, below 1 is better for everything else.")

# Targets: every listing and read at least 2x faster than restic and borg mounts; warm reads
# within 1.2x of native; cold find within 3x of native.
checks = []
if "keepfs" in tools:
    for _, short, metric, fmt, better, targets in rows:
        for peer, bound in targets.items():
            if peer not in tools:
                continue
            r = ratio_val(metric, peer)
            if r is None and timed_out(peer, metric) and median.get("keepfs", {}).get(metric) is not None:
                ok, shown = True, f"{peer} timed out"
            elif r is None:
                ok, shown = None, "not measured"
            else:
                ok = r <= bound if better == "lo" else r >= bound
                shown = f"{r:.2f}x"
            want = (f"<= {bound:g}x" if better == "lo" else f">= {bound:.2f}x")
            what = {"lo": "time", "hi": "MB/s"}[better]
            checks.append((f"{short}: {what}, keepfs/{peer}", want, shown,
                           {True: "yes", False: "**NO**", None: "?"}[ok]))
if checks:
    print()
    print("| target | wanted | measured | met |")
    print("|---|---|---|---|")
    for c in checks:
        print("| " + " | ".join(c) + " |")

ver = verified.get("keepfs", {})
if ver:
    bad = {k: v for k, v in ver.items() if k.startswith("verify_") and v}
    print()
    if not bad:
        print("keepfs mount verified against the source: metadata and contents of alice and many match.")
    else:
        print("keepfs mount does NOT match the source: "
              + ", ".join(f"{k[7:]} {v:.0f}" for k, v in sorted(bad.items()))
              + f" (see {work}/logs/verify-*)")
# steps of 0.3 s or more (CPU times come in 10 ms ticks) during which other processes were busy
step_s = {"read_cold": "read_cold_s", "read_warm": "read_warm_s", "find": "find_s", "lslr": "lslr_s",
          "tar": "tar_s"}
def disturbed(prefix):
    return [f"{t} {m[len(prefix):]} (run {r}): {v:.2f}"
            for r in sorted(per_run) for t in cols for m, vs in sorted(per_run[r].get(t, {}).items())
            if m.startswith(prefix) for v in vs
            if v > 0.3 and max(per_run[r][t].get(step_s.get(m[len(prefix):], ""), [0])) >= 0.3]
busy, stolen = disturbed("other_cores_"), disturbed("steal_cores_")
if busy or stolen:
    print()
    print("Unreliable figures: " + "; ".join(
        ([f"other processes kept the CPUs busy (cores, beyond the benchmark's own) during "
          + ", ".join(busy)] if busy else []) +
        (["the hypervisor stole CPU time (cores) during " + ", ".join(stolen)] if stolen else []))
          + ".")
counts = {t: median[t]["find_entries"] for t in cols if "find_entries" in median.get(t, {})}
if len(set(counts.values())) > 1:
    print()
    print("`find` counted different numbers of entries: "
          + ", ".join(f"{t} {n:.0f}" for t, n in counts.items()))
for tl, steps in failed.items():
    print(f"\n{tl} FAILED at: {', '.join(steps)} (logs in {work}/logs)")

if json_out:
    out = {"config": {"scale": float(scale), "runs": int(runs), "tools": tools, "work": work,
                      "source": src, "drop_caches": drop_mode, "native_on": native_on,
                      "timeout_s": int(step_timeout), "via_latest": via_latest == "1",
                      "versions": versions},
           "dataset": manifest, "setup": setup,
           "runs": [per_run[r] for r in sorted(per_run)],
           "median": median, "verify": verified, "failed": failed,
           "units": {"_s": "seconds", "_mbps": "1e6 bytes/s", "_mib": "MiB"}}
    with open(json_out, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
PY
if [ -n "$json_out" ]; then say "raw numbers written to $json_out"; fi
say "logs in $logs"
