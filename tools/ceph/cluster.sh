#!/usr/bin/env bash
# A throw-away single-node Ceph (one mon, one OSD, no mgr) on loopback, for
# developing and testing keepfs's RADOS pack backend (issue 10, docs/ceph-dev.md).
#
#   tools/ceph/cluster.sh start DIR [--pool NAME] [--store memstore|bluestore]
#                                   [--block-size SIZE] [--timeout SECONDS]
#   tools/ceph/cluster.sh status DIR        exit 0 if a real rados put/get works
#   tools/ceph/cluster.sh stop DIR [--purge] [--timeout SECONDS]
#
# start  creates the cluster under DIR (which must be empty or absent) and
#        waits until the pool (default "keepfs", size 1) takes a real write.
#        Prints the client conf path (DIR/ceph.conf, for `rados -c` and
#        librados conf_read_file) and the seconds it took.
#        --store memstore (default; in RAM, fastest) or bluestore (on a sparse
#        file DIR/osd.0.block of --block-size, default 10G).
# stop   SIGTERMs the daemons, SIGKILLs what is left after --timeout (10 s),
#        and waits for them to exit. --purge then deletes the cluster's files.
#
# Needs Debian's ceph-mon, ceph-osd and ceph-common. Runs the daemons directly
# (no systemd), so it works as root in a container. cephx is off: loopback only.
# Logs: DIR/log/*.log; pid files and admin sockets: DIR/run/.
set -euo pipefail

PROG=$(basename "$0")

die() { echo "$PROG: $*" >&2; exit 1; }

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  echo >&2
  exit 2
}

# Prints the last lines of a log, for a failure message.
show_log() {
  local log=$1
  if [ -s "$log" ]; then
    echo "---- last lines of $log ----" >&2
    tail -n 25 "$log" >&2
    echo "----" >&2
  fi
}

# The DIR of a start in progress, for the clean-up hint of a failure.
STARTING_DIR=""

# Fails with MESSAGE, after printing the tails of the given logs.
fail_with_logs() {
  local msg=$1; shift
  local log
  for log in "$@"; do show_log "$log"; done
  if [ -n "$STARTING_DIR" ]; then
    msg+="
  What started is left running for inspection; clean up with: $PROG stop $STARTING_DIR --purge"
  fi
  die "$msg"
}

need_tools() {
  local t missing=()
  for t in "$@"; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
  if [ "${#missing[@]}" -gt 0 ]; then
    die "missing ${missing[*]}; install them with:
  apt-get install -y ceph-mon ceph-osd ceph-common"
  fi
}

# A TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
  python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Seconds since START_NS (from date +%s%N), with one decimal.
elapsed() {
  local ds=$((($(date +%s%N) - $1) / 100000000))
  echo "$((ds / 10)).$((ds % 10))"
}

