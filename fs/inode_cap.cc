#include "fs/inode_cap.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>

namespace keepfs::fs {

struct InodeCap::State {
  State(uint64_t max, Invalidate invalidate) : max(max), invalidate(std::move(invalidate)) {}
  const uint64_t max;
  const Invalidate invalidate;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Item> recorded;  // GUARDED_BY(mu): oldest first
  std::deque<Item> pending;   // GUARDED_BY(mu): to invalidate
  uint64_t invalidated = 0;   // GUARDED_BY(mu)
  bool stop = false;          // GUARDED_BY(mu)
  std::atomic<bool> stopping{false};  // stop, read without the lock mid-batch
  bool busy = false;          // GUARDED_BY(mu): a batch is being invalidated
};

InodeCap::InodeCap(uint64_t max, Invalidate invalidate)
    : state_(std::make_shared<State>(std::max<uint64_t>(max, 1), std::move(invalidate))) {
  thread_ = std::thread([state = state_] { Run(*state); });
}

InodeCap::~InodeCap() {
  std::unique_lock<std::mutex> lock(state_->mu);
  state_->stop = true;
  state_->stopping = true;
  state_->cv.notify_all();
  // An invalidation can wait for the kernel's lock on the folder, which a
  // lookup holds until the daemon answers it: once the FUSE loop has stopped
  // nobody will, and the thread stays blocked until the process exits (then
  // the kernel aborts the connection). Waiting for it would hang the
  // shutdown, so it is left behind; it holds its own share of the state.
  if (state_->cv.wait_for(lock, std::chrono::seconds(2), [this] { return !state_->busy; })) {
    lock.unlock();
    thread_.join();
  } else {
    lock.unlock();
    spdlog::warn("inode cap: an invalidation is blocked in the kernel; not waiting for it");
    thread_.detach();
  }
}

void InodeCap::Record(uint64_t parent, std::string_view name) {
  State& s = *state_;
  std::lock_guard<std::mutex> lock(s.mu);
  s.recorded.emplace_back(parent, std::string(name));
  if (s.recorded.size() <= s.max) return;
  // An eighth at a time: one wake-up per batch, not per entry.
  size_t n = std::max<size_t>(1, static_cast<size_t>(s.max / 8));
  for (size_t i = 0; i < n && !s.recorded.empty(); ++i) {
    s.pending.push_back(std::move(s.recorded.front()));
    s.recorded.pop_front();
  }
  s.cv.notify_all();
}

uint64_t InodeCap::invalidated() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->invalidated;
}

void InodeCap::Run(State& s) {
  std::unique_lock<std::mutex> lock(s.mu);
  for (;;) {
    s.cv.wait(lock, [&s] { return s.stop || !s.pending.empty(); });
    if (s.stop) return;
    std::deque<Item> batch;
    batch.swap(s.pending);
    s.busy = true;
    lock.unlock();
    // Outside the lock: the kernel may first wait for requests whose
    // replies call Record.
    for (const auto& [parent, name] : batch) {
      if (s.stopping.load(std::memory_order_relaxed)) break;
      s.invalidate(parent, name);
    }
    lock.lock();
    s.busy = false;
    s.invalidated += batch.size();
    s.cv.notify_all();  // the destructor may be waiting for the batch
    spdlog::debug("inode cap: {} entries invalidated ({} in all)", batch.size(), s.invalidated);
  }
}

}  // namespace keepfs::fs
