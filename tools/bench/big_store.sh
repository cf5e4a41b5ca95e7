# Sourced by history.sh and nas_memory.sh: the big store both of them measure.
# ensure_big_store checks $keepfs, defaults $make_history to the one built beside
# it, and, when $store is empty, uses $work/store, generating it with
# keepfs_make_history (1,000 snapshots of 1,000,000 files, a few minutes) unless it
# is there already. It sets made_store=1 when it generated it. It needs $keepfs,
# $make_history, $work and $user, and a say function.
ensure_big_store() {
  [ -x "$keepfs" ] || { echo "no keepfs binary at $keepfs (build it, or pass --keepfs)" >&2; exit 2; }
  [ -n "$make_history" ] || make_history=$(dirname "$keepfs")/bench/keepfs_make_history
  made_store=0
  [ -z "$store" ] || return 0
  store=$work/store
  [ ! -f "$store/config.toml" ] || return 0
  [ -x "$make_history" ] || { echo "no keepfs_make_history at $make_history (pass --make-history)" >&2; exit 2; }
  say "generating $store with $make_history (1,000 snapshots of 1,000,000 files)..."
  local t0
  t0=$(date +%s.%N)
  "$make_history" --store "$store" --user "$user" >"$work/make_history.json"
  say "generated in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.0f", b-a}') s: $(cat "$work/make_history.json")"
  made_store=1
}
