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
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <string>
#include <vector>

namespace {

// ---- the real functions ---------------------------------------------------

template <typename F>
F Real(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}

using OpenFn = int (*)(const char*, int, ...);
using OpenatFn = int (*)(int, const char*, int, ...);
using WriteFn = ssize_t (*)(int, const void*, size_t);
using PwriteFn = ssize_t (*)(int, const void*, size_t, off_t);
using WritevFn = ssize_t (*)(int, const struct iovec*, int);
using PwritevFn = ssize_t (*)(int, const struct iovec*, int, off_t);
using ReadFn = ssize_t (*)(int, void*, size_t);
using PreadFn = ssize_t (*)(int, void*, size_t, off_t);
using ReadvFn = ssize_t (*)(int, const struct iovec*, int);
using PreadvFn = ssize_t (*)(int, const struct iovec*, int, off_t);
using FdFn = int (*)(int);
using RenameFn = int (*)(const char*, const char*);
using RenameatFn = int (*)(int, const char*, int, const char*);
using Renameat2Fn = int (*)(int, const char*, int, const char*, unsigned);
using PathFn = int (*)(const char*);
using UnlinkatFn = int (*)(int, const char*, int);
using MkdirFn = int (*)(const char*, mode_t);
using MkdiratFn = int (*)(int, const char*, mode_t);
using LinkFn = int (*)(const char*, const char*);
using LinkatFn = int (*)(int, const char*, int, const char*, int);
using FtruncateFn = int (*)(int, off_t);
using FallocateFn = int (*)(int, int, off_t, off_t);

struct RealFns {
  OpenFn open = Real<OpenFn>("open");
  OpenatFn openat = Real<OpenatFn>("openat");
  WriteFn write = Real<WriteFn>("write");
  PwriteFn pwrite = Real<PwriteFn>("pwrite");
  WritevFn writev = Real<WritevFn>("writev");
  PwritevFn pwritev = Real<PwritevFn>("pwritev");
  ReadFn read = Real<ReadFn>("read");
  PreadFn pread = Real<PreadFn>("pread");
  ReadvFn readv = Real<ReadvFn>("readv");
  PreadvFn preadv = Real<PreadvFn>("preadv");
  FdFn fsync = Real<FdFn>("fsync");
  FdFn fdatasync = Real<FdFn>("fdatasync");
  FdFn close = Real<FdFn>("close");
  RenameFn rename = Real<RenameFn>("rename");
  RenameatFn renameat = Real<RenameatFn>("renameat");
  Renameat2Fn renameat2 = Real<Renameat2Fn>("renameat2");
  PathFn unlink = Real<PathFn>("unlink");
  UnlinkatFn unlinkat = Real<UnlinkatFn>("unlinkat");
  PathFn rmdir = Real<PathFn>("rmdir");
  MkdirFn mkdir = Real<MkdirFn>("mkdir");
  MkdiratFn mkdirat = Real<MkdiratFn>("mkdirat");
  LinkFn link = Real<LinkFn>("link");
  LinkatFn linkat = Real<LinkatFn>("linkat");
  FtruncateFn ftruncate = Real<FtruncateFn>("ftruncate");
  FallocateFn fallocate = Real<FallocateFn>("fallocate");
};

RealFns& R() {
  static RealFns fns;
  return fns;
}

// ---- configuration --------------------------------------------------------

enum class Op { kNone, kRead, kWrite, kFsync, kOpen, kRename, kUnlink };

struct Config {
  std::vector<std::string> roots;
  std::string aside;
  uint64_t crash_at = 0;  // 0: never
  std::string count_file;
  std::string state_file;
  Op fail_op = Op::kNone;
  int fail_errno = 0;
  uint64_t fail_after = 0, fail_times = 0;
  std::string fail_match;
};

Op ParseOp(const std::string& s) {
  if (s == "read") return Op::kRead;
  if (s == "write") return Op::kWrite;
  if (s == "fsync") return Op::kFsync;
  if (s == "open") return Op::kOpen;
  if (s == "rename") return Op::kRename;
  if (s == "unlink") return Op::kUnlink;
  return Op::kNone;
}

int ParseErrno(const std::string& s) {
  if (s == "ENOSPC") return ENOSPC;
  if (s == "EIO") return EIO;
  if (s == "EINTR") return EINTR;
  if (s == "EDQUOT") return EDQUOT;
  return 0;
}

Config LoadConfig() {
  Config c;
  if (const char* roots = getenv("KEEPFS_FAULTFS_ROOTS")) {
    std::string all = roots;
    size_t start = 0;
    while (start <= all.size()) {
      size_t colon = all.find(':', start);
      if (colon == std::string::npos) colon = all.size();
      std::string root = all.substr(start, colon - start);
      while (root.size() > 1 && root.back() == '/') root.pop_back();
      if (!root.empty()) c.roots.push_back(root);
      start = colon + 1;
    }
  }
  if (const char* aside = getenv("KEEPFS_FAULTFS_ASIDE")) c.aside = aside;
  if (const char* n = getenv("KEEPFS_FAULTFS_CRASH_AT")) c.crash_at = strtoull(n, nullptr, 10);
  if (const char* f = getenv("KEEPFS_FAULTFS_COUNT_FILE")) c.count_file = f;
  if (const char* f = getenv("KEEPFS_FAULTFS_STATE")) c.state_file = f;
  if (const char* fail = getenv("KEEPFS_FAULTFS_FAIL")) {
    char op[32] = {0}, err[32] = {0}, match[PATH_MAX] = {0};
    unsigned long long after = 0, times = 0;
    if (sscanf(fail, "%31s %31s %llu %llu %4095s", op, err, &after, &times, match) == 5) {
      c.fail_op = ParseOp(op);
      c.fail_errno = ParseErrno(err);
      c.fail_after = after;
      c.fail_times = times;
      c.fail_match = strcmp(match, "-") == 0 ? "" : match;
    }
    if (c.fail_op == Op::kNone || c.fail_errno == 0) {
      fprintf(stderr, "faultfs: cannot parse KEEPFS_FAULTFS_FAIL=\"%s\"\n", fail);
      abort();
    }
  }
  return c;
}

const Config& Cfg() {
  static Config c = LoadConfig();
  return c;
}

// ---- state ----------------------------------------------------------------

struct FileKey {
  dev_t dev;
  ino_t ino;
  bool operator<(const FileKey& o) const { return dev != o.dev ? dev < o.dev : ino < o.ino; }
};

struct FileState {
  off_t synced_size = 0;
  bool dirty = false;
  std::string path;  // where the inode is now (an aside link once unlinked)
};

enum class DirOpKind { kCreate, kMkdir, kRename, kUnlink, kRmdir, kLink };

// One directory change not yet made durable by an fsync of its directory.
struct DirOp {
  DirOpKind kind;
  std::string path;   // the name created, removed or renamed to
  std::string from;   // kRename: the old name
  std::string aside;  // kRename: the replaced file; kUnlink: the removed file
  std::string dir;    // the directory whose fsync makes it durable
};

constexpr int kMaxFd = 1 << 16;

struct State {
  pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  std::atomic<bool> tracked[kMaxFd] = {};
  std::string fd_path[kMaxFd];
  std::map<FileKey, FileState> files;
  std::vector<DirOp> pending;
  uint64_t events = 0;
  uint64_t fail_seen = 0, failed = 0;
  uint64_t aside_seq = 0;
  bool crashed = false;
};

State& S() {
  static State* s = new State;  // never destroyed: threads may outlive exit
  return *s;
}

class Lock {
 public:
  Lock() { pthread_mutex_lock(&S().mu); }
  ~Lock() { pthread_mutex_unlock(&S().mu); }
};

bool Active() { return !Cfg().roots.empty(); }

std::string Absolute(int dirfd, const char* path) {
  if (path == nullptr) return {};
  if (path[0] == '/') return path;
  char base[PATH_MAX];
  if (dirfd == AT_FDCWD) {
    if (getcwd(base, sizeof base) == nullptr) return {};
  } else {  // not fd_path: that is written under the lock, and this runs outside it
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
    ssize_t n = readlink(link, base, sizeof base - 1);
    if (n < 0) return {};
    base[n] = '\0';
  }
  return std::string(base) + "/" + path;
}

// Lexically normalised: no "//", "/./" or "/x/../" (names under the roots are
// compared as strings, so two spellings of one path must agree).
std::string Normalize(const std::string& path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start < path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    std::string part = path.substr(start, slash - start);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    start = slash + 1;
  }
  std::string out;
  for (const auto& p : parts) out += "/" + p;
  return out.empty() ? "/" : out;
}

