// The soak's readers: each walks a snapshot of one user the way find, tar or
// cp -a do (every folder opened and listed, every entry stat'ed relative to
// its open folder, every file read to its end in 128 KiB reads), checks it
// against the snapshot's Manifest, then picks the next one.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "tools/bench/soak_impl.h"

namespace keepfs::bench {

namespace {

using Clock = std::chrono::steady_clock;

uint64_t NsSince(Clock::time_point t) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t).count());
}

bool IsSnapshotName(const std::string& name) {
  return name.size() >= 17 && name[4] == '-' && name[10] == '_' && name[0] >= '0' && name[0] <= '9';
}

// Lists the folder an open fd names (taking the fd); names and types.
bool ListFd(int fd, std::map<std::string, unsigned char>* out, int* err) {
  DIR* d = ::fdopendir(fd);
  if (!d) {
    *err = errno;
    ::close(fd);
    return false;
  }
  errno = 0;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") (*out)[name] = e->d_type;
    errno = 0;
  }
  *err = errno;
  ::closedir(d);
  return *err == 0;
}

class Reader {
 public:
  Reader(SoakState& s, uint64_t seed, Heartbeat& beat) : s_(s), beat_(beat), rng_(seed) {}
  void Run();

 private:
  void Flush();
  uint64_t Next() {
    rng_ = rng_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return rng_ >> 33;
  }
  bool PickSnapshot(int user, std::string* name);
  void Walk(int user, const std::string& name, const Manifest& m);
  // Walks the open folder dfd (rel inside the snapshot); false ends the walk.
  bool WalkDir(int dfd, const std::string& rel);
  bool CheckFolder(const std::string& rel, const std::map<std::string, unsigned char>& listed);
  bool ReadFile(int dfd, const std::string& name, const std::string& rel, const FileSpec& spec);
  // An errno from a call inside the snapshot being walked: legitimate only if
  // it is ENOENT or ESTALE and the snapshot is gone now. Ends the walk.
  bool Failed(int err, const std::string& what);
  std::string Where(const std::string& rel) const {
    return std::string(kSoakUsers[user_]) + "/" + snap_ + (rel.empty() ? "" : "/" + rel);
  }

  SoakState& s_;
  Heartbeat& beat_;
  uint64_t rng_;
  int user_ = 0;
  std::string snap_;
  const Manifest* m_ = nullptr;
  std::vector<char> buf_ = std::vector<char>(128 << 10), want_ = std::vector<char>(128 << 10);
  LatencyHistogram read_latency_, file_latency_;
  uint64_t walks_ = 0, vanished_ = 0, dirs_ = 0, files_ = 0, reads_ = 0, bytes_ = 0;
};

void Reader::Run() {
  while (!s_.stop) {
    s_.Beat(beat_);
    int user = static_cast<int>(Next() % 2);
    std::string name;
    if (!PickSnapshot(user, &name)) {
      ::usleep(100000);  // after an error: do not spin on it
      continue;
    }
    auto m = s_.FindManifest(user, name);
    if (!m) {
      s_.Error(std::string(kSoakUsers[user]) + "/" + name + ": a snapshot nobody backed up");
      continue;
    }
    Walk(user, name, *m);
    Flush();
  }
  Flush();
}

// Adds what this reader counted since the last call to the report.
void Reader::Flush() {
  std::lock_guard<std::mutex> lock(s_.report_mu);
  SoakReport& r = s_.report;
  r.read_latency.Merge(read_latency_);
  r.file_latency.Merge(file_latency_);
  r.walks += walks_;
  r.vanished += vanished_;
  r.dirs_listed += dirs_;
  r.files_read += files_;
  r.reads += reads_;
  r.bytes_read += bytes_;
  read_latency_ = LatencyHistogram();
  file_latency_ = LatencyHistogram();
  walks_ = vanished_ = dirs_ = files_ = reads_ = bytes_ = 0;
}

// One of the user's snapshots as the mount lists them: a quarter of the time
// `latest`, a quarter the oldest (the next prune's), else any.
bool Reader::PickSnapshot(int user, std::string* name) {
  const std::string dir = s_.mnt + "/" + kSoakUsers[user];
  std::map<std::string, unsigned char> listed;
  int err = 0;
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || !ListFd(fd, &listed, &err)) {
    s_.Error("listing " + dir + ": " + std::strerror(fd < 0 ? errno : err));
    return false;
  }
  std::vector<std::string> snaps;
  for (const auto& [n, type] : listed) {
    if (IsSnapshotName(n)) snaps.push_back(n);
  }
  if (snaps.empty() || !listed.count("latest")) {
    s_.Error(dir + ": no snapshots or no latest");
    return false;
  }
  uint64_t pick = Next() % 4;
  if (pick == 0) {
    char target[256];
    ssize_t n = ::readlink((dir + "/latest").c_str(), target, sizeof target - 1);
    if (n <= 0) {
      s_.Error("readlink " + dir + "/latest: " + std::strerror(errno));
      return false;
    }
    *name = std::string(target, static_cast<size_t>(n));
  } else {
    *name = pick == 1 ? snaps.front() : snaps[Next() % snaps.size()];
  }
  return true;
}

void Reader::Walk(int user, const std::string& name, const Manifest& m) {
  user_ = user;
  snap_ = name;
  m_ = &m;
  const std::string root = s_.mnt + "/" + kSoakUsers[user] + "/" + name;
  int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    Failed(errno, "opening the snapshot folder");
    return;
  }
  if (WalkDir(fd, "")) ++walks_;
}

