// Diff: the paths added, removed and changed between two trees. Identical
// subtrees (same tree id) are skipped without being read, so diffing two
// nightly snapshots costs time proportional to what changed.
//
// Thread safety: const; safe to run concurrently with other readers.
#pragma once

#include <functional>
#include <string>

#include "snapshot/repo.h"

namespace keepfs::snapshot {

enum class DiffKind : char { kAdded = '+', kRemoved = '-', kChanged = 'M' };

struct DiffItem {
  DiffKind kind;
  std::string path;  // relative, '/'-separated; directories end in '/'
  EntryType type;
  std::string what;  // for kChanged: "content", "mode", "owner", "mtime", "xattrs", ...
};

// Calls fn for every difference, in path order. Added and removed
// directories are reported with everything in them.
Status DiffTrees(const Repo& repo, const ObjectId& a, const ObjectId& b,
                 const std::function<Status(const DiffItem&)>& fn);

}  // namespace keepfs::snapshot
