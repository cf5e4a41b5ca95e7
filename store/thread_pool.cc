#include "store/thread_pool.h"

#include <pthread.h>

namespace keepfs {

ThreadPool::ThreadPool(int threads, size_t max_queue) : max_queue_(max_queue ? max_queue : 1) {
  for (int i = 0; i < (threads > 0 ? threads : 1); ++i) threads_.emplace_back([this] { Run(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  not_empty_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::Enqueue(std::function<void()> job) {
  std::unique_lock<std::mutex> lock(mu_);
  not_full_.wait(lock, [this] { return queue_.size() < max_queue_; });
  queue_.push_back(std::move(job));
  lock.unlock();
  not_empty_.notify_one();
}

bool ThreadPool::TryPost(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || queue_.size() >= max_queue_) return false;
    queue_.push_back(std::move(job));
  }
  not_empty_.notify_one();
  return true;
}

void ThreadPool::Run() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      not_empty_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    not_full_.notify_one();
    job();  // packaged_task captures exceptions into its future
  }
}

void RunWithStack(size_t stack_bytes, const std::function<void()>& fn) {
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0) return fn();
  pthread_t thread;
  const bool made =
      pthread_attr_setstacksize(&attr, stack_bytes) == 0 &&
      pthread_create(
          &thread, &attr,
          [](void* arg) -> void* {
            (*static_cast<const std::function<void()>*>(arg))();
            return nullptr;
          },
          const_cast<std::function<void()>*>(&fn)) == 0;
  pthread_attr_destroy(&attr);
  if (!made) return fn();
  pthread_join(thread, nullptr);
}

}  // namespace keepfs
