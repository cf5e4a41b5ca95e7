// The faultfs shim's model: see faultfs_state.h.
#include "tests/testing/faultfs/faultfs_state.h"

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

namespace keepfs_faultfs {

RealFns& R() {
  static RealFns fns;
  return fns;
}

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
  // Never destroyed: calls made while the process exits (LeakSanitizer's
  // symbolizer opens files from a global destructor) still find it whole.
  static const Config* c = new Config(LoadConfig());
  return *c;
}

State& S() {
  static State* s = new State;  // never destroyed: threads may outlive exit
  return *s;
}

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

}  // namespace keepfs_faultfs
