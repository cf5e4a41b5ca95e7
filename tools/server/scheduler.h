// The scheduler of `keepfs serve`: runs prune, the sharing pass and gc, the
// rolling scrub and store-backup at the times the config sets
// (docs/server.md, "Scheduling").
//
// - One job at a time, oldest due first: on a small NAS two of them at once
//   would only fight over the disk. A job never runs twice at once.
// - Each run is recorded in the store before it starts ("running") and when
//   it ends (job_record.h). A record still "running" or "interrupted" at
//   start-up (a crash, a shutdown in the middle) makes the job due at once;
//   every job's commands continue where they stopped (gc, share and prune
//   are idempotent; the scrub resumes its check cursor).
// - A run missed while the server was down is made up once at start-up.
//
// The scheduler does not know what a job does: each is a list of keepfs
// command lines, run by the caller's RunFn (the CLI, hosted in this process).
//
// Thread safety: all public methods may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "store/status.h"
#include "store/store.h"
#include "tools/server/job_record.h"
#include "tools/server/server_config.h"
#include "tools/server/server_state.h"

namespace keepfs::server {

using Args = std::vector<std::string>;  // a keepfs command line, argv[0] included

struct JobSpec {
  std::string name;  // "prune", "gc", "scrub", "store-backup"
  Schedule schedule;
  // The command lines of one run, decided when it starts (the scrub resumes
  // an interrupted check), run in order; a failing one ends the run.
  std::function<std::vector<Args>()> steps;
  // Exit codes that mean "finished, and found something to look at"
  // (check's 1, gc's 3) rather than "failed".
  std::vector<int> problem_codes;
};

class Scheduler {
 public:
  // Runs one command line; out and err receive its output as it is written.
  // Returns its exit code. cancel set: stop soon, cleanly.
  using RunFn = std::function<int(const Args& args, std::ostream& out, std::ostream& err,
                                  const std::atomic<bool>* cancel)>;
  // Starts the scheduler thread. Jobs run at priority (this thread's nice
  // and I/O class).
  static Result<std::unique_ptr<Scheduler>> Start(Store* store, std::vector<JobSpec> jobs,
                                                  const Priority& priority, RunFn run);
  ~Scheduler();  // Stop()

  // Makes job name due now. NotFound for an unknown job.
  Status RunNow(const std::string& name);
  void Fill(ServerStatus* status) const;
  // Stops: a running job is cancelled, finishes cleanly, and is recorded
  // "interrupted" (resumed at the next start). Returns when it has.
  void Stop();
  // Whether the scheduler thread has turned (it does once a second) within
  // max: a watchdog sees from it that the thread is alive.
  bool TurnedWithin(std::chrono::nanoseconds max) const;

 private:
  struct Job {
    JobSpec spec;
    std::optional<int64_t> next_unix;
    std::optional<JobRecord> last;
  };
  Scheduler() = default;
  void Loop();
  void RunJob(size_t index);  // on the runner thread

  Store* store_ = nullptr;
  Priority priority_;
  RunFn run_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;               // GUARDED_BY(mu_)
  std::vector<Job> jobs_;               // GUARDED_BY(mu_)
  std::optional<size_t> running_;       // GUARDED_BY(mu_): index of the job running
  bool runner_done_ = false;            // GUARDED_BY(mu_): runner_ has finished its job
  std::string progress_;                // GUARDED_BY(mu_): its last line of output
  std::atomic<bool> cancel_{false};
  std::atomic<int64_t> last_tick_ns_{0};
  std::thread thread_;
  std::thread runner_;                  // the running job (joined by Loop)
};

}  // namespace keepfs::server
