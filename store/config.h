// StoreConfig: the tunable part of STORE/config.toml, the settings that may be
// edited after init (docs/usage.md, "Configuration"). The fixed part
// ([store], [chunking]) is checked against the store record by Store::Open.
//
// Thread safety: plain values and pure functions; SetUserMapping writes the
// file and must not race with another writer of it (the store lock ensures one).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/status.h"

namespace keepfs {

// Who a user of the store is on this server: the namespace /MOUNT/USER is
// owned by uid:gid, and only that uid (and root and the admin group) may enter it.
struct UserMapping {
  uint32_t uid = 0;
  uint32_t gid = 0;
};

// The mount's memory profile ([mount] profile; docs/nas.md, "Low-memory profile"): the
// defaults of the memory keys below. Keys given in config.toml win over it.
enum class MountProfile {
  kDefault,  // speed first: about 420 MiB of caches at most, plus the node table
  kSmall,    // a small NAS: under 64 MiB RSS with 1,000 snapshots of a million files
};

struct MountConfig {
  MountProfile profile = MountProfile::kDefault;
  // Memory keys (defaults: ForProfile).
  uint64_t cache_bytes = 256ull << 20;  // decompressed-chunk cache of the mount
  // RocksDB's block cache (data, index and filter blocks of the metadata) of
  // every process that opens the store: the mount, and the commands it runs.
  uint64_t metadata_cache_bytes = 64ull << 20;
  // RocksDB's memtables: up to two of this size fill while backups write.
  uint64_t metadata_write_buffer_bytes = 32ull << 20;
  uint32_t threads = 16;  // most FUSE worker threads (keepfs mount --threads wins)
  // At most this many inodes handed to the kernel and not yet asked back:
  // past it the oldest entries are invalidated, the kernel forgets their
  // inodes and the mount frees their nodes. 0: no cap (the kernel decides).
  uint64_t max_inodes = 0;

  // The memory keys' values of a profile (the others at their defaults).
  static MountConfig ForProfile(MountProfile profile);
  static const char* ProfileName(MountProfile profile);
  // With profile small, the memory keys config.toml sets above the
  // profile's values, as "cache_size = 256 MiB (profile small: 8 MiB)":
  // most likely a key left from an older config.toml that defeats the
  // profile. Empty for the default profile.
  std::vector<std::string> AboveProfile() const;

  uint32_t readahead_chunks = 2;        // chunks fetched ahead of a sequential reader
  std::optional<uint32_t> admin_gid;    // members may enter every namespace
  bool owner_view = false;  // show every file inside a snapshot as owned by the namespace owner
  // How long the kernel may reuse a path walk into a snapshot without asking
  // the daemon (the entry timeout of /MOUNT/USER/*). 0 checks every walk, so
  // no other user can even stat a path inside a namespace; more speeds up
  // tools that stat absolute paths, at the cost that for that long after the
  // owner's last walk another local user who knows an exact path could read
  // its attributes (never its data, listing, link target or xattrs).
  double path_cache_seconds = 1;
  // How far back /MOUNT/USER/.deleted/ and `keepfs deleted` look: what a
  // snapshot this young holds and the newest one does not.
  int64_t deleted_window_sec = 30 * 86400;
};

// Which snapshots of a user prune keeps (docs/retention.md). Counts of the
// calendar rules: 0 = rule off, -1 = unlimited.
struct RetentionPolicy {
  int64_t keep_within_sec = 0;  // every snapshot younger than this (0 = off)
  int64_t keep_last = 0;        // the newest N
  int64_t keep_hourly = 0;      // the newest snapshot of each of the last N hours
  int64_t keep_daily = 0;       // ... days (UTC)
  int64_t keep_weekly = 0;      // ... ISO weeks (Monday to Sunday, UTC)
  int64_t keep_monthly = 0;
  int64_t keep_yearly = 0;
  bool keep_first = false;      // the user's oldest snapshot
  std::optional<uint64_t> quota_bytes;  // soft: prune deletes down to it

