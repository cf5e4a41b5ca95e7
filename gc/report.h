// Reports for people and scripts: a user's usage, a prune plan, pins. The CLI
// prints them (keepfs usage, prune, pins) and the mount serves the same text
// in /MOUNT/USER/.keepfs/ (docs/mount.md), so both always agree.
//
// Thread safety: functions that read the store may run beside commits; the
// prune plan itself takes the commit lock (gc/prune.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gc/prune.h"
#include "gc/sharing.h"
#include "snapshot/accounting.h"
#include "snapshot/pins.h"
#include "store/status.h"
#include "store/store.h"

namespace keepfs::gc {

struct UserUsage {
  std::string user;
  uint64_t snapshots = 0;       // husks included
  uint64_t husks = 0;
  uint64_t logical_newest = 0;  // the newest whole snapshot's file bytes
  std::optional<int64_t> newest_time;  // and its time; none when all are husks
  uint64_t logical_all = 0;
  snapshot::UserHoldings held;  // exclusive, shared, charged
  uint64_t pins = 0;
  uint64_t pinned = 0;          // stored bytes the pins hold (gc/pins.h PinnedBytes)
  std::optional<uint64_t> quota;
};

// A known user's usage (one with no snapshots left is all zeros). An unknown
// user is NotFound listing the users there are.
Result<UserUsage> ComputeUsage(Store* store, const std::string& user);

// One JSON object: user, snapshots, husks, logical_newest, logical_all,
// exclusive, shared, charged, pins, pinned, quota, quota_percent (bytes; quota
// and quota_percent null without a quota).
std::string UsageJson(const UserUsage& u);
std::string UsageText(const UserUsage& u);  // a few lines, sizes in binary units

// What cross-user sharing saves (`keepfs usage --sharing`), from the usage
// accounts alone. Without sharing every user would store their own
// (deduplicated) copy of what they hold: the sum of each user's held bytes.
// With it, an object held by k users is stored once: the sum over holder
// counts k of (bytes held by k, summed over users) / k.
struct SharingReport {
  uint64_t without_sharing = 0;
  uint64_t with_sharing = 0;
  // Per user, their held bytes by how many users hold them (1 = only them).
  std::vector<std::pair<std::string, snapshot::UserHoldings>> users;
  // The last sharing pass (`keepfs share`): who shares with whom, and what
  // its unification did. nullopt before the first.
  std::optional<SharingResult> last_pass;
  uint64_t saved() const { return without_sharing - with_sharing; }
};
Result<SharingReport> ComputeSharing(Store* store);
std::string SharingText(const SharingReport& r);
// {"without_sharing":B,"with_sharing":B,"saved":B,"users":[{"user":U,"held_by":{"1":B,...}}],
//  "last_pass":SharingPassJson or null}
std::string SharingJson(const SharingReport& r);

// The plan as prune prints it: one line per snapshot with its fate, reasons
// and what it frees, then the totals and the quota.
std::string PruneText(const UserPrune& p, bool dry_run);
std::string PruneJson(const UserPrune& p);  // one object

// One line per pin, or a JSON array; says which pins are in husks.
Result<std::string> PinsReport(Store* store, const std::vector<snapshot::Pin>& pins, bool json);

}  // namespace keepfs::gc