bool UnderRoots(const std::string& path) {
  for (const auto& root : Cfg().roots) {
    if (path.size() >= root.size() && path.compare(0, root.size(), root) == 0 &&
        (path.size() == root.size() || path[root.size()] == '/')) {
      return true;
    }
  }
  return false;
}

std::string DirOf(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

// A root's parent is tracked itself (not what else it holds): creating a
// root is a change in it, made durable by its fsync.
bool IsRootParent(const std::string& path) {
  for (const auto& root : Cfg().roots) {
    if (DirOf(root) == path) return true;
  }
  return false;
}

std::string Tracked(int dirfd, const char* path) {
  if (!Active()) return {};
  std::string abs = Normalize(Absolute(dirfd, path));
  return UnderRoots(abs) || IsRootParent(abs) ? abs : std::string();
}

bool IsTrackedFd(int fd) { return fd >= 0 && fd < kMaxFd && S().tracked[fd].load(); }

// ---- faults -----------------------------------------------------------------

// True (and errno set) if this call is one the configuration fails.
bool ShouldFail(Op op, const std::string& path) {
  const Config& c = Cfg();
  if (c.fail_op != op || path.empty()) return false;
  if (!c.fail_match.empty() && path.find(c.fail_match) == std::string::npos) return false;
  Lock lock;
  State& s = S();
  if (s.fail_seen++ < c.fail_after) return false;
  if (c.fail_times != 0 && s.failed >= c.fail_times) return false;
  ++s.failed;
  errno = c.fail_errno;
  return true;
}

bool FailFd(Op op, int fd) {
  if (Cfg().fail_op != op || !IsTrackedFd(fd)) return false;
  std::string path;
  {
    Lock lock;
    path = S().fd_path[fd];
  }
  return ShouldFail(op, path);
}

// ---- power loss -------------------------------------------------------------

int RemoveTreeEntry(const char* path, const struct stat*, int type, struct FTW*) {
  if (type == FTW_DP) return R().rmdir(path) == 0 ? 0 : 0;
  R().unlink(path);
  return 0;
}

// Drops what was not synced and kills the process. Called with the lock held,
// which it never releases: no other thread touches a tracked file again.
[[noreturn]] void PowerLoss() {
  State& s = S();
  s.crashed = true;
  // File data first, through the names the inodes have now.
  for (auto& [key, f] : s.files) {
    if (!f.dirty || f.path.empty()) continue;
    struct stat st;
    if (lstat(f.path.c_str(), &st) != 0 || st.st_dev != key.dev || st.st_ino != key.ino) continue;
    if (st.st_size > f.synced_size) truncate(f.path.c_str(), f.synced_size);
  }
  // Then the directory changes, newest first.
  for (auto it = s.pending.rbegin(); it != s.pending.rend(); ++it) {
    const DirOp& op = *it;
    switch (op.kind) {
      case DirOpKind::kCreate:
      case DirOpKind::kLink:
        R().unlink(op.path.c_str());
        break;
      case DirOpKind::kMkdir:
        nftw(op.path.c_str(), RemoveTreeEntry, 16, FTW_DEPTH | FTW_PHYS);
        break;
      case DirOpKind::kRename:
        R().rename(op.path.c_str(), op.from.c_str());
        if (!op.aside.empty()) R().rename(op.aside.c_str(), op.path.c_str());
        break;
      case DirOpKind::kUnlink:
        if (!op.aside.empty()) R().rename(op.aside.c_str(), op.path.c_str());
        break;
      case DirOpKind::kRmdir:
        R().mkdir(op.path.c_str(), 0755);
        break;
    }
  }
  // Everything on disk is now what a reboot would find: durable.
  if (!Cfg().state_file.empty()) R().unlink(Cfg().state_file.c_str());
  kill(getpid(), SIGKILL);
  for (;;) pause();
}

// Counts one mutating call on a tracked path; at the configured count, the
// power goes out before the call runs. Called with the lock held.
void Event() {
  State& s = S();
  ++s.events;
  if (Cfg().crash_at != 0 && s.events >= Cfg().crash_at) PowerLoss();
}

// A hard link to path in the aside directory, so an undo can bring it back;
// empty if path does not exist or no aside directory is configured.
std::string KeepAside(const std::string& path) {
  if (Cfg().aside.empty()) return {};
  struct stat st;
  if (lstat(path.c_str(), &st) != 0 || S_ISDIR(st.st_mode)) return {};
  std::string aside = Cfg().aside + "/" + std::to_string(getpid()) + "." +
                      std::to_string(++S().aside_seq);
  if (R().link(path.c_str(), aside.c_str()) != 0) return {};
  return aside;
}

FileState* StateOf(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return nullptr;
  auto [it, inserted] = S().files.try_emplace(FileKey{st.st_dev, st.st_ino});
  if (inserted) it->second.synced_size = st.st_size;  // what existed before is durable
  if (it->second.path.empty()) it->second.path = S().fd_path[fd];
  return &it->second;
}

void ForgetPath(const std::string& path, const std::string& now_at) {
  for (auto& [key, f] : S().files) {
    if (f.path == path) f.path = now_at;
  }
}

void RenamePaths(const std::string& from, const std::string& to) {
  for (auto& [key, f] : S().files) {
    if (f.path == from) {
      f.path = to;
    } else if (f.path.size() > from.size() && f.path.compare(0, from.size(), from) == 0 &&
               f.path[from.size()] == '/') {
      f.path = to + f.path.substr(from.size());
    }
  }
}

// An fsync of a directory makes the changes of names in it durable.
void DirSynced(const std::string& dir) {
  auto& p = S().pending;
  std::vector<DirOp> keep;
  for (auto& op : p) {
    if (op.dir == dir) {
      if (!op.aside.empty()) R().unlink(op.aside.c_str());
    } else {
      keep.push_back(std::move(op));
    }
  }
  p.swap(keep);
}

// The state file: "F dev ino synced_size dirty path" per known file and
// "D kind dir path from aside" per pending directory change, tab-separated.
void SaveState() {
  const std::string& file = Cfg().state_file;
  if (file.empty()) return;
  std::string out;
  for (const auto& [key, f] : S().files) {
    out += "F\t" + std::to_string(key.dev) + "\t" + std::to_string(key.ino) + "\t" +
           std::to_string(f.synced_size) + "\t" + (f.dirty ? "1" : "0") + "\t" + f.path + "\n";
  }
  for (const auto& op : S().pending) {
    out += "D\t" + std::to_string(static_cast<int>(op.kind)) + "\t" + op.dir + "\t" + op.path +
           "\t" + op.from + "\t" + op.aside + "\n";
  }
  std::string tmp = file + ".tmp";
  int fd = R().open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  (void)!R().write(fd, out.data(), out.size());
  R().close(fd);
  R().rename(tmp.c_str(), file.c_str());
}

std::vector<std::string> SplitTabs(const std::string& line) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t tab = line.find('\t', start);
    parts.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
    if (tab == std::string::npos) return parts;
    start = tab + 1;
  }
}

