// libkeepfs_faultfs.so: an LD_PRELOAD shim that simulates power loss and
// injects I/O errors under chosen directories, in the manner of RocksDB's
// FaultInjectionTestFS. The kernel here has no device-mapper (no dm-flakey,
// no dm-log-writes), so the layer sits between the process and libc.
//
// Environment (read once, at load):
//   KEEPFS_FAULTFS_ROOTS   colon-separated absolute directories; only files
//                          under them are tracked. Unset: the shim is inert.
//   KEEPFS_FAULTFS_ASIDE   a directory on the same filesystem, outside the
//                          roots, where replaced and unlinked files are kept
//                          (as hard links) until their directory is synced.
//   KEEPFS_FAULTFS_CRASH_AT=N
//                          power loss just before the Nth mutating call
//                          (write, fsync, rename, unlink, mkdir, create, ...)
//                          on a tracked path: every write since the file's
//                          last fsync is dropped, every directory change since
//                          its directory's last fsync is undone, then the
//                          process gets SIGKILL.
//   KEEPFS_FAULTFS_COUNT_FILE
//                          on normal exit, the number of mutating calls seen
//                          is written there (to pick N for a later run).
//   KEEPFS_FAULTFS_STATE   a file that carries what is not yet durable from
//                          one process to the next: loaded at start, written
//                          at a normal exit, removed by a power loss. So a
//                          job that exits 0 and a power loss in a later
//                          process (faultfs_probe power-loss) drop what the
//                          job left unsynced, as a real power cut would.
//                          Without it, whatever a process finds on disk when
//                          it first touches a file counts as durable.
//   KEEPFS_FAULTFS_FAIL="op errno after times substring"
//                          fail matching calls: op is read, write, fsync,
//                          open, rename or unlink; errno is ENOSPC, EIO or
//                          EINTR; the first `after` matching calls pass, the
//                          next `times` fail (0: all of them); only paths
//                          containing `substring` match ("-" matches all).
//                          write also covers ftruncate and fallocate.
//
// The durability model is the strict POSIX one that crash-consistency tools
// (ALICE, dm-log-writes) check against:
//   - a file's bytes are durable up to the size it had at its last fsync or
//     fdatasync; writes after that are lost (files are appended to here:
//     keepfs packs, RocksDB logs and tables, so "truncate to the synced size"
//     is what a power loss leaves);
//   - creating, renaming, linking or unlinking a name, and mkdir or rmdir, is
//     durable only once the directory that holds the name is fsynced (for a
//     rename, the directory of the new name);
//   - sync_file_range promises nothing.
// Not modelled: overwrites inside the synced part of a file, and writes
// through mmap (neither keepfs nor RocksDB, as configured, does either).
//
// Every tracked call runs under one lock, so the crash sees a quiet world:
// once it holds the lock, no thread of the process changes a tracked file.
#include "tests/testing/faultfs/faultfs_state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <unistd.h>

#include <string>

