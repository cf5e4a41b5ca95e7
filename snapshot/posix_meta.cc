#include "snapshot/posix_meta.h"

#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <algorithm>
#include <cerrno>

namespace keepfs::snapshot {

Result<Entry> EntryFromStat(std::string name, const struct stat& st) {
  Entry e;
  e.name = std::move(name);
  switch (st.st_mode & S_IFMT) {
    case S_IFREG: e.type = EntryType::kFile; e.size = static_cast<uint64_t>(st.st_size); break;
    case S_IFDIR: e.type = EntryType::kDir; break;
    case S_IFLNK: e.type = EntryType::kSymlink; break;
    case S_IFIFO: e.type = EntryType::kFifo; break;
    case S_IFCHR: e.type = EntryType::kCharDev; e.rdev = st.st_rdev; break;
    case S_IFBLK: e.type = EntryType::kBlockDev; e.rdev = st.st_rdev; break;
    case S_IFSOCK: e.type = EntryType::kSocket; break;
    default: return Status::NotSupported("unknown file type");
  }
  e.mode = st.st_mode & 07777;
  e.uid = st.st_uid;
  e.gid = st.st_gid;
  e.mtime_sec = st.st_mtim.tv_sec;
  e.mtime_nsec = static_cast<uint32_t>(st.st_mtim.tv_nsec);
  return e;
}

std::string FdRelativePath(int dirfd, const std::string& name) {
  return "/proc/self/fd/" + std::to_string(dirfd) + "/" + name;
}

namespace {

// Reads every xattr through `list` (llistxattr/flistxattr semantics) and
// `get` (lgetxattr/fgetxattr semantics), sorted by name. Retries when the set
// grows between the size query and the read.
template <typename ListFn, typename GetFn>
Result<std::vector<Xattr>> ReadXattrsWith(ListFn list, GetFn get) {
  std::vector<Xattr> out;
  std::string names;
  for (int attempt = 0; attempt < 5; ++attempt) {
    ssize_t n = list(nullptr, 0);
    if (n < 0) {
      if (errno == ENOTSUP || errno == ENODATA) return out;
      return Status::FromErrno(errno, "listing xattrs");
    }
    if (n == 0) return out;
    names.resize(static_cast<size_t>(n));
    n = list(names.data(), names.size());
    if (n >= 0) {
      names.resize(static_cast<size_t>(n));
      break;
    }
    if (errno != ERANGE) return Status::FromErrno(errno, "listing xattrs");
  }
  for (size_t pos = 0; pos < names.size();) {
    std::string xname(names.c_str() + pos);
    pos += xname.size() + 1;
    if (xname.empty()) continue;
    std::string value;
    ssize_t n = get(xname.c_str(), nullptr, 0);
    if (n < 0) {
      if (errno == ENODATA) continue;  // removed between list and get
      return Status::FromErrno(errno, "reading xattr " + xname);
    }
    value.resize(static_cast<size_t>(n));
    n = get(xname.c_str(), value.data(), value.size());
    if (n < 0) return Status::FromErrno(errno, "reading xattr " + xname);
    value.resize(static_cast<size_t>(n));
    out.push_back({std::move(xname), std::move(value)});
  }
  std::sort(out.begin(), out.end(), [](const Xattr& a, const Xattr& b) { return a.name < b.name; });
  return out;
}

}  // namespace

Result<std::vector<Xattr>> ReadXattrs(int dirfd, const std::string& name) {
  std::string path = FdRelativePath(dirfd, name);
  return ReadXattrsWith(
      [&](char* buf, size_t size) { return ::llistxattr(path.c_str(), buf, size); },
      [&](const char* xname, void* buf, size_t size) {
        return ::lgetxattr(path.c_str(), xname, buf, size);
      });
}

Result<std::vector<Xattr>> ReadFdXattrs(int fd) {
  return ReadXattrsWith(
      [fd](char* buf, size_t size) { return ::flistxattr(fd, buf, size); },
      [fd](const char* xname, void* buf, size_t size) { return ::fgetxattr(fd, xname, buf, size); });
}

Status WriteXattrs(int dirfd, const std::string& name, const std::vector<Xattr>& xattrs) {
  std::string path = FdRelativePath(dirfd, name);
  for (const Xattr& x : xattrs) {
    if (::lsetxattr(path.c_str(), x.name.c_str(), x.value.data(), x.value.size(), 0) != 0) {
      return Status::FromErrno(errno, "setting xattr " + x.name);
    }
  }
  return Status::OK();
}

Status WriteFdXattrs(int fd, const std::vector<Xattr>& xattrs) {
  for (const Xattr& x : xattrs) {
    if (::fsetxattr(fd, x.name.c_str(), x.value.data(), x.value.size(), 0) != 0) {
      return Status::FromErrno(errno, "setting xattr " + x.name);
    }
  }
  return Status::OK();
}

}  // namespace keepfs::snapshot
