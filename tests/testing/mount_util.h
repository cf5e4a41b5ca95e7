// TestMount: a real FUSE mount of a View, served by threads of the test
// process, so a test can back up into the same open store while it is
// mounted. FuseUnavailable() says why a FUSE test must skip; with
// KEEPFS_REQUIRE_FUSE=1 (as in .ci/run) such a test fails instead.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <thread>

#include "fs/view.h"
#include "store/status.h"
#include "store/store.h"

namespace keepfs::testing {

// Empty when FUSE mounts work here; otherwise the reason.
std::string FuseUnavailable();

// Use at the top of a FUSE test.
#define KEEPFS_REQUIRE_FUSE_OR_SKIP()                                                    \
  do {                                                                                   \
    std::string why_ = ::keepfs::testing::FuseUnavailable();                             \
    if (!why_.empty()) {                                                                 \
      const char* req_ = std::getenv("KEEPFS_REQUIRE_FUSE");                             \
      if (req_ && std::string(req_) == "1") FAIL() << "FUSE is required here: " << why_; \
      GTEST_SKIP() << "no FUSE: " << why_;                                               \
    }                                                                                    \
  } while (0)

// Runs the shell command cmd as uid:uid with no supplementary groups;
// returns its exit code and sets *out to its stdout and stderr.
int RunAs(uint32_t uid, const std::string& cmd, std::string* out);

// Starts `binary mount --store STORE -f MNT` as a child process, its stdout
// and stderr into log, and waits up to 20 s until it serves. Its pid; or -1
// with *why set (the log) when it exited or did not come up.
pid_t StartMountProcess(const std::string& binary, const std::string& store,
                        const std::string& mnt, const std::string& log, std::string* why);

class TestMount {
 public:
  TestMount() = default;
  ~TestMount();  // Stop()
  // Mounts a View of store at mountpoint (an existing dir) and waits until
  // served. max_inodes: fs::MountOptions::max_inodes (0: no cap).
  Status Start(Store* store, const std::string& mountpoint, uint64_t max_inodes = 0);
  // Unmounts and waits for the serving threads. Idempotent.
  void Stop();
  fs::View& view() { return *view_; }
  const std::string& mountpoint() const { return mountpoint_; }

 private:
  std::unique_ptr<fs::View> view_;
  std::string mountpoint_;
  std::thread thread_;
  Status served_;
};

}  // namespace keepfs::testing