  // The shipped default, the school server's rule: every snapshot of the last
  // 30 days, then one per month; no quota.
  static RetentionPolicy Default();
  // "keep-within 30d, keep-monthly unlimited, quota 20 GiB"
  std::string Describe() const;
  bool operator==(const RetentionPolicy&) const = default;
};

// How the garbage collector reclaims space ([gc]; docs/gc.md).
struct GcConfig {
  // Forgotten snapshots stay undeletable (their data kept) this long.
  int64_t undelete_window_sec = 7 * 86400;
  // A pack whose dead bytes reach repack_dead_percent is repacked; one at
  // repack_low_percent or more, only while the store's dead bytes are more
  // than waste_percent of all. All-dead packs are always removed.
  uint32_t repack_dead_percent = 50;
  uint32_t repack_low_percent = 20;
  uint32_t waste_percent = 10;
  // Packs with less live data than this are merged into fuller ones.
  uint64_t small_pack_bytes = 4ull << 20;
  // At most this many live bytes are copied by one run (0: no repacking).
  uint64_t max_repack_bytes = 8ull << 30;
  // Below this much free space on the store's disk a run only deletes:
  // repacking needs room for the copies before the originals go.
  uint64_t min_free_bytes = 1ull << 30;
  bool operator==(const GcConfig&) const = default;
};

// [packs]: where the packs live (store/pack_store.h). backend, pool and
// namespace are fixed at init (Store::Open compares them with the store
// record); how to reach the cluster may change.
struct PacksConfig {
  // "" : the local directory STORE/packs/; "rados:POOL/NAMESPACE" otherwise.
  std::string spec;
  std::string ceph_conf;         // "" : librados' default search
  std::string client = "admin";  // the cephx user, without "client."
  int op_timeout_sec = 120;      // a RADOS operation fails after this long
  // A read-write process's lease on the store (store/shard.h): another node
  // may take over this long after the owner stopped renewing it.
  int lease_sec = 30;
  // How long a read-write open waits for a lease another process holds.
  int lease_wait_sec = 120;
  bool operator==(const PacksConfig&) const = default;
};

struct StoreConfig {
  int compression_level = 3;
  PacksConfig packs;
  MountConfig mount;
  GcConfig gc;
  std::map<std::string, UserMapping, std::less<>> users;  // [users.NAME]
  RetentionPolicy retention = RetentionPolicy::Default();  // [retention]
  // [retention.NAME]: the default with the keys given there replaced.
  std::map<std::string, RetentionPolicy, std::less<>> user_retention;

  const RetentionPolicy& RetentionFor(std::string_view user) const;
};

// Parses the tunable sections of a config.toml text. InvalidArgument naming
// the key (and the line for syntax errors) on anything malformed.
Result<StoreConfig> ParseStoreConfig(std::string_view toml_text, const std::string& path);

// "256MiB", "1 GiB", "4096", "10M" (binary units) -> bytes.
Result<uint64_t> ParseSize(std::string_view text);
// "30d", "12h", "2w", "1y" (365 days), "90min", "45s", "3600" (seconds) -> seconds.
Result<int64_t> ParseDuration(std::string_view text);
// 2592000 -> "30d", 5400 -> "90min": the largest unit that divides it.
std::string FormatDuration(int64_t seconds);
// Every retention rule by name, with the values it takes: config.toml keys,
// prune's flags and their help.
struct RetentionRuleName {
  const char* name;
  const char* values;
};
inline constexpr RetentionRuleName kRetentionRules[] = {
    {"keep-within", "DURATION, e.g. 30d"},          {"keep-last", "N"},
    {"keep-hourly", "N (-1: unlimited, 0: off)"},   {"keep-daily", "N (-1: unlimited, 0: off)"},
    {"keep-weekly", "N (-1: unlimited, 0: off)"},   {"keep-monthly", "N (-1: unlimited, 0: off)"},
    {"keep-yearly", "N (-1: unlimited, 0: off)"},   {"keep-first", "true or false"},
    {"quota", "SIZE (e.g. 20G) or none"}};

// Sets one rule of a policy from its name and text ("keep-daily", "7"), as
// config.toml and the prune command line give them. InvalidArgument naming
// the rule on an unknown name or a bad value.
Status SetRetentionRule(RetentionPolicy* p, std::string_view rule, std::string_view value);

// Rewrites config.toml at path with [users.NAME] set to mapping, keeping the
// rest of the file (comments included) as it is. Atomic: a crash leaves the
// old or the new file.
Status SetUserMapping(const std::string& path, std::string_view user, const UserMapping& mapping);

}  // namespace keepfs
