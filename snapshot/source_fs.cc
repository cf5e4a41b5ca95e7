#include "snapshot/source_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "snapshot/posix_meta.h"
#include "store/file_util.h"

namespace keepfs::snapshot {

namespace {

Status Fstat(int fd, struct stat* st) {
  if (::fstat(fd, st) != 0) return Status::FromErrno(errno, "fstat");
  return Status::OK();
}

class PosixFile final : public SourceFile {
 public:
  explicit PosixFile(UniqueFd fd) : fd_(std::move(fd)) {}

  Status Stat(struct stat* st) override { return Fstat(fd_.get(), st); }

  Result<size_t> ReadAt(uint64_t offset, void* buf, size_t n) override {
    for (;;) {
      ssize_t got = ::pread(fd_.get(), buf, n, static_cast<off_t>(offset));
      if (got >= 0) return static_cast<size_t>(got);
      if (errno != EINTR) return Status::FromErrno(errno, "reading");
    }
  }

  Result<std::optional<uint64_t>> NextData(uint64_t offset) override {
    off_t data = ::lseek(fd_.get(), static_cast<off_t>(offset), SEEK_DATA);
    if (data >= 0) return std::optional<uint64_t>(static_cast<uint64_t>(data));
    if (errno == ENXIO) return std::optional<uint64_t>();
    if (errno == EINVAL || errno == ENOTSUP) return Status::NotSupported("no SEEK_DATA here");
    return Status::FromErrno(errno, "seeking data");
  }

  Result<uint64_t> NextHole(uint64_t offset) override {
    off_t hole = ::lseek(fd_.get(), static_cast<off_t>(offset), SEEK_HOLE);
    if (hole < 0) return Status::FromErrno(errno, "seeking a hole");
    return static_cast<uint64_t>(hole);
  }

  Result<std::vector<Xattr>> Xattrs() override { return ReadFdXattrs(fd_.get()); }

 private:
  UniqueFd fd_;
};

class PosixDir final : public SourceDir {
 public:
  explicit PosixDir(UniqueFd fd) : fd_(std::move(fd)) {}

  Status StatSelf(struct stat* st) override { return Fstat(fd_.get(), st); }

  Result<std::vector<Xattr>> XattrsSelf() override { return ReadFdXattrs(fd_.get()); }

  Result<std::vector<std::string>> List() override {
    int fd = ::dup(fd_.get());  // closedir closes its fd; keep ours
    if (fd < 0) return Status::FromErrno(errno, "dup");
    DIR* d = ::fdopendir(fd);
    if (!d) {
      ::close(fd);
      return Status::FromErrno(errno, "opendir");
    }
    ::rewinddir(d);  // the dup shares our offset
    std::vector<std::string> names;
    errno = 0;
    while (dirent* de = ::readdir(d)) {
      if (std::strcmp(de->d_name, ".") != 0 && std::strcmp(de->d_name, "..") != 0) {
        names.emplace_back(de->d_name);
      }
    }
    int err = errno;
    ::closedir(d);
    if (err) return Status::FromErrno(err, "reading directory");
    return names;
  }

  Status Stat(const std::string& name, struct stat* st) override {
    if (::fstatat(fd_.get(), name.c_str(), st, AT_SYMLINK_NOFOLLOW) != 0) {
      return Status::FromErrno(errno, "stat");
    }
    return Status::OK();
  }

  Result<std::vector<Xattr>> Xattrs(const std::string& name) override {
    return ReadXattrs(fd_.get(), name);
  }

  Result<std::string> ReadLink(const std::string& name) override {
    std::string target(256, '\0');
    for (;;) {
      ssize_t n = ::readlinkat(fd_.get(), name.c_str(), target.data(), target.size());
      if (n < 0) return Status::FromErrno(errno, "readlink");
      if (static_cast<size_t>(n) < target.size()) {
        target.resize(static_cast<size_t>(n));
        return target;
      }
      target.resize(target.size() * 2);  // may have been truncated: try a bigger buffer
    }
  }

  Result<std::unique_ptr<SourceDir>> OpenDir(const std::string& name) override {
    UniqueFd child(
        ::openat(fd_.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!child.valid()) return Status::FromErrno(errno, "opening directory");
    return std::unique_ptr<SourceDir>(new PosixDir(std::move(child)));
  }

  Result<std::unique_ptr<SourceFile>> OpenFile(const std::string& name) override {
    // O_NONBLOCK: a file that became a fifo must not hang the backup.
    int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
    int fd = ::openat(fd_.get(), name.c_str(), flags | O_NOATIME);
    if (fd < 0 && errno == EPERM) fd = ::openat(fd_.get(), name.c_str(), flags);  // not the owner
    if (fd < 0) return Status::FromErrno(errno, "opening");
    return std::unique_ptr<SourceFile>(new PosixFile(UniqueFd(fd)));
  }

 private:
  UniqueFd fd_;
};

class PosixFs final : public SourceFs {
 public:
  Result<std::unique_ptr<SourceDir>> OpenRoot(const std::string& path) override {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid()) return Status::FromErrno(errno, "cannot open source directory " + path);
    return std::unique_ptr<SourceDir>(new PosixDir(std::move(fd)));
  }
};

}  // namespace

SourceFs* SourceFs::Posix() {
  static PosixFs* fs = new PosixFs();  // never destroyed: usable from any static destructor
  return fs;
}

}  // namespace keepfs::snapshot
