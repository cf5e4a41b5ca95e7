#include "tests/tools/hostile_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "store/file_util.h"
#include "store/kv_store.h"
#include "store/object_id.h"
#include "store/pack.h"
#include "store/store.h"
#include "store/thread_pool.h"
#include "tests/testing/test_util.h"

namespace keepfs::testing {

namespace {
std::string Slurp(const std::string& path) {
  Result<std::string> r = ReadFile(path);  // any size: ls of a million entries is 70 MB
  return r.ok() ? *r : std::string();
}
// SHA-256 of a file of any size, as hex; "unreadable" when it cannot be read.
std::string HashFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "unreadable";
  Sha256 h;
  char buf[1 << 16];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) h.Update(buf, static_cast<size_t>(n));
  ::close(fd);
  return n < 0 ? "unreadable" : h.Finish().ToHex();
}
}  // namespace

BinaryRun RunBinary(const std::vector<std::string>& args, const std::string& scratch_dir,
                    const BinaryOptions& options) {
  static int counter = 0;
  const std::string base =
      scratch_dir + "/run" + std::to_string(++counter) + "-" + std::to_string(::getpid());
  const std::string out_path = base + ".out", err_path = base + ".err";
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  BinaryRun run;
  const auto start = std::chrono::steady_clock::now();
  pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls until exec.
    int in = ::open(options.stdin_path.c_str(), O_RDONLY);
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0 || err < 0) ::_exit(126);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    if (options.nofile) {
      struct rlimit rl;
      ::getrlimit(RLIMIT_NOFILE, &rl);
      rl.rlim_cur = options.nofile;
      if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) ::_exit(125);
    }
    if (options.drop_privileges) {
      if (::setgroups(0, nullptr) != 0 || ::setresgid(options.gid, options.gid, options.gid) != 0 ||
          ::setresuid(options.uid, options.uid, options.uid) != 0) {
        ::_exit(124);
      }
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  if (pid < 0) return run;
  int status = 0;
  struct rusage ru {};
  const auto deadline =
      start + std::chrono::milliseconds(static_cast<int64_t>(options.timeout_s * 1000));
  for (;;) {
    pid_t r = ::wait4(pid, &status, WNOHANG, &ru);
    if (r == pid) break;
    if (std::chrono::steady_clock::now() > deadline && !run.timed_out) {
      run.timed_out = true;
      ::kill(pid, SIGKILL);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  run.max_rss_kib = ru.ru_maxrss;
  run.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.out = Slurp(out_path);
  run.err = Slurp(err_path);
  ::unlink(out_path.c_str());
  ::unlink(err_path.c_str());
  return run;
}

std::string StoreDigest(const std::string& store_dir) {
  Sha256 h;
  auto add = [&h](std::string_view s) {
    std::string len = std::to_string(s.size()) + ":";
    h.Update(len);
    h.Update(s);
  };
  {
    auto store = Store::Open(store_dir, OpenMode::kReadOnly);
    if (!store.ok()) return "error: " + store.status().ToString();
    std::unique_ptr<KvIterator> it = (*store)->kv().NewIterator("");
    size_t keys = 0;
    for (; it->Valid(); it->Next(), ++keys) {
      add(it->key());
      add(it->value());
    }
    add("keys " + std::to_string(keys));
  }
  for (uint64_t pack : ListPackFiles(store_dir)) {
    std::string rel = PackRelPath(pack);
    add(rel);
    add(HashFile(store_dir + "/" + rel));
  }
  add(Slurp(store_dir + "/config.toml"));
  // The store's own top-level names: a command must not leave new files
  // (a stray config.toml.tmp, a RESTORING marker) behind.
  std::vector<std::string> names;
  if (DIR* d = ::opendir(store_dir.c_str())) {
    while (dirent* de = ::readdir(d)) {
      std::string n = de->d_name;
      if (n != "." && n != ".." && n != "lock") names.push_back(n);
    }
    ::closedir(d);
  }
  std::sort(names.begin(), names.end());
  for (const auto& n : names) add(n);
  return h.Finish().ToHex();
}

namespace {
void Compare(int a, int b, const std::string& rel, std::vector<std::string>* diffs);

std::vector<std::string> Names(int dirfd) {
  std::vector<std::string> names;
  int fd = ::dup(dirfd);
  DIR* d = fd >= 0 ? ::fdopendir(fd) : nullptr;
  if (!d) return names;
  ::rewinddir(d);
  while (dirent* de = ::readdir(d)) {
    if (std::strcmp(de->d_name, ".") != 0 && std::strcmp(de->d_name, "..") != 0) {
      names.emplace_back(de->d_name);
    }
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

std::string ReadAll(int dirfd, const std::string& name, bool* ok) {
  std::string out;
  int fd = ::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  *ok = fd >= 0;
  if (fd < 0) return out;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) *ok = false;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

std::string Link(int dirfd, const std::string& name) {
  char buf[8192];
  ssize_t n = ::readlinkat(dirfd, name.c_str(), buf, sizeof buf);
  return n < 0 ? "<unreadable link>" : std::string(buf, static_cast<size_t>(n));
}

void CompareEntry(int a, int b, const std::string& name, const std::string& rel,
                  std::vector<std::string>* diffs) {
  struct stat sa, sb;
  if (::fstatat(a, name.c_str(), &sa, AT_SYMLINK_NOFOLLOW) != 0 ||
      ::fstatat(b, name.c_str(), &sb, AT_SYMLINK_NOFOLLOW) != 0) {
    diffs->push_back(rel + ": cannot stat");
    return;
  }
  if ((sa.st_mode & S_IFMT) != (sb.st_mode & S_IFMT)) {
    diffs->push_back(rel + ": type differs");
    return;
  }
  if (!S_ISLNK(sa.st_mode) && (sa.st_mode & 07777) != (sb.st_mode & 07777)) {
    diffs->push_back(rel + ": mode differs");
  }
  if (S_ISREG(sa.st_mode)) {
    bool oka = false, okb = false;
    if (sa.st_size != sb.st_size || ReadAll(a, name, &oka) != ReadAll(b, name, &okb) || !oka ||
        !okb) {
      diffs->push_back(rel + ": content differs");
    }
  } else if (S_ISLNK(sa.st_mode)) {
    if (Link(a, name) != Link(b, name)) diffs->push_back(rel + ": link target differs");
  } else if (S_ISCHR(sa.st_mode) || S_ISBLK(sa.st_mode)) {
    if (sa.st_rdev != sb.st_rdev) diffs->push_back(rel + ": device number differs");
  } else if (S_ISDIR(sa.st_mode)) {
    int ca = ::openat(a, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    int cb = ::openat(b, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (ca < 0 || cb < 0) {
      diffs->push_back(rel + ": cannot open folder");
    } else {
      Compare(ca, cb, rel, diffs);
    }
    if (ca >= 0) ::close(ca);
    if (cb >= 0) ::close(cb);
  }
}

void Compare(int a, int b, const std::string& rel, std::vector<std::string>* diffs) {
  std::vector<std::string> na = Names(a), nb = Names(b);
  std::vector<std::string> only_a, only_b, both;
  std::set_difference(na.begin(), na.end(), nb.begin(), nb.end(), std::back_inserter(only_a));
  std::set_difference(nb.begin(), nb.end(), na.begin(), na.end(), std::back_inserter(only_b));
  std::set_intersection(na.begin(), na.end(), nb.begin(), nb.end(), std::back_inserter(both));
  for (const auto& n : only_a)
    diffs->push_back((rel.empty() ? n : rel + "/" + n) + ": only in the first tree");
  for (const auto& n : only_b)
    diffs->push_back((rel.empty() ? n : rel + "/" + n) + ": only in the second tree");
  for (const auto& n : both) {
    if (diffs->size() > 50) return;  // enough to see what is wrong
    CompareEntry(a, b, n, rel.empty() ? n : rel + "/" + n, diffs);
  }
}
}  // namespace

std::vector<std::string> CompareTrees(const std::string& a, const std::string& b) {
  std::vector<std::string> diffs;
  int fa = ::open(a.c_str(), O_RDONLY | O_DIRECTORY);
  int fb = ::open(b.c_str(), O_RDONLY | O_DIRECTORY);
  if (fa < 0 || fb < 0) {
    diffs.push_back("cannot open " + (fa < 0 ? a : b));
  } else {
    // Recurses once per level, like the backup's walk: on a stack made for it.
    RunWithStack(kTreeWalkStackBytes, [&] { Compare(fa, fb, "", &diffs); });
  }
  if (fa >= 0) ::close(fa);
  if (fb >= 0) ::close(fb);
  return diffs;
}

bool WriteAt(int dirfd, const std::string& name, const std::string& bytes) {
  int fd = ::openat(dirfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  bool ok = ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
  return ::close(fd) == 0 && ok;
}

}  // namespace keepfs::testing
