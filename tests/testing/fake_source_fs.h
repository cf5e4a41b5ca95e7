// FakeSourceFs: an in-memory source tree for ingest tests. It can hold what a
// test machine cannot make (any uid, device nodes as a non-root user, huge
// sparse files) and misbehave on purpose: fail one operation on one path with
// an errno, or change a file while it is being read.
//
// Paths are relative to the root ("" is the root, "a/b" a nested entry).
// Thread safety: every method may be called from any thread.
#pragma once

#include <sys/stat.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "snapshot/source_fs.h"

namespace keepfs::testing {

class FakeSourceFs final : public snapshot::SourceFs {
 public:
  enum class Op { kList, kStat, kOpen, kRead, kXattrs, kReadLink };

  FakeSourceFs();
  ~FakeSourceFs() override;

  // Adds (or replaces) an entry; parents must exist. Each gets a fresh inode
  // number and ctime.
  void AddDir(const std::string& path, uint32_t mode = 0755);
  void AddFile(const std::string& path, std::string data, uint32_t mode = 0644);
  // A sparse file: `size` bytes, all holes except the given extents.
  void AddSparseFile(const std::string& path, uint64_t size,
                     std::map<uint64_t, std::string> extents);
  void AddSymlink(const std::string& path, std::string target);
  void AddSpecial(const std::string& path, mode_t type, dev_t rdev = 0);  // S_IFIFO, S_IFCHR...
  void Remove(const std::string& path);
  void SetOwner(const std::string& path, uint32_t uid, uint32_t gid);
  void SetXattr(const std::string& path, const std::string& name, const std::string& value);
  // Replaces a file's data in place (same inode), moving mtime and ctime.
  void Modify(const std::string& path, std::string data);

  // The next `times` calls of op on path fail with errno err (0 times: forever).
  void FailOn(Op op, const std::string& path, int err, int times = 0);
  // Called (outside the lock) after each read of path; a test may Modify the
  // file from it to simulate a writer racing the backup.
  void OnRead(const std::string& path, std::function<void()> fn);

  Result<std::unique_ptr<snapshot::SourceDir>> OpenRoot(const std::string& path) override;

  // Implementation, shared with the handles it returns.
  struct Node;
  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace keepfs::testing