namespace {

using namespace keepfs_faultfs;  // NOLINT: this file is the model's one driver

// ---- the wrapped calls --------------------------------------------------------

int DoOpen(int dirfd, const char* path, int flags, mode_t mode) {
  std::string abs = Tracked(dirfd, path);
  if (abs.empty()) return R().openat(dirfd, path, flags, mode);
  if (ShouldFail(Op::kOpen, abs)) return -1;
  Lock lock;
  bool creates = false;
  struct stat st;
  if (flags & O_CREAT) {
    creates = lstat(abs.c_str(), &st) != 0;
    if (creates || (flags & O_TRUNC)) Event();
  } else if ((flags & O_TRUNC) && (flags & O_ACCMODE) != O_RDONLY) {
    Event();
  }
  int fd = R().openat(dirfd, path, flags, mode);
  if (fd < 0 || fd >= kMaxFd) return fd;
  S().fd_path[fd] = abs;
  S().tracked[fd] = true;
  if (creates) S().pending.push_back({DirOpKind::kCreate, abs, "", "", DirOf(abs)});
  if ((flags & O_TRUNC) && !creates) {
    if (FileState* f = StateOf(fd)) {
      f->synced_size = 0;  // the truncation is taken as durable, its data not
      f->dirty = true;
    }
  }
  return fd;
}

mode_t ModeArg(int flags, va_list ap) {
  return (flags & (O_CREAT | O_TMPFILE)) ? static_cast<mode_t>(va_arg(ap, int)) : 0;
}

ssize_t AfterWrite(int fd, ssize_t n) {
  if (n > 0) {
    if (FileState* f = StateOf(fd)) f->dirty = true;
  }
  return n;
}

int DoSync(int fd, FdFn real) {
  if (!IsTrackedFd(fd)) return real(fd);
  if (FailFd(Op::kFsync, fd)) return -1;
  Lock lock;
  Event();
  int rc = real(fd);
  if (rc != 0) return rc;
  struct stat st;
  if (fstat(fd, &st) != 0) return rc;
  if (S_ISDIR(st.st_mode)) {
    DirSynced(S().fd_path[fd]);
  } else if (FileState* f = StateOf(fd)) {
    f->synced_size = st.st_size;
    f->dirty = false;
  }
  return rc;
}

int DoRename(int olddirfd, const char* oldpath, int newdirfd, const char* newpath, unsigned flags,
             bool at2) {
  std::string from = Tracked(olddirfd, oldpath), to = Tracked(newdirfd, newpath);
  auto real = [&] {
    return at2 ? R().renameat2(olddirfd, oldpath, newdirfd, newpath, flags)
               : R().renameat(olddirfd, oldpath, newdirfd, newpath);
  };
  if (from.empty() && to.empty()) return real();
  if (ShouldFail(Op::kRename, to.empty() ? from : to)) return -1;
  Lock lock;
  Event();
  std::string aside = to.empty() ? std::string() : KeepAside(to);
  int rc = real();
  if (rc != 0) {
    if (!aside.empty()) R().unlink(aside.c_str());
    return rc;
  }
  if (!to.empty()) {
    if (!aside.empty()) ForgetPath(to, aside);
    RenamePaths(from, to);
    S().pending.push_back({DirOpKind::kRename, to, from, aside, DirOf(to)});
  }
  return rc;
}

int DoUnlink(int dirfd, const char* path, int flags) {
  std::string abs = Tracked(dirfd, path);
  if (abs.empty()) return R().unlinkat(dirfd, path, flags);
  if (ShouldFail(Op::kUnlink, abs)) return -1;
  Lock lock;
  Event();
  bool dir = (flags & AT_REMOVEDIR) != 0;
  std::string aside = dir ? std::string() : KeepAside(abs);
  int rc = R().unlinkat(dirfd, path, flags);
  if (rc != 0) {
    if (!aside.empty()) R().unlink(aside.c_str());
    return rc;
  }
  if (!aside.empty()) ForgetPath(abs, aside);
  S().pending.push_back({dir ? DirOpKind::kRmdir : DirOpKind::kUnlink, abs, "", aside, DirOf(abs)});
  return rc;
}

int DoMkdir(int dirfd, const char* path, mode_t mode) {
  std::string abs = Tracked(dirfd, path);
  if (abs.empty()) return R().mkdirat(dirfd, path, mode);
  Lock lock;
  Event();
  int rc = R().mkdirat(dirfd, path, mode);
  if (rc == 0) S().pending.push_back({DirOpKind::kMkdir, abs, "", "", DirOf(abs)});
  return rc;
}

int DoLink(int olddirfd, const char* oldpath, int newdirfd, const char* newpath, int flags) {
  std::string to = Tracked(newdirfd, newpath);
  if (to.empty()) return R().linkat(olddirfd, oldpath, newdirfd, newpath, flags);
  Lock lock;
  Event();
  int rc = R().linkat(olddirfd, oldpath, newdirfd, newpath, flags);
  if (rc == 0) S().pending.push_back({DirOpKind::kLink, to, "", "", DirOf(to)});
  return rc;
}

template <typename Call>
ssize_t DoWrite(int fd, Call call) {
  if (!IsTrackedFd(fd)) return call();
  if (FailFd(Op::kWrite, fd)) return -1;
  Lock lock;
  Event();
  return AfterWrite(fd, call());
}

template <typename Call>
ssize_t DoRead(int fd, Call call) {
  if (IsTrackedFd(fd) && FailFd(Op::kRead, fd)) return -1;
  return call();
}

}  // namespace