bool Reader::WalkDir(int dfd, const std::string& rel) {
  std::map<std::string, unsigned char> listed;
  int err = 0;
  int lfd = ::openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  bool listed_ok = lfd >= 0 && ListFd(lfd, &listed, &err);
  if (!listed_ok) {
    ::close(dfd);
    return Failed(lfd < 0 ? errno : err, "listing " + Where(rel));
  }
  ++dirs_;
  s_.Beat(beat_);
  bool go_on = CheckFolder(rel, listed);
  // Visit the entries in a random order, so that readers of one snapshot
  // spread over its files.
  std::vector<std::string> names;
  for (const auto& [n, type] : listed) names.push_back(n);
  for (size_t i = names.size(); i > 1; --i) std::swap(names[i - 1], names[Next() % i]);
  for (size_t i = 0; go_on && i < names.size() && !s_.stop; ++i) {
    const std::string& n = names[i];
    const std::string child = rel.empty() ? n : rel + "/" + n;
    struct stat st;
    if (::fstatat(dfd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      go_on = Failed(errno, "stat " + Where(child));
      break;
    }
    auto file = m_->files.find(child);
    if (file != m_->files.end()) {
      if (!S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) != file->second->size()) {
        s_.Error(Where(child) + ": mode " + std::to_string(st.st_mode) + " size " +
                 std::to_string(st.st_size) + ", backed up a file of " +
                 std::to_string(file->second->size()));
        continue;
      }
      go_on = ReadFile(dfd, n, child, *file->second);
    } else if (m_->dirs.count(child)) {
      if (!S_ISDIR(st.st_mode)) {
        s_.Error(Where(child) + ": not a folder, backed up as one");
        continue;
      }
      int cfd = ::openat(dfd, n.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (cfd < 0) {
        go_on = Failed(errno, "opening " + Where(child));
        break;
      }
      go_on = WalkDir(cfd, child);
    }
  }
  ::close(dfd);
  return go_on;
}

// The listing must be the backed-up folder's names exactly: what a snapshot
// lists never changes, even once it is pruned.
bool Reader::CheckFolder(const std::string& rel,
                         const std::map<std::string, unsigned char>& listed) {
  auto want = m_->dirs.find(rel);
  if (want == m_->dirs.end()) {
    s_.Error(Where(rel) + ": listed a folder that was not backed up");
    return false;
  }
  std::string missing, extra;
  for (const auto& n : want->second) {
    if (!listed.count(n)) missing += " " + n;
  }
  for (const auto& [n, type] : listed) {
    if (!want->second.count(n)) extra += " " + n;
  }
  if (missing.empty() && extra.empty()) return true;
  s_.Error(Where(rel) + ": listing differs from the backup: missing" + missing + "; extra" + extra);
  return false;
}

bool Reader::ReadFile(int dfd, const std::string& name, const std::string& rel,
                      const FileSpec& spec) {
  const Clock::time_point opened = Clock::now();
  int fd = ::openat(dfd, name.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Failed(errno, "open " + Where(rel));
  // Once open, the file reads to its end whatever prune and gc do meanwhile:
  // every error and every wrong byte from here on is an error.
  const uint64_t size = spec.size();
  uint64_t at = 0;
  bool good = true;
  while (good) {
    const Clock::time_point t = Clock::now();
    ssize_t n = ::read(fd, buf_.data(), buf_.size());
    read_latency_.Add(NsSince(t));
    s_.Beat(beat_);
    ++reads_;
    if (n < 0) {
      s_.Error(Where(rel) + ": read at " + std::to_string(at) + ": " + std::strerror(errno));
      good = false;
    } else if (n == 0) {
      break;
    } else if (at + static_cast<uint64_t>(n) > size) {
      s_.Error(Where(rel) + ": longer than the " + std::to_string(size) + " bytes backed up");
      good = false;
    } else {
      spec.Fill(at, want_.data(), static_cast<size_t>(n));
      if (std::memcmp(buf_.data(), want_.data(), static_cast<size_t>(n)) != 0) {
        size_t i = 0;
        while (buf_[i] == want_[i]) ++i;
        s_.Error(Where(rel) + ": wrong bytes at offset " + std::to_string(at + i));
        good = false;
      }
      at += static_cast<uint64_t>(n);
      bytes_ += static_cast<uint64_t>(n);
    }
  }
  if (good && at != size) {
    s_.Error(Where(rel) + ": read " + std::to_string(at) + " of " + std::to_string(size) +
             " bytes");
    good = false;
  }
  // Drop the file's pages, so that the next reader of it asks the mount again.
  if (s_.o.evict) (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
  file_latency_.Add(NsSince(opened));
  if (good) ++files_;
  return true;  // the walk goes on after a bad file: count every one
}

bool Reader::Failed(int err, const std::string& what) {
  if (err == ENOENT || err == ESTALE) {
    // Gone from the user's folder as the mount lists it now: prune took it.
    const std::string dir = s_.mnt + "/" + kSoakUsers[user_];
    std::map<std::string, unsigned char> listed;
    int lerr = 0;
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0 && ListFd(fd, &listed, &lerr) && !listed.count(snap_)) {
      ++vanished_;
      return false;
    }
  }
  s_.Error(what + ": " + std::strerror(err));
  return false;
}

}  // namespace

void RunReader(SoakState& s, uint64_t seed, Heartbeat& beat) { Reader(s, seed, beat).Run(); }

}  // namespace keepfs::bench
