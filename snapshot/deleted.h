// Recently deleted: what a user's recent snapshots hold that the newest one
// does not (docs/usage.md, "deleted"; the mount's /MOUNT/USER/.deleted/).
//
// A deleted entry is a path that some snapshot taken at or after `since`
// holds and the user's newest snapshot does not. Only the topmost such path
// is listed: a deleted folder is one entry, not one per file in it. Its
// version is the one the newest snapshot still holding the path has (the
// last version before it disappeared); a deleted folder is that snapshot's
// folder as a whole.
//
// Cost: each snapshot of the window is compared with the newest one folder
// by folder, skipping every folder whose tree is the same in both (trees are
// content-addressed), so the work follows what changed, not the size of the
// snapshots. Memory: the entries found, plus one folder's listing per level.
// A deleted folder's totals (files, bytes) walk that folder once.
//
// Thread safety: a pure function over a Repo (safe from many threads).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "snapshot/repo.h"
#include "snapshot/tree.h"
#include "store/status.h"

namespace keepfs::snapshot {

struct DeletedEntry {
  std::string path;      // relative, "docs/old.txt"
  std::string snapshot;  // the newest snapshot holding it
  int64_t last_seen = 0; // that snapshot's time (UTC seconds)
  Entry entry;           // as that snapshot holds it (entry.name = the last component)
  uint64_t files = 0;    // entries that are not folders: 1 for a file, those below for a folder
  uint64_t bytes = 0;    // their logical sizes (holes included)
};

struct DeletedList {
  std::string latest;                  // the snapshot compared against ("" if none)
  std::vector<DeletedEntry> entries;   // sorted by path (byte order)
};

// The entries user deleted: held by a snapshot with time >= since_sec but not
// by the newest snapshot. Empty when the user has fewer than two snapshots.
// NotFound/InvalidArgument (with advice) for an unknown or invalid user;
// Corruption if a tree cannot be read.
Result<DeletedList> DeletedSince(const Repo& repo, std::string_view user, int64_t since_sec);

// The list as text, one entry per line after a header naming the window:
// PATH ("/" after a folder), its size (and files in a folder), the snapshot
// that last held it. index: the mount's .deleted/INDEX.txt (tab-separated
// columns after '#' comment lines); else what `keepfs deleted` prints.
std::string DeletedReport(std::string_view user, const DeletedList& list, int64_t since_sec,
                          bool index);

}  // namespace keepfs::snapshot