void LoadState() {
  const std::string& file = Cfg().state_file;
  if (file.empty()) return;
  int fd = R().open(file.c_str(), O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return;
  std::string all;
  char buf[65536];
  ssize_t n;
  while ((n = R().read(fd, buf, sizeof buf)) > 0) all.append(buf, static_cast<size_t>(n));
  R().close(fd);
  size_t start = 0;
  while (start < all.size()) {
    size_t nl = all.find('\n', start);
    if (nl == std::string::npos) nl = all.size();
    std::vector<std::string> p = SplitTabs(all.substr(start, nl - start));
    start = nl + 1;
    if (p[0] == "F" && p.size() == 6) {
      FileKey key{static_cast<dev_t>(strtoull(p[1].c_str(), nullptr, 10)),
                  static_cast<ino_t>(strtoull(p[2].c_str(), nullptr, 10))};
      FileState& f = S().files[key];
      f.synced_size = static_cast<off_t>(strtoll(p[3].c_str(), nullptr, 10));
      f.dirty = p[4] == "1";
      f.path = p[5];
    } else if (p[0] == "D" && p.size() == 6) {
      S().pending.push_back({static_cast<DirOpKind>(atoi(p[1].c_str())), p[3], p[4], p[5], p[2]});
    }
  }
}

void WriteCountFile() {
  if (Cfg().count_file.empty()) return;
  int fd = R().open(Cfg().count_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  std::string n = std::to_string(S().events) + "\n";
  (void)!R().write(fd, n.data(), n.size());
  R().close(fd);
}

__attribute__((constructor)) void OnLoad() {
  if (Active()) LoadState();
}

__attribute__((destructor)) void OnExit() {
  if (!Active()) return;
  Lock lock;  // a thread still running at exit must not change the state mid-save
  if (S().crashed) return;
  WriteCountFile();
  SaveState();
}

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
