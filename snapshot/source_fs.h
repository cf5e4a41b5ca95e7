// SourceFs: the narrow view of a file system that a backup reads, in the
// manner of leveldb's Env. Ingest reaches the OS only through it, so tests can
// hand it an in-memory tree that fails, changes under the reader, or holds
// what a test machine cannot create (tests/testing/fake_source_fs.h).
//
// Names are single path components, resolved relative to an open directory
// and never following a final symlink, so any path depth works and a symlink
// swapped in during the walk is never followed.
//
// Thread safety: a SourceDir and a SourceFile may be used from several
// threads at once (the walker lists and stats while workers open and read).
#pragma once

#include <sys/stat.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "snapshot/tree.h"
#include "store/status.h"

namespace keepfs::snapshot {

class SourceFile {
 public:
  virtual ~SourceFile() = default;
  virtual Status Stat(struct stat* st) = 0;
  // Up to n bytes at offset; 0 only at end of file.
  virtual Result<size_t> ReadAt(uint64_t offset, void* buf, size_t n) = 0;
  // SEEK_DATA: the first data byte at or after offset, nullopt when only a
  // hole remains. NotSupported when the file system cannot tell.
  virtual Result<std::optional<uint64_t>> NextData(uint64_t offset) = 0;
  // SEEK_HOLE: the first hole at or after offset (the size if none).
  virtual Result<uint64_t> NextHole(uint64_t offset) = 0;
  // Every xattr (and ACL), sorted by name.
  virtual Result<std::vector<Xattr>> Xattrs() = 0;
};

class SourceDir {
 public:
  virtual ~SourceDir() = default;
  // The directory itself.
  virtual Status StatSelf(struct stat* st) = 0;
  virtual Result<std::vector<Xattr>> XattrsSelf() = 0;
  // Every name but "." and "..", in no particular order.
  virtual Result<std::vector<std::string>> List() = 0;
  // lstat of one child.
  virtual Status Stat(const std::string& name, struct stat* st) = 0;
  virtual Result<std::vector<Xattr>> Xattrs(const std::string& name) = 0;
  virtual Result<std::string> ReadLink(const std::string& name) = 0;
  // Fail (ELOOP/ENOTDIR) rather than follow a child that became a symlink.
  virtual Result<std::unique_ptr<SourceDir>> OpenDir(const std::string& name) = 0;
  virtual Result<std::unique_ptr<SourceFile>> OpenFile(const std::string& name) = 0;
};

class SourceFs {
 public:
  virtual ~SourceFs() = default;
  // Opens the directory at an absolute path (following symlinks: the user named it).
  virtual Result<std::unique_ptr<SourceDir>> OpenRoot(const std::string& path) = 0;

  // The real file system. A process-wide instance; never deleted.
  static SourceFs* Posix();
};

}  // namespace keepfs::snapshot
