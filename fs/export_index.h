// ExportIndex: what the mount needs to rebuild a node from its inode number
// alone, for NFS export (docs/mount.md, "Inode numbers"; docs/nas.md).
// An NFS server hands out file handles holding the FUSE node id; once the
// kernel has forgotten that inode (memory pressure, or a remount of keepfs),
// it asks the daemon to look up "." in a node id nobody has named yet.
//
// The store keeps no index from a number to its snapshot, and none is
// needed on disk: a number belongs to one user, or to one snapshot of one
// user, for ever (numbers are never reused; a husk takes a new one; undelete
// brings back the old record with its old number). So the index is learned
// in memory by reading every user and snapshot record once, and a number it
// does not know makes it read them again: at once when the store's number
// counter says the number was handed out after that pass began (a snapshot
// committed since, a husk), never when the counter says it was never handed
// out (a forged handle), else at most once a second (an undelete; a handle of
// a snapshot that is gone).
//
// A hard-link group has no ordinal of its own (fs/inode.h): the first
// request for a group of a snapshot walks that snapshot's trees once (until
// every group of its link table is met) and remembers a name of each.
//
// Thread safety: all methods may be called from many threads at once; a
// pass over the records or a walk holds this index's lock (other export
// lookups wait, nothing else does).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "snapshot/snapshot_record.h"
#include "snapshot/tree.h"
#include "store/status.h"
#include "store/store.h"

namespace keepfs::fs {

class ExportIndex {
 public:
  // store (not owned) must outlive the index; trees reads tree nodes.
  ExportIndex(Store* store, snapshot::NodeSource trees);

  struct Owner {
    std::string user;
    std::string snapshot;  // empty: the user's own number
  };
  // Who had number when the records were last read: a hint the caller
  // checks against the record it then loads (the snapshot may be gone, or
  // its name may hold a husk with a new number). nullopt: nobody.
  Result<std::optional<Owner>> Find(uint64_t number);

  // The ordinal of a name of hard-link group link_id in snapshot rec (any of
  // them: all names are one inode); nullopt when the group has no name in
  // the snapshot's trees.
  Result<std::optional<uint64_t>> LinkOrdinal(const snapshot::SnapshotRecord& rec,
                                              uint64_t link_id);

 private:
  Status Rescan();  // REQUIRES(mu_)
  Result<std::shared_ptr<const std::unordered_map<uint64_t, uint64_t>>> WalkLinks(
      const snapshot::SnapshotRecord& rec);

  Store* store_;
  snapshot::NodeSource trees_;

  std::mutex mu_;
  std::unordered_map<uint64_t, Owner> owners_;  // GUARDED_BY(mu_)
  uint64_t next_at_scan_ = 0;  // the number counter when the last pass began; GUARDED_BY(mu_)
  std::optional<std::chrono::steady_clock::time_point> scanned_at_;  // GUARDED_BY(mu_)
  // snapshot number -> (link_id -> first ordinal); a few snapshots at most.
  std::map<uint64_t, std::shared_ptr<const std::unordered_map<uint64_t, uint64_t>>>
      links_;  // GUARDED_BY(mu_)
};

}  // namespace keepfs::fs
