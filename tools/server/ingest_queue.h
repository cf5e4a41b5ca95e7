// The ingest queue of `keepfs serve`: finished pushes wait here until one of
// max_concurrent workers takes them, oldest flag first, never two of one
// user at once (docs/server.md, "Traffic control").
//
// Admission (keepfs admit): a laptop asks before it pushes. While fewer than
// admit_slots users are admitted, queued or being ingested, the answer is ok
// and holds a slot for that user until their push is ingested or the lease
// runs out; otherwise busy, with a retry-after estimated from the queue and
// the recent ingest times.
//
// A push that fails (an untrusted spool, a full disk) keeps its flag; the
// same flag is retried after a back-off that doubles from one minute to six
// hours, so a broken spool is logged once per try, not at every rescan. A
// new flag is tried at once.
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "snapshot/ingest.h"
#include "tools/server/server_config.h"
#include "tools/server/server_state.h"
#include "tools/server/spool.h"

namespace keepfs::server {

class IngestQueue {
 public:
  // Ingests one push; cancel set means stop now (commit nothing).
  using IngestFn = std::function<Result<SpoolIngestResult>(
      const SpoolPush& push, const std::atomic<bool>* cancel, snapshot::BackupProgress* progress)>;
  // Starts config.max_concurrent workers, each at config.priority.
  IngestQueue(const IngestConfig& config, IngestFn ingest);
  ~IngestQueue();  // Stop()

  // A push whose flag is up (from the spool watcher). Already queued or
  // running with the same flag: nothing. Queued with an older flag: replaced.
  void Offer(const SpoolPush& push);
  AdmitAnswer Admit(const std::string& user);
  // Fills running, queued, admitted and recent_failures.
  void Fill(ServerStatus* status) const;
  // Pushes offered and not yet finished (queued or running).
  size_t Pending() const;
  // Cancels running ingests (they commit nothing; their flags stay for the
  // next start), drops the queue, and waits for the workers.
  void Stop();

 private:
  struct Running {
    SpoolPush push;
    int64_t started_unix = 0;
    std::shared_ptr<snapshot::BackupProgress> progress;
  };
  struct Queued {
    SpoolPush push;
    int64_t queued_unix = 0;
  };
  struct Failure {
    SpoolPush push;  // the flag that failed
    int64_t retry_unix = 0;
    int64_t backoff_sec = 0;
  };
  void Work();
  // Index in queue_ of the first push whose user is not running; -1 if none.
  int NextLocked() const;
  void ExpireAdmissionsLocked(int64_t now);

  const IngestConfig config_;
  const IngestFn ingest_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;                        // GUARDED_BY(mu_)
  std::atomic<bool> cancel_{false};
  std::deque<Queued> queue_;                     // GUARDED_BY(mu_)
  std::map<std::string, Running> running_;       // GUARDED_BY(mu_)
  std::map<std::string, int64_t> admitted_;      // GUARDED_BY(mu_): user -> lease end
  std::map<std::string, Failure> failures_;      // GUARDED_BY(mu_)
  std::deque<std::string> recent_failures_;      // GUARDED_BY(mu_)
  double avg_ingest_sec_ = 60;                   // GUARDED_BY(mu_): moving average
  std::vector<std::thread> workers_;
};

}  // namespace keepfs::server
