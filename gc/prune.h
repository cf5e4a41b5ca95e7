// Forget and prune: removing snapshots, atomically one at a time.
//
// Removing a snapshot deletes its record and subtracts its references
// (snapshot/accounting.h) in one synced batch, so a crash leaves it whole or
// gone. Chunks no user holds any more stay in their packs until the garbage
// collector (issue 5) reclaims them; prune only unlinks and counts.
//
// Thread safety: every function takes the store's commit lock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gc/retention.h"
#include "snapshot/snapshot_record.h"
#include "store/store.h"

namespace keepfs::gc {

// Removes snapshot `name` ("latest" allowed) of user now. NotFound with
// advice for an unknown user or snapshot. Returns the stored bytes no user
// holds any more because of it.
Result<uint64_t> ForgetSnapshot(Store* store, std::string_view user, std::string_view name);

struct PrunedSnapshot {
  std::string name;
  RetentionDecision decision;
  uint64_t frees = 0;  // forget: stored bytes nobody holds once it is gone
};

struct UserPrune {
  std::string user;
  RetentionPolicy policy;
  std::vector<PrunedSnapshot> snapshots;  // oldest first
  RetentionPlan plan;
  uint64_t frees = 0;  // sum over the snapshots
};

// Plans (dry_run) or carries out the retention policy of one user at now.
// A real run removes the snapshots the plan forgets, oldest first, each in
// its own batch, in exactly the order and with exactly the numbers a dry run
// reports.
Result<UserPrune> PruneUser(Store* store, std::string_view user, const RetentionPolicy& policy,
                            int64_t now_sec, bool dry_run);

}  // namespace keepfs::gc
