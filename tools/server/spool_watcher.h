// Watches the spool for raised flags and offers each finished push to the
// ingest queue: inotify on SPOOL (new user folders) and on every SPOOL/USER
// (the flag created, touched or moved in), plus a full rescan every
// rescan_sec as a fallback for what inotify misses (a spool on NFS, a
// watch limit reached, events lost in an overflow). Offering a push twice
// is harmless: the queue keeps one per user.
//
// Thread safety: Start and Stop from one thread; the watcher runs its own.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "store/status.h"
#include "tools/server/spool.h"

namespace keepfs::server {

class SpoolWatcher {
 public:
  using OfferFn = std::function<void(const SpoolPush&)>;
  // Scans once (offering what is already flagged), then watches until Stop().
  static Result<std::unique_ptr<SpoolWatcher>> Start(const std::string& spool, int64_t rescan_sec,
                                                     OfferFn offer);
  ~SpoolWatcher();  // Stop()
  void Stop();

 private:
  SpoolWatcher() = default;
  void Loop();
  void Rescan();
  void WatchUser(const std::string& user);

  std::string spool_;
  int64_t rescan_sec_ = 60;
  OfferFn offer_;
  int inotify_fd_ = -1;
  int wake_fd_ = -1;
  int spool_wd_ = -1;
  std::map<int, std::string> users_;  // watch descriptor -> user (the loop's thread only)
  std::thread thread_;
};

}  // namespace keepfs::server
