// Conversions between Linux file metadata and tree entries, and xattr
// access that works at any path depth: names are resolved relative to a
// directory fd through /proc/self/fd, so a 4 KiB path or 60 nested 255-byte
// names never hit PATH_MAX.
//
// Thread safety: pure functions and syscalls.
#pragma once

#include <sys/stat.h>

#include <string>
#include <vector>

#include "snapshot/tree.h"
#include "store/status.h"

namespace keepfs::snapshot {

// Fills type, mode, uid, gid, mtime, size (files), rdev (devices) from st.
// NotSupported for a file type keepfs does not know.
Result<Entry> EntryFromStat(std::string name, const struct stat& st);

// "/proc/self/fd/<dirfd>/<name>"
std::string FdRelativePath(int dirfd, const std::string& name);

// Reads every xattr of dirfd/name without following a final symlink, sorted by name.
Result<std::vector<Xattr>> ReadXattrs(int dirfd, const std::string& name);
// Reads every xattr of an open file, sorted by name. Cheaper than the path
// form: no /proc lookup.
Result<std::vector<Xattr>> ReadFdXattrs(int fd);
// Sets xattrs on dirfd/name without following a final symlink.
Status WriteXattrs(int dirfd, const std::string& name, const std::vector<Xattr>& xattrs);
// Sets xattrs on an open file or directory.
Status WriteFdXattrs(int fd, const std::vector<Xattr>& xattrs);

}  // namespace keepfs::snapshot
