// Forget and prune: removing snapshots, atomically.
//
// Removing a snapshot deletes its record and subtracts its references
// (snapshot/accounting.h) in one synced batch, so a crash leaves it whole or
// gone. Chunks no user holds any more stay in their packs until the garbage
// collector (issue 5) reclaims them; prune only unlinks and counts.
//
// Thread safety: every function takes the store's commit lock.
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "gc/retention.h"
#include "snapshot/pins.h"
#include "snapshot/snapshot_record.h"
#include "store/store.h"

namespace keepfs::gc {

struct Forgotten {
  uint64_t freed = 0;  // stored bytes no user holds any more because of it
  bool husk = false;   // it held pins and is now a husk
};

// Removes several snapshots of user (names as ForgetSnapshot takes them; each
// at most once), in order, writing each count they change once: many
// snapshots in a few synced batches (a million touched objects each).
// Nothing is removed if a name is unknown or given twice. The result is in
// the order of names.
Result<std::vector<Forgotten>> ForgetSnapshots(Store* store, std::string_view user,
                                               const std::vector<std::string>& names,
                                               int64_t now_sec = std::time(nullptr));
// Removes snapshot `name` ("latest" allowed) of user now, or turns it into a
// husk if it holds pins (gc/husk.h); removes a husk whose pins are all gone.
// NotFound with advice for an unknown user or snapshot; InvalidArgument for a
// husk that still holds pins. The whole record stays undeletable.
Result<Forgotten> ForgetSnapshot(Store* store, std::string_view user, std::string_view name,
                                 int64_t now_sec = std::time(nullptr));

// Forgotten snapshots that can still be undeleted: every user's (user "") or
// one user's, in key order, each with the record it had.
Result<std::vector<snapshot::DeletedSnapshot>> ListDeleted(Store* store, std::string_view user);

// Brings a forgotten snapshot back whole, under its old name and number
// (replacing its husk, if one is left). NotFound with advice if it is not
// undeletable or part of its data is gone; AlreadyExists if a whole snapshot
// of that name is listed.
Status Undelete(Store* store, std::string_view user, std::string_view name);

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
// A real run removes the snapshots the plan forgets, oldest first, as
// ForgetSnapshots does (few batches), in exactly the order and with exactly
// the numbers a dry run reports.
Result<UserPrune> PruneUser(Store* store, std::string_view user, const RetentionPolicy& policy,
                            int64_t now_sec, bool dry_run);

}  // namespace keepfs::gc
