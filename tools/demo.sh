#!/usr/bin/env bash
# The main job on the embedded default: build keepfs, create a local store,
# back up sample data twice (the second run reads nothing new), list and
# restore it, check the store, and leave it mounted at $DEMO_DIR/mnt.
#   bash tools/demo.sh            (DEMO_DIR=/tmp/keepfs-demo)
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKEEPFS_TESTS=OFF >/dev/null
ninja -C build keepfs
K="$PWD/build/tools/keepfs"
DEMO="${DEMO_DIR:-/tmp/keepfs-demo}"
# A mount left by an earlier run of the demo goes first.
if mountpoint -q "$DEMO/mnt" 2>/dev/null; then "$K" umount --lazy "$DEMO/mnt" || true; fi
rm -rf "$DEMO"; mkdir -p "$DEMO/alice" "$DEMO/mnt"
cp -a /usr/share/doc/. "$DEMO/alice/doc" 2>/dev/null || true
cp -a /usr/share/common-licenses "$DEMO/alice/licenses"
export KEEPFS_STORE="$DEMO/store"
set -x
"$K" init
"$K" backup --user alice --time 2026-10-01T03:00:00Z "$DEMO/alice"
echo "a new note" > "$DEMO/alice/note.txt"
"$K" backup --user alice "$DEMO/alice"
"$K" snapshots
"$K" ls --user alice latest licenses
"$K" diff --user alice 2026-10-01_030000 latest
"$K" cat --user alice latest licenses/GPL-3 | head -3
"$K" restore --user alice latest "$DEMO/restored"
"$K" check --verify-data
"$K" stats
"$K" gc --dry-run
"$K" user add alice --uid "$(id -u)"
"$K" mount "$DEMO/mnt"
ls -l "$DEMO/mnt/alice"
# While mounted, commands run inside the mount process: this backup shows up at once.
echo "another note" > "$DEMO/alice/note2.txt"
"$K" backup --user alice "$DEMO/alice"
ls "$DEMO/mnt/alice/latest/"
set +x
cat <<EOF

The store is mounted at $DEMO/mnt: every snapshot of every user, read-only.
  browse:   ls $DEMO/mnt/alice/   (latest -> the newest snapshot)
            cp -a $DEMO/mnt/alice/latest/licenses/GPL-3 /tmp/   copies a file back
  commands: KEEPFS_STORE=$DEMO/store $K snapshots   (runs inside the mount process)
  unmount:  $K umount $DEMO/mnt
EOF
