// Husks and removals: what removing one snapshot writes, shared by forget,
// prune's plan and prune's real run so that they agree to the byte.
//
// A snapshot that holds pins is not removed but turned into a husk: a new
// root tree with only the pinned paths (a pinned folder whole) and the
// folders above them, every entry with its stored metadata, under the same
// name, marked as a husk in its record. The whole record is kept as a
// DeletedSnapshot (`d` key) in either case, so `keepfs undelete` can bring it
// back while its data is stored (docs/retention.md).
//
// Thread safety: plain functions; callers hold the store's commit lock from
// planning a removal until its batch is written.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "snapshot/accounting.h"
#include "snapshot/pins.h"
#include "snapshot/repo.h"
#include "snapshot/snapshot_record.h"
#include "store/status.h"

namespace keepfs::gc {

struct HuskTree {
  ObjectId root;
  // Tree nodes the husk needs that are not stored yet: id -> encoded node.
  std::vector<std::pair<ObjectId, std::string>> new_nodes;
  uint64_t files = 0, dirs = 0, others = 0, bytes_logical = 0;
  std::vector<std::pair<uint64_t, uint64_t>> links;  // link_id -> names, sorted
};

// The husk of the tree at root keeping what pins pin ("/" keeps everything).
// Corruption if a pinned path is not in the tree.
Result<HuskTree> BuildHuskTree(const snapshot::Repo& repo, const ObjectId& root,
                               const std::vector<snapshot::Pin>& pins);

// Where a husk's new snapshot number comes from: Store::AllocateNumber for a
// real removal; a plan that writes nothing may return 0.
using NumberSource = std::function<Result<uint64_t>()>;

// The writes of one removal, to go in one batch with its count changes.
struct Removal {
  bool husk = false;  // the snapshot became (or stays) a husk
  std::vector<std::pair<std::string, std::string>> puts;
  std::vector<std::string> deletes;
};

// Makes snap (as stored now) the husk husk: its new tree nodes go to
// *changes as pending, the husk's root is added before snap's is removed
// (what the husk keeps never counts as freed), and the nodes and the husk
// record are appended to out->puts. The record is snap with the husk's root,
// counts and hard links, marked a husk at husk_unix, under a new snapshot
// number: the mount numbers inodes by number and position in the tree, and
// the kernel may still cache the old tree's, so another tree must never
// reuse them.
Status ReplaceWithHusk(snapshot::RefChanges* changes, const snapshot::SnapshotRecord& snap,
                       HuskTree husk, int64_t husk_unix, const NumberSource& number,
                       Removal* out);

// The writes that remove snap (the record as stored now), with their
// reference count changes applied to *changes:
//   - a whole snapshot without pins: its record goes, a DeletedSnapshot is kept;
//   - a whole snapshot with pins: it becomes a husk (husk = true);
//   - a husk without pins left: it goes (its DeletedSnapshot stays).
// A husk that still holds pins is InvalidArgument: unpin first.
Result<Removal> PlanRemoval(Store* store, snapshot::RefChanges* changes,
                            const snapshot::SnapshotRecord& snap,
                            const std::vector<snapshot::Pin>& pins, int64_t now,
                            const NumberSource& number);

}  // namespace keepfs::gc
