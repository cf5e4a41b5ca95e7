// Small POSIX helpers with Status errors: whole-buffer writes that retry on
// EINTR and short writes, fsync of files and directories, an fd owner.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "store/status.h"

namespace keepfs {

// Owns a file descriptor; closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.Release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = o.Release();
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void Reset();

 private:
  int fd_ = -1;
};

Status WriteAll(int fd, const void* data, size_t len, std::string_view what);
Status PwriteAll(int fd, const void* data, size_t len, uint64_t offset, std::string_view what);
// Reads exactly len bytes at offset; Corruption if the file is shorter.
Status PreadAll(int fd, void* data, size_t len, uint64_t offset, std::string_view what);
Status FsyncFd(int fd, std::string_view what);
// fsyncs a directory so that a rename or create inside it is durable.
Status FsyncDir(const std::string& dir);
// Creates dir and its missing parents. With durable, each directory it
// creates is made durable (its parent is fsynced, which needs read access to
// it), so that whatever is later written and synced inside survives a power
// loss with it: what the store's own directories need.
Status MakeDirs(const std::string& dir, int mode = 0755, bool durable = true);
Result<std::string> ReadSmallFile(const std::string& path);
// The temporary WriteFileAtomic writes before renaming it to path: what a
// crash inside it leaves ("NAME.tmp" beside NAME).
std::string AtomicTempPath(std::string_view path);
// Writes path atomically: tmp file, fsync, rename, fsync of the directory.
Status WriteFileAtomic(const std::string& path, std::string_view content);
bool PathExists(const std::string& path);
// Whether path is dir or lies below it, after resolving symlinks and ".."
// (parts that do not exist yet are taken as written). False when either
// cannot be resolved.
bool PathIsInside(const std::string& path, const std::string& dir);

}  // namespace keepfs
