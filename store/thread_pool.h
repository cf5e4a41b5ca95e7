// A fixed pool of worker threads with a bounded queue. Submit() blocks while
// the queue is full, which bounds the memory a producer (the backup walker)
// can queue ahead of the workers.
//
// Thread safety: Submit may be called from any thread except a worker (a
// worker blocking on a full queue of its own pool would deadlock); TryPost
// from any thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace keepfs {

class ThreadPool {
 public:
  ThreadPool(int threads, size_t max_queue);
  ~ThreadPool();  // runs what is queued, then joins
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  template <typename F>
  auto Submit(F fn) -> std::future<decltype(fn())> {
    using R = decltype(fn());
    auto task = std::make_shared<std::packaged_task<R()>>(std::move(fn));
    std::future<R> fut = task->get_future();
    Enqueue([task] { (*task)(); });
    return fut;
  }

  // Queues job unless the queue is full, and never blocks: for work that may
  // be dropped, like read-ahead. False: not queued.
  bool TryPost(std::function<void()> job);

  int size() const { return static_cast<int>(threads_.size()); }

 private:
  void Enqueue(std::function<void()> job);
  void Run();

  std::mutex mu_;
  std::condition_variable not_empty_, not_full_;
  std::deque<std::function<void()>> queue_;  // GUARDED_BY(mu_)
  size_t max_queue_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::vector<std::thread> threads_;
};

// Runs fn on a new thread with a stack of stack_bytes (only the pages used
// are committed) and waits for it. For a recursion as deep as its input (a
// source tree or snapshot nested thousands of folders deep), which the
// 8 MiB a thread gets by default cannot be trusted to hold, least of all
// under a sanitizer's larger frames. If no such thread can be made, fn runs
// on the calling thread.
void RunWithStack(size_t stack_bytes, const std::function<void()>& fn);

// Enough stack for a recursive walk of a tree 4096 folders deep (the deepest
// a backup stores: snapshot/ingest.cc), frames of a sanitizer build included.
inline constexpr size_t kTreeWalkStackBytes = 256ull << 20;

}  // namespace keepfs
