// How hard the server's background work may push the machine: CPU and I/O
// priority per thread, and a read-rate limit shared by every thread of one
// kind of work (docs/config.md, "Priority").
//
// Thread safety: ApplyPriority acts on the calling thread only; a
// ReadThrottle may be shared by many threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>

#include "snapshot/source_fs.h"
#include "store/status.h"
#include "tools/server/server_config.h"

namespace keepfs::server {

// Sets the calling thread's nice value and I/O class (Linux keeps both per
// thread). The I/O class only matters under an I/O scheduler that honours it
// (bfq; mq-deadline and none ignore it).
Status ApplyPriority(const Priority& p);

// At most bytes_per_sec on average over every caller; a burst of up to a
// quarter second's worth passes at once.
class ReadThrottle {
 public:
  explicit ReadThrottle(uint64_t bytes_per_sec) : rate_(bytes_per_sec) {}
  // Waits until n more bytes may be read. No wait when the rate is 0.
  void Acquire(uint64_t n);

 private:
  const uint64_t rate_;
  std::mutex mu_;
  // GUARDED_BY(mu_): when the bytes taken so far are paid for.
  std::chrono::steady_clock::time_point next_free_;
};

// A source file system whose file reads pass through throttle (not owned).
std::unique_ptr<snapshot::SourceFs> ThrottledSourceFs(snapshot::SourceFs* inner,
                                                      ReadThrottle* throttle);

}  // namespace keepfs::server
