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
// Whose rights write DEST: the calling thread's, unless options.at_dest runs
// the steps that touch DEST under another identity (a server restoring for a
// user, tools/cli/fs_identity.h). Reads of the store never run inside at_dest.
//
// Thread safety: one restore per destination at a time.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "snapshot/repo.h"

namespace keepfs::snapshot {

struct RestoreOptions {
  bool restore_owners = true;  // chown to the stored uid/gid (needs root; failures are errors)
  // Runs each step that touches DEST (a stat, create, remove, link, write,
  // chmod, chown, xattr or times call, or a few of them together) and returns
  // its status; null runs them directly. Steps run on the thread that called
  // Restore, one at a time, and never read the store: an at_dest that acts as
  // another user for the step's duration (on that thread only) writes DEST
  // with that user's rights while the store is read with the caller's. A
  // non-OK status from at_dest itself is the step's error.
  std::function<Status(const std::function<Status()>& step)> at_dest;
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
// (created if missing); anything else is created as dest/<its name>. A dest
// that cannot be created, or that the identity writing it may not write, is
// an error before anything is written (PermissionDenied for EACCES/EPERM).
Result<RestoreResult> Restore(const Repo& repo, const SnapshotRecord& snap, std::string_view path,
                              const std::string& dest, const RestoreOptions& options,
                              RestoreProgress* progress);

}  // namespace keepfs::snapshot
