#include "store/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

namespace keepfs {

void UniqueFd::Reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Status WriteAll(int fd, const void* data, size_t len, std::string_view what) {
  const char* p = static_cast<const char*>(data);
  while (len > 0) {
    ssize_t n = ::write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, std::string("writing ") + std::string(what));
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
  return Status::OK();
}

Status PwriteAll(int fd, const void* data, size_t len, uint64_t offset, std::string_view what) {
  const char* p = static_cast<const char*>(data);
  while (len > 0) {
    ssize_t n = ::pwrite(fd, p, len, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, std::string("writing ") + std::string(what));
    }
    p += n;
    len -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return Status::OK();
}

Status PreadAll(int fd, void* data, size_t len, uint64_t offset, std::string_view what) {
  char* p = static_cast<char*>(data);
  while (len > 0) {
    ssize_t n = ::pread(fd, p, len, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, std::string("reading ") + std::string(what));
    }
    if (n == 0) return Status::Corruption(std::string(what) + " is truncated");
    p += n;
    len -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return Status::OK();
}

Status FsyncFd(int fd, std::string_view what) {
  while (::fsync(fd) != 0) {
    if (errno != EINTR) return Status::FromErrno(errno, std::string("fsync ") + std::string(what));
  }
  return Status::OK();
}

Status FsyncDir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return Status::FromErrno(errno, "opening directory " + dir);
  return FsyncFd(fd.get(), dir);
}

Status MakeDirs(const std::string& dir, int mode, bool durable) {
  if (dir.empty()) return Status::OK();
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Status::OK();
    return Status::InvalidArgument(dir + " exists and is not a directory");
  }
  auto slash = dir.find_last_of('/');
  if (slash != std::string::npos && slash > 0) {
    KEEPFS_RETURN_IF_ERROR(MakeDirs(dir.substr(0, slash), mode, durable));
  }
  if (::mkdir(dir.c_str(), static_cast<mode_t>(mode)) != 0) {
    if (errno == EEXIST) return Status::OK();
    return Status::FromErrno(errno, "creating directory " + dir);
  }
  if (!durable) return Status::OK();
  // A new directory's name is durable only once its parent is synced: a
  // store-backup copy made in a new folder vanished whole in a power cut
  // (PowerLossTest.StoreBackupAndRestoreAreWholeOrRefused) without this.
  return FsyncDir(slash == std::string::npos ? "." : slash == 0 ? "/" : dir.substr(0, slash));
}

Result<std::string> ReadSmallFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::FromErrno(errno, "opening " + path);
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "reading " + path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > (64 << 20)) return Status::InvalidArgument(path + " is too large");
  }
  return out;
}

std::string AtomicTempPath(std::string_view path) { return std::string(path) + ".tmp"; }

Status WriteFileAtomic(const std::string& path, std::string_view content) {
  std::string tmp = AtomicTempPath(path);
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) return Status::FromErrno(errno, "creating " + tmp);
  KEEPFS_RETURN_IF_ERROR(WriteAll(fd.get(), content.data(), content.size(), tmp));
  KEEPFS_RETURN_IF_ERROR(FsyncFd(fd.get(), tmp));
  fd.Reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Status::FromErrno(errno, "renaming " + tmp);
  auto slash = path.find_last_of('/');
  return FsyncDir(slash == std::string::npos ? "." : path.substr(0, slash));
}

bool PathExists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

bool PathIsInside(const std::string& path, const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code e1, e2;
  const fs::path in = fs::weakly_canonical(path, e1), of = fs::weakly_canonical(dir, e2);
  if (e1 || e2) return false;
  const fs::path rel = in.lexically_relative(of);
  return !rel.empty() && *rel.begin() != "..";
}

}  // namespace keepfs
