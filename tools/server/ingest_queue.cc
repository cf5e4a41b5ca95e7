#include "tools/server/ingest_queue.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <set>

#include "snapshot/catalog.h"
#include "store/config.h"
#include "store/text.h"
#include "tools/server/priority.h"

namespace keepfs::server {

namespace {
constexpr int64_t kFirstBackoffSec = 60;
constexpr int64_t kMaxBackoffSec = 6 * 3600;
constexpr size_t kRecentFailures = 20;

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

bool SameFlag(const SpoolPush& a, const SpoolPush& b) {
  return a.flag_ino == b.flag_ino && a.flag_mtime_sec == b.flag_mtime_sec &&
         a.flag_mtime_nsec == b.flag_mtime_nsec;
}
}  // namespace

IngestQueue::IngestQueue(const IngestConfig& config, IngestFn ingest)
    : config_(config), ingest_(std::move(ingest)) {
  for (uint32_t i = 0; i < std::max<uint32_t>(1, config_.max_concurrent); ++i) {
    workers_.emplace_back([this] { Work(); });
  }
}

IngestQueue::~IngestQueue() { Stop(); }

void IngestQueue::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    queue_.clear();
  }
  cancel_ = true;
  wake_.notify_all();
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
}

void IngestQueue::Offer(const SpoolPush& push) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return;
  if (auto r = running_.find(push.user); r != running_.end() && SameFlag(r->second.push, push)) {
    return;
  }
  if (auto f = failures_.find(push.user); f != failures_.end()) {
    if (!SameFlag(f->second.push, push)) {
      failures_.erase(f);  // a new push: tried at once
    } else if (Now() < f->second.retry_unix) {
      return;  // backing off
    }
  }
  for (auto& q : queue_) {
    if (q.push.user == push.user) {
      q.push = push;  // the newest flag is the one to take
      return;
    }
  }
  queue_.push_back({push, Now()});
  if (!running_.empty() || queue_.size() > 1) {
    spdlog::info("{}: push of {} queued ({} running, {} waiting)", push.user,
                 snapshot::FormatUtcTime(push.flag_mtime_sec), running_.size(), queue_.size());
  }
  wake_.notify_one();
}

int IngestQueue::NextLocked() const {
  for (size_t i = 0; i < queue_.size(); ++i) {
    if (!running_.count(queue_[i].push.user)) return static_cast<int>(i);
  }
  return -1;
}

void IngestQueue::Work() {
  if (Status s = ApplyPriority(config_.priority); !s.ok()) {
    spdlog::warn("ingest worker runs at normal priority: {}", s.message());
  }
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    wake_.wait(lock, [&] { return stopping_ || NextLocked() >= 0; });
    if (stopping_) return;
    const int i = NextLocked();
    Queued q = queue_[static_cast<size_t>(i)];
    queue_.erase(queue_.begin() + i);
    Running& run = running_[q.push.user];
    run.push = q.push;
    run.started_unix = Now();
    run.progress = std::make_shared<snapshot::BackupProgress>();
    auto progress = run.progress;
    lock.unlock();

    const auto t0 = std::chrono::steady_clock::now();
    Result<SpoolIngestResult> r = ingest_(q.push, &cancel_, progress.get());
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    lock.lock();
    running_.erase(q.push.user);
    const std::string& user = q.push.user;
    if (r.ok()) {
      failures_.erase(user);
      admitted_.erase(user);
      avg_ingest_sec_ = 0.7 * avg_ingest_sec_ + 0.3 * std::max(1.0, secs);
      const auto& s = r->snapshot;
      if (r->already_committed) {
        spdlog::info("{}: snapshot {} was committed before a restart; its flag is removed", user,
                     s.name);
      } else {
        spdlog::info("{}: snapshot {} committed: {} files, {} read, {} new, in {:.1f} s", user, s.name,
                     s.stats.files, HumanBytes(s.stats.bytes_read), HumanBytes(s.stats.bytes_new),
                     secs);
      }
    } else if (r.status().code() == StatusCode::kCancelled) {
      // Stopped by a shutdown, or the laptop started its next push: the
      // flag (if any) stays and is offered again.
      spdlog::info("{}: ingest stopped, nothing committed: {}", user, r.status().message());
    } else {
      auto [it, first] = failures_.try_emplace(user);
      Failure& f = it->second;
      f.backoff_sec = !first && SameFlag(f.push, q.push) ? std::min(kMaxBackoffSec, f.backoff_sec * 2)
                                                         : kFirstBackoffSec;
      f.push = q.push;
      f.retry_unix = Now() + f.backoff_sec;
      spdlog::error("{}: push of {} not ingested: {}; the flag stays, retried in {}", user,
                    snapshot::FormatUtcTime(q.push.flag_mtime_sec), r.status().message(),
                    FormatDuration(f.backoff_sec));
      recent_failures_.push_back(user + " (" + snapshot::FormatUtcTime(Now()) + "): " + r.status().message());
      if (recent_failures_.size() > kRecentFailures) recent_failures_.pop_front();
    }
    wake_.notify_all();
  }
}

void IngestQueue::ExpireAdmissionsLocked(int64_t now) {
  for (auto it = admitted_.begin(); it != admitted_.end();) {
    it = it->second <= now ? admitted_.erase(it) : std::next(it);
  }
}

AdmitAnswer IngestQueue::Admit(const std::string& user) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = Now();
  ExpireAdmissionsLocked(now);
  std::set<std::string> busy;
  for (const auto& [u, r] : running_) busy.insert(u);
  for (const auto& q : queue_) busy.insert(q.push.user);
  for (const auto& [u, until] : admitted_) busy.insert(u);
  const uint32_t slots = config_.AdmitSlots();
  if (busy.count(user) || busy.size() < slots) {
    admitted_[user] = now + config_.admit_lease_sec;  // a repeated ask renews the lease
    return {true, 0};
  }
  // Busy: about when one slot frees, if those ahead take the usual time.
  const double ahead = static_cast<double>(busy.size() - slots + 1);
  const double per_worker = avg_ingest_sec_ / std::max<uint32_t>(1, config_.max_concurrent);
  return {false, std::clamp<int64_t>(static_cast<int64_t>(ahead * per_worker), 10, 3600)};
}

void IngestQueue::Fill(ServerStatus* status) const {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = Now();
  for (const auto& [user, r] : running_) {
    RunningIngest i;
    i.user = user;
    i.started_unix = r.started_unix;
    i.flag_unix = r.push.flag_mtime_sec;
    i.files = r.progress->counters.files.load();
    i.bytes_read = r.progress->counters.bytes_read.load();
    i.current = r.progress->current();
    status->running.push_back(std::move(i));
  }
  for (const auto& q : queue_) status->queued.push_back({q.push.user, q.push.flag_mtime_sec, q.queued_unix});
  for (const auto& [user, until] : admitted_) {
    if (until > now) status->admitted.push_back({user, until});
  }
  status->recent_failures.assign(recent_failures_.begin(), recent_failures_.end());
}

size_t IngestQueue::Pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size() + running_.size();
}

}  // namespace keepfs::server