# True if PID runs; a zombie (exited, not yet reaped by its parent) does not.
pid_alive() {
  [ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 1
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

# The pids of this cluster's daemons that are still running, one per line.
live_pids() {
  local dir=$1 type=${2:-} f pid
  for f in "$dir"/run/"$type"*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f" 2>/dev/null || true)
    # A recycled pid of some other program is not ours.
    if pid_alive "$pid" && grep -q ceph "/proc/$pid/cmdline" 2>/dev/null; then
      echo "$pid"
    fi
  done
}

# Waits until the given pids exit; SIGKILLs them after TIMEOUT seconds.
wait_gone() {
  local timeout_s=$1; shift
  local deadline=$((SECONDS + timeout_s)) left=("$@") pid
  while [ "${#left[@]}" -gt 0 ]; do
    local still=()
    for pid in "${left[@]}"; do pid_alive "$pid" && still+=("$pid"); done
    left=("${still[@]+"${still[@]}"}")
    [ "${#left[@]}" -gt 0 ] || return 0
    if [ $SECONDS -ge $deadline ]; then
      echo "$PROG: SIGKILL ${left[*]} (still running after $timeout_s s)" >&2
      for pid in "${left[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
      deadline=$((SECONDS + 5)); timeout_s=5
    fi
    sleep 0.1
  done
}

# Starts a daemon in the foreground (-f) of its own session; records its pid.
launch() {
  local dir=$1 name=$2; shift 2
  setsid "$@" -f -c "$dir/ceph.conf" </dev/null >>"$dir/log/$name.stdout" 2>&1 &
  echo $! >"$dir/run/$name.pid"
}

# One real write and read-back through the client path keepfs will use.
# `ceph -s` and `ceph pg stat` hang without a ceph-mgr, so they prove nothing.
# Its object lives in namespace "cluster-sh" and is removed again.
rados_probe() {
  local dir=$1 pool=$2 secs=$3 obj="probe-$$" want got
  local rados=(timeout "$secs" rados -c "$dir/ceph.conf" -p "$pool" -N cluster-sh
    --client_mount_timeout "$secs" --rados_osd_op_timeout "$secs")
  want="probe $$ $RANDOM"
  "${rados[@]}" put "$obj" - <<<"$want" >/dev/null 2>&1 || return 1
  got=$("${rados[@]}" get "$obj" - 2>/dev/null) || return 1
  "${rados[@]}" rm "$obj" >/dev/null 2>&1 || return 1
  [ "$got" = "$want" ]
}

write_conf() {
  local dir=$1 port=$2 store=$3 block_size=$4 fsid
  fsid=$(uuidgen)
  cat >"$dir/ceph.conf" <<EOF
# Written by tools/ceph/cluster.sh: a throw-away single-node dev cluster.
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$port
mon initial members = a
public addr = 127.0.0.1
ms bind msgr1 = false
# No cephx on loopback. Without crc here, a client waits minutes for the mon.
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
ms mon service mode = crc
ms mon cluster mode = crc
ms client mode = crc
ms service mode = crc
ms cluster mode = crc
# One OSD: replicas of one, placed on OSDs (not hosts); health never blocks IO.
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
# Each mon update (osd new, pool create) waits one propose interval (default 1 s).
paxos propose interval = 0.1
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim = false
mon warn on insecure global id reclaim allowed = false
mon data avail warn = 2
mon data avail crit = 1
mon osd full ratio = 0.97
mon osd backfillfull ratio = 0.96
mon osd nearfull ratio = 0.95
run dir = $dir/run
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
mon data = $dir/mon/\$id
osd data = $dir/osd/\$id

[client]
# No admin socket for clients: tests run many rados and keepfs clients at
# once, and every client.admin would bind the same path (and say so on stderr).
admin socket =

[mon]
mon cluster log file = $dir/log/cluster.log

[osd]
osd objectstore = $store
osd memory target = 1073741824
osd op num shards = 1
osd op num threads per shard = 2
memstore device bytes = 4294967296
bluestore block path = $dir/osd.\$id.block
bluestore block create = true
bluestore block size = $block_size
bluestore fsck on mount = false
bluestore fsck on mkfs = false
EOF
}

cmd_start() {
  local dir="" pool=keepfs store=memstore block_size=10G timeout_s=60
  while [ $# -gt 0 ]; do
    case $1 in
      --pool) pool=${2:?--pool needs a name}; shift 2 ;;
      --store) store=${2:?--store needs memstore or bluestore}; shift 2 ;;
      --block-size) block_size=${2:?--block-size needs a size}; shift 2 ;;
      --timeout) timeout_s=${2:?--timeout needs seconds}; shift 2 ;;
      -h|--help) usage ;;
      -*) die "start: unknown option $1" ;;
      *) [ -z "$dir" ] || die "start: one DIR only"; dir=$1; shift ;;
    esac
  done
  [ -n "$dir" ] || usage
  case $store in memstore|bluestore) ;; *) die "--store must be memstore or bluestore" ;; esac
  need_tools ceph-mon ceph-osd ceph rados monmaptool uuidgen python3 numfmt
  local block_bytes
  block_bytes=$(numfmt --from=iec "$block_size") || die "bad --block-size $block_size"

  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ -n "$(live_pids "$dir")" ]; then
    die "$dir already holds a running cluster (conf $dir/ceph.conf);
  stop it first: $PROG stop $dir"
  fi
  if [ -f "$dir/ceph.conf" ]; then
    die "$dir holds a stopped cluster; start makes a new one in an empty DIR.
  To reuse DIR: $PROG stop $dir --purge"
  fi
  if [ -n "$(ls -A "$dir")" ]; then
    die "$dir is not empty; start needs an empty or absent DIR"
  fi

  local t0=$SECONDS t0_ns port
  t0_ns=$(date +%s%N)
  STARTING_DIR=$dir
  mkdir -p "$dir/log" "$dir/run" "$dir/mon/a" "$dir/osd/0"
  port=$(free_port)
  write_conf "$dir" "$port" "$store" "$block_bytes"
  echo "pool=$pool store=$store port=$port" >"$dir/cluster.env"

  # The mon: a one-member monmap, mkfs, run.
  monmaptool --create --clobber --fsid "$(awk '/^fsid/{print $3}' "$dir/ceph.conf")" \
    --addv a "[v2:127.0.0.1:$port]" "$dir/run/monmap" >"$dir/log/mkfs.log" 2>&1 \
    || fail_with_logs "monmaptool failed" "$dir/log/mkfs.log"
  ceph-mon -c "$dir/ceph.conf" -i a --mkfs --monmap "$dir/run/monmap" \
    >>"$dir/log/mkfs.log" 2>&1 \
    || fail_with_logs "ceph-mon --mkfs failed" "$dir/log/mkfs.log" "$dir/log/mon.a.log"
  launch "$dir" mon.a ceph-mon -i a

  # The OSD: register it with the mon (this also proves the mon answers), mkfs, run.
  local ceph=(timeout 30 ceph -c "$dir/ceph.conf" --connect-timeout 25) uuid id
  uuid=$(uuidgen)
  id=$("${ceph[@]}" osd new "$uuid" 2>>"$dir/log/mkfs.log") \
    || fail_with_logs "the mon did not answer \`ceph osd new\` in 30 s" \
      "$dir/log/mkfs.log" "$dir/log/mon.a.stdout" "$dir/log/mon.a.log"
  [ "$id" = 0 ] || fail_with_logs "expected OSD id 0, the mon gave '$id'" "$dir/log/mkfs.log"
  ceph-osd -c "$dir/ceph.conf" -i 0 --mkfs --osd-uuid "$uuid" >>"$dir/log/mkfs.log" 2>&1 \
    || fail_with_logs "ceph-osd --mkfs failed" "$dir/log/mkfs.log" "$dir/log/osd.0.log"
  launch "$dir" osd.0 ceph-osd -i 0

  # The pool. Its size 1 and min_size 1 come from the conf's defaults (a
  # `pool set` would cost one more paxos round); checked here instead.
  { "${ceph[@]}" osd pool create "$pool" 8 8 replicated &&
    "${ceph[@]}" osd pool application enable "$pool" rados; } >>"$dir/log/mkfs.log" 2>&1 \
    || fail_with_logs "could not create pool $pool" "$dir/log/mkfs.log" "$dir/log/mon.a.log"
  local size
  size=$("${ceph[@]}" osd pool get "$pool" size 2>>"$dir/log/mkfs.log") || size="?"
  [ "$size" = "size: 1" ] || fail_with_logs "pool $pool has '$size', expected size 1" "$dir/log/mkfs.log"

  # First wait (on the OSD's admin socket) until the OSD is up: a put sent
  # before that sits in the client until the objecter's 5 s tick resends it.
  until [[ $(ceph --admin-daemon "$dir/run/osd.0.asok" status 2>/dev/null) == *'"state": "active"'* ]]; do
    pid_alive "$(cat "$dir/run/osd.0.pid")" \
      || fail_with_logs "osd.0 exited during start-up" "$dir/log/osd.0.stdout" "$dir/log/osd.0.log"
    [ $((SECONDS - t0)) -lt "$timeout_s" ] \
      || fail_with_logs "osd.0 not up in $timeout_s s" "$dir/log/osd.0.log" "$dir/log/mon.a.log"
    sleep 0.1
  done
  # Ready means a real put and get, retried until --timeout. A put blocks
  # until its PG is active, so one attempt may take seconds.
  until rados_probe "$dir" "$pool" 20; do
    local d
    for d in mon.a osd.0; do
      pid_alive "$(cat "$dir/run/$d.pid")" \
        || fail_with_logs "$d exited during start-up" "$dir/log/$d.stdout" "$dir/log/$d.log"
    done
    if [ $((SECONDS - t0)) -ge "$timeout_s" ]; then
      fail_with_logs "pool $pool took no write in $timeout_s s" "$dir/log/osd.0.log" "$dir/log/mon.a.log"
    fi
    sleep 0.5
  done
  echo "conf: $dir/ceph.conf"
  echo "pool: $pool ($store, mon 127.0.0.1:$port)"
  echo "ready in $(elapsed "$t0_ns") s"
}

