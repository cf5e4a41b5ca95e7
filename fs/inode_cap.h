// InodeCap: a bound on the inodes the kernel holds from the mount, and so on
// the View's node table, which keeps one node per inode the kernel holds
// (docs/mount.md, "Memory bound"). Left alone, the kernel keeps every inode
// it was given until memory runs short: `ls -lR` of a million files grows the
// node table by a million nodes (about 400 bytes each).
//
// The FUSE adapter records every entry it hands the kernel (a lookup reply,
// a readdirplus entry with attributes). Once more than `max` are recorded,
// the oldest eighth is handed to `invalidate`, which tells the kernel to drop
// that name (fuse_lowlevel_notify_inval_entry): a name no process uses then
// loses its inode, the kernel sends FORGET and the View frees the node. An
// entry the kernel dropped already costs one ENOENT; one still in use (an
// open file, a working directory) stays usable and is forgotten when let go.
// Names are recorded per reply, so a name looked up again is recorded again
// and lives on: the order is first in, first out.
//
// Thread safety: Record from many threads. invalidate runs on the cap's own
// thread, never the caller's: the kernel may wait, before it drops a name,
// for a FUSE request that the calling thread is serving.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

namespace keepfs::fs {

class InodeCap {
 public:
  using Invalidate = std::function<void(uint64_t parent, const std::string& name)>;

  // max > 0: the most entries recorded and not yet invalidated.
  InodeCap(uint64_t max, Invalidate invalidate);
  // Stops the thread; entries still queued are not invalidated. Waits up to
  // 2 s for a batch being invalidated, then leaves the thread behind (see
  // inode_cap.cc): call it after the FUSE loop has stopped.
  ~InodeCap();
  InodeCap(const InodeCap&) = delete;
  InodeCap& operator=(const InodeCap&) = delete;

  // The kernel got an entry for name in folder parent.
  void Record(uint64_t parent, std::string_view name);

  uint64_t invalidated() const;  // entries handed to invalidate so far

 private:
  using Item = std::pair<uint64_t, std::string>;
  struct State;  // shared with the thread, which may outlive the cap
  static void Run(State& state);

  std::shared_ptr<State> state_;
  std::thread thread_;  // last: started once the rest is set up
};

}  // namespace keepfs::fs
