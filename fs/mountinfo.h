// FindMount: what /proc/self/mountinfo says about a mount point. The mount
// uses it to find its backing device (read-ahead) and `keepfs umount` to find
// the store behind a mount ("keepfs:STORE" is the mount's source).
//
// Thread safety: a pure read of procfs.
#pragma once

#include <optional>
#include <string>

namespace keepfs::fs {

struct MountEntry {
  std::string device;  // "major:minor"
  std::string fstype;  // e.g. "fuse.keepfs"
  std::string source;  // e.g. "keepfs:/srv/keepfs"
};

// The newest mount at mountpoint (absolute and resolved, as mountinfo shows
// it); nullopt if nothing is mounted there.
std::optional<MountEntry> FindMount(const std::string& mountpoint);

}  // namespace keepfs::fs