cmd_stop() {
  local dir="" purge=0 timeout_s=10
  while [ $# -gt 0 ]; do
    case $1 in
      --purge) purge=1; shift ;;
      --timeout) timeout_s=${2:?--timeout needs seconds}; shift 2 ;;
      -h|--help) usage ;;
      -*) die "stop: unknown option $1" ;;
      *) [ -z "$dir" ] || die "stop: one DIR only"; dir=$1; shift ;;
    esac
  done
  [ -n "$dir" ] || usage
  [ -d "$dir" ] || die "$dir does not exist"
  dir=$(cd "$dir" && pwd)
  [ -f "$dir/ceph.conf" ] || [ -d "$dir/run" ] || die "$dir holds no cluster (no ceph.conf)"

  # OSD first: a stopping OSD waits (up to 5 s) for the mon to ack its going down.
  local t0_ns total=0 name
  t0_ns=$(date +%s%N)
  for name in osd mon; do
    local pids=() pid
    mapfile -t pids < <(live_pids "$dir" "$name")
    total=$((total + ${#pids[@]}))
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait_gone "$timeout_s" "${pids[@]}"
  done
  rm -f "$dir"/run/*.pid
  echo "stopped $total daemon(s) in $(elapsed "$t0_ns") s"
  if [ "$purge" = 1 ]; then
    rm -rf "$dir/ceph.conf" "$dir/cluster.env" "$dir/log" "$dir/run" "$dir/mon" "$dir/osd" \
      "$dir"/osd.*.block
    rmdir "$dir" 2>/dev/null || echo "$PROG: purged the cluster; $dir keeps other files" >&2
  fi
}

cmd_status() {
  local dir=${1:-}
  [ -n "$dir" ] || usage
  [ -f "$dir/ceph.conf" ] || die "$dir holds no cluster (no ceph.conf); start one: $PROG start $dir"
  local pool
  pool=$(sed -n 's/^pool=\([^ ]*\).*/\1/p' "$dir/cluster.env" 2>/dev/null)
  [ -n "$pool" ] || die "$dir/cluster.env names no pool"
  [ -n "$(live_pids "$dir" mon)" ] || die "not running: no live mon in $dir/run"
  [ -n "$(live_pids "$dir" osd)" ] || fail_with_logs "no live OSD in $dir/run" "$dir/log/osd.0.log"
  if rados_probe "$dir" "$pool" 10; then
    echo "ok: pool $pool takes writes ($dir/ceph.conf)"
  else
    fail_with_logs "pool $pool took no write in 10 s" "$dir/log/osd.0.log" "$dir/log/mon.a.log"
  fi
}

[ $# -ge 1 ] || usage
sub=$1; shift
case $sub in
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  status) cmd_status "$@" ;;
  -h|--help|help) usage ;;
  *) die "unknown command $sub (start, stop or status)" ;;
esac
