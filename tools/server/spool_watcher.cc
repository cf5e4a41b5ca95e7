#include "tools/server/spool_watcher.h"

#include <dirent.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "snapshot/catalog.h"

namespace keepfs::server {

namespace {
// Whatever can raise a flag: created (touch), replaced (rename into place),
// its time changed (touch on an existing flag), written and closed.
constexpr uint32_t kUserEvents = IN_CREATE | IN_MOVED_TO | IN_ATTRIB | IN_CLOSE_WRITE;
constexpr uint32_t kSpoolEvents = IN_CREATE | IN_MOVED_TO | IN_ONLYDIR;
}  // namespace

Result<std::unique_ptr<SpoolWatcher>> SpoolWatcher::Start(const std::string& spool,
                                                          int64_t rescan_sec, OfferFn offer) {
  std::unique_ptr<SpoolWatcher> w(new SpoolWatcher());
  w->spool_ = spool;
  w->rescan_sec_ = std::max<int64_t>(1, rescan_sec);
  w->offer_ = std::move(offer);
  w->inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (w->inotify_fd_ < 0) return Status::FromErrno(errno, "inotify");
  w->wake_fd_ = ::eventfd(0, EFD_CLOEXEC);
  if (w->wake_fd_ < 0) return Status::FromErrno(errno, "eventfd");
  w->spool_wd_ = ::inotify_add_watch(w->inotify_fd_, spool.c_str(), kSpoolEvents);
  if (w->spool_wd_ < 0) {
    // Still served by the rescans, only later.
    spdlog::warn("cannot watch the spool {} ({}); it is rescanned every {} s instead", spool,
                 std::strerror(errno), w->rescan_sec_);
  }
  // Watches first, then the scan: a flag raised in between is seen by one.
  w->Rescan();
  w->thread_ = std::thread([p = w.get()] { p->Loop(); });
  return w;
}

SpoolWatcher::~SpoolWatcher() { Stop(); }

void SpoolWatcher::Stop() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
    thread_.join();
  }
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  inotify_fd_ = wake_fd_ = -1;
}

void SpoolWatcher::WatchUser(const std::string& user) {
  if (!snapshot::ValidateUserName(user).ok()) return;
  for (const auto& [wd, u] : users_) {
    if (u == user) return;
  }
  // IN_DONT_FOLLOW: a symlinked user folder is not the user's (and is
  // refused at ingest anyway).
  int wd = ::inotify_add_watch(inotify_fd_, (spool_ + "/" + user).c_str(),
                               kUserEvents | IN_ONLYDIR | IN_DONT_FOLLOW);
  if (wd >= 0) users_[wd] = user;
}

void SpoolWatcher::Rescan() {
  if (DIR* d = ::opendir(spool_.c_str())) {
    while (dirent* de = ::readdir(d)) WatchUser(de->d_name);
    ::closedir(d);
  }
  auto pushes = FindFinishedPushes(spool_);
  if (!pushes.ok()) {
    spdlog::error("spool rescan: {}", pushes.status().message());
    return;
  }
  for (const auto& p : *pushes) offer_(p);
}

void SpoolWatcher::Loop() {
  auto next_rescan = std::chrono::steady_clock::now() + std::chrono::seconds(rescan_sec_);
  alignas(inotify_event) char buf[64 * 1024];
  while (true) {
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
        next_rescan - std::chrono::steady_clock::now());
    pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    int n = ::poll(fds, 2, static_cast<int>(std::max<int64_t>(0, wait.count())));
    if (n < 0 && errno != EINTR) return;
    if (fds[1].revents) return;
    if (fds[0].revents) {
      ssize_t len;
      while ((len = ::read(inotify_fd_, buf, sizeof buf)) > 0) {
        for (char* p = buf; p < buf + len;) {
          auto* ev = reinterpret_cast<inotify_event*>(p);
          p += sizeof(inotify_event) + ev->len;
          const std::string name = ev->len ? ev->name : "";
          if (ev->mask & IN_Q_OVERFLOW) {
            next_rescan = std::chrono::steady_clock::now();  // lost events: look at everything
          } else if (ev->wd == spool_wd_) {
            if (ev->mask & IN_ISDIR) {
              WatchUser(name);
              // A folder moved in whole may hold its flag already.
              if (auto push = FindFinishedPush(spool_, name)) offer_(*push);
            }
          } else if (auto it = users_.find(ev->wd); it != users_.end()) {
            if (ev->mask & IN_IGNORED) {
              users_.erase(it);  // the folder went; a rescan watches a new one
            } else if (name == kSpoolFlag) {
              if (auto push = FindFinishedPush(spool_, it->second)) offer_(*push);
            }
          }
        }
      }
    }
    if (std::chrono::steady_clock::now() >= next_rescan) {
      Rescan();
      next_rescan = std::chrono::steady_clock::now() + std::chrono::seconds(rescan_sec_);
    }
  }
}

}  // namespace keepfs::server