extern "C" {

int open(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = ModeArg(flags, ap);
  va_end(ap);
  return DoOpen(AT_FDCWD, path, flags, mode);
}

int open64(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = ModeArg(flags, ap);
  va_end(ap);
  return DoOpen(AT_FDCWD, path, flags, mode);
}

int openat(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = ModeArg(flags, ap);
  va_end(ap);
  return DoOpen(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = ModeArg(flags, ap);
  va_end(ap);
  return DoOpen(dirfd, path, flags, mode);
}

int __open_2(const char* path, int flags) { return DoOpen(AT_FDCWD, path, flags, 0); }
int __open64_2(const char* path, int flags) { return DoOpen(AT_FDCWD, path, flags, 0); }
int __openat_2(int dirfd, const char* path, int flags) { return DoOpen(dirfd, path, flags, 0); }
int __openat64_2(int dirfd, const char* path, int flags) { return DoOpen(dirfd, path, flags, 0); }

int creat(const char* path, mode_t mode) {
  return DoOpen(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}
int creat64(const char* path, mode_t mode) {
  return DoOpen(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

int close(int fd) {
  if (IsTrackedFd(fd)) {
    Lock lock;
    S().tracked[fd] = false;
    S().fd_path[fd].clear();
  }
  return R().close(fd);
}

ssize_t write(int fd, const void* buf, size_t n) {
  return DoWrite(fd, [&] { return R().write(fd, buf, n); });
}
ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) {
  return DoWrite(fd, [&] { return R().pwrite(fd, buf, n, off); });
}
ssize_t pwrite64(int fd, const void* buf, size_t n, off_t off) {
  return DoWrite(fd, [&] { return R().pwrite(fd, buf, n, off); });
}
ssize_t writev(int fd, const struct iovec* iov, int cnt) {
  return DoWrite(fd, [&] { return R().writev(fd, iov, cnt); });
}
ssize_t pwritev(int fd, const struct iovec* iov, int cnt, off_t off) {
  return DoWrite(fd, [&] { return R().pwritev(fd, iov, cnt, off); });
}
ssize_t pwritev64(int fd, const struct iovec* iov, int cnt, off_t off) {
  return DoWrite(fd, [&] { return R().pwritev(fd, iov, cnt, off); });
}

ssize_t read(int fd, void* buf, size_t n) {
  return DoRead(fd, [&] { return R().read(fd, buf, n); });
}
ssize_t pread(int fd, void* buf, size_t n, off_t off) {
  return DoRead(fd, [&] { return R().pread(fd, buf, n, off); });
}
ssize_t pread64(int fd, void* buf, size_t n, off_t off) {
  return DoRead(fd, [&] { return R().pread(fd, buf, n, off); });
}
ssize_t readv(int fd, const struct iovec* iov, int cnt) {
  return DoRead(fd, [&] { return R().readv(fd, iov, cnt); });
}
ssize_t preadv(int fd, const struct iovec* iov, int cnt, off_t off) {
  return DoRead(fd, [&] { return R().preadv(fd, iov, cnt, off); });
}
ssize_t preadv64(int fd, const struct iovec* iov, int cnt, off_t off) {
  return DoRead(fd, [&] { return R().preadv(fd, iov, cnt, off); });
}
ssize_t __read_chk(int fd, void* buf, size_t n, size_t) { return read(fd, buf, n); }
ssize_t __pread_chk(int fd, void* buf, size_t n, off_t off, size_t) {
  return pread(fd, buf, n, off);
}
ssize_t __pread64_chk(int fd, void* buf, size_t n, off_t off, size_t) {
  return pread(fd, buf, n, off);
}

int fsync(int fd) { return DoSync(fd, R().fsync); }
int fdatasync(int fd) { return DoSync(fd, R().fdatasync); }

int rename(const char* from, const char* to) {
  return DoRename(AT_FDCWD, from, AT_FDCWD, to, 0, false);
}
int renameat(int olddirfd, const char* from, int newdirfd, const char* to) {
  return DoRename(olddirfd, from, newdirfd, to, 0, false);
}
int renameat2(int olddirfd, const char* from, int newdirfd, const char* to, unsigned flags) {
  return DoRename(olddirfd, from, newdirfd, to, flags, true);
}

int unlink(const char* path) { return DoUnlink(AT_FDCWD, path, 0); }
int unlinkat(int dirfd, const char* path, int flags) { return DoUnlink(dirfd, path, flags); }
int rmdir(const char* path) { return DoUnlink(AT_FDCWD, path, AT_REMOVEDIR); }
int mkdir(const char* path, mode_t mode) { return DoMkdir(AT_FDCWD, path, mode); }
int mkdirat(int dirfd, const char* path, mode_t mode) { return DoMkdir(dirfd, path, mode); }
int link(const char* from, const char* to) { return DoLink(AT_FDCWD, from, AT_FDCWD, to, 0); }
int linkat(int olddirfd, const char* from, int newdirfd, const char* to, int flags) {
  return DoLink(olddirfd, from, newdirfd, to, flags);
}

int ftruncate(int fd, off_t len) {
  if (!IsTrackedFd(fd)) return R().ftruncate(fd, len);
  if (FailFd(Op::kWrite, fd)) return -1;
  Lock lock;
  Event();
  int rc = R().ftruncate(fd, len);
  if (rc == 0) {
    if (FileState* f = StateOf(fd)) {
      if (len < f->synced_size) f->synced_size = len;
      f->dirty = true;
    }
  }
  return rc;
}
int ftruncate64(int fd, off_t len) { return ftruncate(fd, len); }

int fallocate(int fd, int mode, off_t off, off_t len) {
  if (!IsTrackedFd(fd)) return R().fallocate(fd, mode, off, len);
  if (FailFd(Op::kWrite, fd)) return -1;
  Lock lock;
  Event();
  int rc = R().fallocate(fd, mode, off, len);
  if (rc == 0) {
    if (FileState* f = StateOf(fd)) f->dirty = true;
  }
  return rc;
}
int fallocate64(int fd, int mode, off_t off, off_t len) { return fallocate(fd, mode, off, len); }

}  // extern "C"

// For tests of the shim itself (tests/testing/faultfs/probe.cc): the power
// goes out now.
extern "C" __attribute__((visibility("default"))) void keepfs_faultfs_power_loss() {
  pthread_mutex_lock(&S().mu);
  PowerLoss();
}
