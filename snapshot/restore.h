// Restore: writes a snapshot (or a path in it) back to a directory with its
// modes, owners (when run as root), times, xattrs, ACLs, hard links, holes,
// symlinks, devices and fifos.
//
// Safety: every file is created relative to an open directory fd with
// O_NOFOLLOW and every name is checked (IsSafeName), so no name or symlink in
// the store can make restore write outside DEST. An existing directory is
// reused; an existing non-directory in the way is replaced; an existing
// directory where a non-directory belongs is an error, never deleted.
//
// Thread safety: one restore per destination at a time.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "snapshot/repo.h"

namespace keepfs::snapshot {

struct RestoreOptions {
  bool restore_owners = true;  // chown to the stored uid/gid (needs root; failures are errors)
};

struct RestoreProgress {
  std::atomic<uint64_t> files{0};
  std::atomic<uint64_t> dirs{0};
  std::atomic<uint64_t> bytes{0};
};

struct RestoreResult {
  uint64_t files = 0, dirs = 0, others = 0, bytes = 0;
  std::vector<SnapshotError> errors;  // entries that could not be fully restored
};

// Restores `path` of snap into dest. A directory's contents go into dest
// (created if missing); anything else is created as dest/<its name>.
Result<RestoreResult> Restore(const Repo& repo, const SnapshotRecord& snap, std::string_view path,
                              const std::string& dest, const RestoreOptions& options,
                              RestoreProgress* progress);

}  // namespace keepfs::snapshot
