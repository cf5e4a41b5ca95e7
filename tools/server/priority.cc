#include "tools/server/priority.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <thread>

namespace keepfs::server {

namespace {
// linux/ioprio.h, which glibc does not wrap.
constexpr int kIoprioWhoProcess = 1;  // a thread id counts as a process here
constexpr int kIoprioClassShift = 13;
constexpr int kIoprioClassBestEffort = 2;
constexpr int kIoprioClassIdle = 3;

class ThrottledFile : public snapshot::SourceFile {
 public:
  ThrottledFile(std::unique_ptr<snapshot::SourceFile> inner, ReadThrottle* t)
      : inner_(std::move(inner)), t_(t) {}
  Status Stat(struct stat* st) override { return inner_->Stat(st); }
  Result<size_t> ReadAt(uint64_t offset, void* buf, size_t n) override {
    t_->Acquire(n);
    return inner_->ReadAt(offset, buf, n);
  }
  Result<std::optional<uint64_t>> NextData(uint64_t offset) override { return inner_->NextData(offset); }
  Result<uint64_t> NextHole(uint64_t offset) override { return inner_->NextHole(offset); }
  Result<std::vector<snapshot::Xattr>> Xattrs() override { return inner_->Xattrs(); }

 private:
  std::unique_ptr<snapshot::SourceFile> inner_;
  ReadThrottle* t_;
};

class ThrottledDir : public snapshot::SourceDir {
 public:
  ThrottledDir(std::unique_ptr<snapshot::SourceDir> inner, ReadThrottle* t)
      : inner_(std::move(inner)), t_(t) {}
  Status StatSelf(struct stat* st) override { return inner_->StatSelf(st); }
  Result<std::vector<snapshot::Xattr>> XattrsSelf() override { return inner_->XattrsSelf(); }
  Result<std::vector<std::string>> List() override { return inner_->List(); }
  Status Stat(const std::string& name, struct stat* st) override { return inner_->Stat(name, st); }
  Result<std::vector<snapshot::Xattr>> Xattrs(const std::string& name) override {
    return inner_->Xattrs(name);
  }
  Result<std::string> ReadLink(const std::string& name) override { return inner_->ReadLink(name); }
  Result<std::unique_ptr<snapshot::SourceDir>> OpenDir(const std::string& name) override {
    KEEPFS_ASSIGN_OR_RETURN(auto d, inner_->OpenDir(name));
    return std::unique_ptr<snapshot::SourceDir>(new ThrottledDir(std::move(d), t_));
  }
  Result<std::unique_ptr<snapshot::SourceFile>> OpenFile(const std::string& name) override {
    KEEPFS_ASSIGN_OR_RETURN(auto f, inner_->OpenFile(name));
    return std::unique_ptr<snapshot::SourceFile>(new ThrottledFile(std::move(f), t_));
  }

 private:
  std::unique_ptr<snapshot::SourceDir> inner_;
  ReadThrottle* t_;
};

class ThrottledFs : public snapshot::SourceFs {
 public:
  ThrottledFs(snapshot::SourceFs* inner, ReadThrottle* t) : inner_(inner), t_(t) {}
  Result<std::unique_ptr<snapshot::SourceDir>> OpenRoot(const std::string& path) override {
    KEEPFS_ASSIGN_OR_RETURN(auto d, inner_->OpenRoot(path));
    return std::unique_ptr<snapshot::SourceDir>(new ThrottledDir(std::move(d), t_));
  }

 private:
  snapshot::SourceFs* inner_;
  ReadThrottle* t_;
};
}  // namespace

Status ApplyPriority(const Priority& p) {
  const pid_t tid = static_cast<pid_t>(::syscall(SYS_gettid));
  if (::setpriority(PRIO_PROCESS, static_cast<id_t>(tid), p.nice) != 0) {
    return Status::FromErrno(errno, "setting nice " + std::to_string(p.nice));
  }
  int value = -1;
  if (p.ionice_class == "idle") {
    value = kIoprioClassIdle << kIoprioClassShift;
  } else if (p.ionice_class == "best-effort") {
    value = (kIoprioClassBestEffort << kIoprioClassShift) | std::clamp(p.ionice_level, 0, 7);
  }
  if (value >= 0 && ::syscall(SYS_ioprio_set, kIoprioWhoProcess, tid, value) != 0) {
    return Status::FromErrno(errno, "setting the I/O class " + p.ionice_class);
  }
  return Status::OK();
}

void ReadThrottle::Acquire(uint64_t n) {
  if (rate_ == 0 || n == 0) return;
  using Clock = std::chrono::steady_clock;
  const Clock::time_point now = Clock::now();
  Clock::time_point start;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Time unused in the past may be spent now, up to a quarter second.
    start = std::max(next_free_, now - std::chrono::milliseconds(250));
    next_free_ = start + std::chrono::nanoseconds(static_cast<int64_t>(
                             static_cast<double>(n) * 1e9 / static_cast<double>(rate_)));
  }
  // These bytes are paid for once the previous ones are: wait for that.
  if (start > now) std::this_thread::sleep_until(start);
}

std::unique_ptr<snapshot::SourceFs> ThrottledSourceFs(snapshot::SourceFs* inner,
                                                      ReadThrottle* throttle) {
  return std::make_unique<ThrottledFs>(inner, throttle);
}

}  // namespace keepfs::server
