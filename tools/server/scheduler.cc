#include "tools/server/scheduler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <ostream>
#include <streambuf>

#include "tools/server/priority.h"

namespace keepfs::server {

namespace {
int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

int64_t MonoNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Hands each line written to it (ended by \n or \r: progress lines redraw
// with \r on a terminal, and jobs may be told they have one) to on_line.
class LineBuf : public std::streambuf {
 public:
  explicit LineBuf(std::function<void(const std::string&)> on_line) : on_line_(std::move(on_line)) {}
  ~LineBuf() override { Flush(); }
  void Flush() {
    if (!line_.empty()) on_line_(line_);
    line_.clear();
  }

 protected:
  int overflow(int c) override {
    if (c == traits_type::eof()) return 0;
    if (c == '\n' || c == '\r') {
      Flush();
    } else if (line_.size() < 4096) {
      line_.push_back(static_cast<char>(c));
    }
    return c;
  }

 private:
  std::function<void(const std::string&)> on_line_;
  std::string line_;
};

// The latest instant <= now at which s fires, if one lies within a week.
std::optional<int64_t> PreviousRun(const Schedule& s, int64_t now) {
  std::optional<int64_t> prev;
  std::optional<int64_t> t = s.NextAfter(now - 8 * 86400);
  while (t && *t <= now) {
    prev = t;
    t = s.NextAfter(*t);
  }
  return prev;
}
}  // namespace

Result<std::unique_ptr<Scheduler>> Scheduler::Start(Store* store, std::vector<JobSpec> jobs,
                                                    const Priority& priority, RunFn run) {
  std::unique_ptr<Scheduler> s(new Scheduler());
  s->store_ = store;
  s->priority_ = priority;
  s->run_ = std::move(run);
  const int64_t now = Now();
  for (auto& spec : jobs) {
    Job j;
    KEEPFS_ASSIGN_OR_RETURN(j.last, LoadJobRecord(store, spec.name));
    if (j.last && (j.last->result == "running" || j.last->result == "interrupted")) {
      j.next_unix = now;  // died or stopped in the middle: take it up again
      spdlog::info("job {}: its last run ({}) did not finish; resuming it now", spec.name,
                   j.last->result == "running" ? "the server died in it" : "stopped by a shutdown");
    } else if (spec.schedule.every != Schedule::Every::kOff) {
      std::optional<int64_t> prev = PreviousRun(spec.schedule, now);
      if (j.last && prev && j.last->started_unix < *prev) {
        j.next_unix = now;  // missed while the server was down: made up once
        spdlog::info("job {}: missed its run while the server was down; running it now", spec.name);
      } else {
        j.next_unix = spec.schedule.NextAfter(now);
      }
    }
    j.spec = std::move(spec);
    s->jobs_.push_back(std::move(j));
  }
  s->last_tick_ns_ = MonoNs();
  s->thread_ = std::thread([p = s.get()] { p->Loop(); });
  return s;
}

Scheduler::~Scheduler() { Stop(); }

void Scheduler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cancel_ = true;
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status Scheduler::RunNow(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& j : jobs_) {
    if (j.spec.name == name) {
      j.next_unix = Now();
      wake_.notify_all();
      return Status::OK();
    }
  }
  std::string names;
  for (const auto& j : jobs_) names += (names.empty() ? "" : ", ") + j.spec.name;
  return Status::NotFound("no job named " + name + "; the jobs are: " + names);
}

bool Scheduler::TurnedWithin(std::chrono::nanoseconds max) const {
  return MonoNs() - last_tick_ns_.load() < max.count();
}

void Scheduler::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    last_tick_ns_ = MonoNs();
    if (running_ && runner_done_) {  // joined here, so running_ always names a live run
      lock.unlock();
      runner_.join();
      lock.lock();
      running_.reset();
    }
    if (stopping_) break;
    if (!running_) {
      // The job due longest ago, if any is due.
      const int64_t now = Now();
      std::optional<size_t> due;
      for (size_t i = 0; i < jobs_.size(); ++i) {
        const auto& n = jobs_[i].next_unix;
        if (n && *n <= now && (!due || *n < *jobs_[*due].next_unix)) due = i;
      }
      if (due) {
        running_ = due;
        runner_done_ = false;
        progress_.clear();
        runner_ = std::thread([this, i = *due] { RunJob(i); });
      }
    }
    wake_.wait_for(lock, std::chrono::seconds(1));
  }
  lock.unlock();
  if (runner_.joinable()) runner_.join();
}

void Scheduler::RunJob(size_t index) {
  if (Status s = ApplyPriority(priority_); !s.ok()) {
    spdlog::warn("scheduled jobs run at normal priority: {}", s.message());
  }
  JobRecord rec;
  std::function<std::vector<Args>()> steps_fn;
  std::vector<int> problem_codes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    rec.name = jobs_[index].spec.name;
    steps_fn = jobs_[index].spec.steps;
    problem_codes = jobs_[index].spec.problem_codes;
  }
  rec.started_unix = Now();
  rec.result = "running";
  if (Status s = SaveJobRecord(store_, rec); !s.ok()) {
    spdlog::error("job {}: cannot record its start: {}", rec.name, s.message());
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_[index].last = rec;
  }
  spdlog::info("job {} started", rec.name);
  std::string last_line;
  LineBuf buf([&](const std::string& line) {
    if (line.find_first_not_of(' ') == std::string::npos) return;
    last_line = line;
    std::lock_guard<std::mutex> lock(mu_);
    progress_ = line;
  });
  std::ostream out(&buf);
  int code = 0;
  bool completed = true;  // every step ran and exited 0
  for (const Args& args : steps_fn()) {
    if (cancel_) {
      completed = false;
      break;
    }
    code = run_(args, out, out, &cancel_);
    out.flush();
    buf.Flush();
    if (code != 0) {
      completed = false;
      break;
    }
  }
  rec.finished_unix = Now();
  rec.exit_code = code;
  rec.summary = last_line;
  if (completed) {
    rec.result = "ok";
  } else if (cancel_) {
    rec.result = "interrupted";
  } else if (std::find(problem_codes.begin(), problem_codes.end(), code) != problem_codes.end()) {
    rec.result = "problems";
  } else {
    rec.result = "failed";
  }
  if (Status s = SaveJobRecord(store_, rec); !s.ok()) {
    spdlog::error("job {}: cannot record its end: {}", rec.name, s.message());
  }
  const int64_t secs = rec.finished_unix - rec.started_unix;
  if (rec.result == "ok") {
    spdlog::info("job {} ok in {} s: {}", rec.name, secs, rec.summary);
  } else if (rec.result == "interrupted") {
    spdlog::info("job {} stopped by the shutdown after {} s; it resumes at the next start", rec.name,
                 secs);
  } else {
    spdlog::error("job {} {} (exit {}) after {} s: {}", rec.name, rec.result, code, secs, rec.summary);
  }
  std::lock_guard<std::mutex> lock(mu_);
  Job& j = jobs_[index];
  j.last = rec;
  j.next_unix = j.spec.schedule.NextAfter(Now());
  if (rec.result == "interrupted") j.next_unix.reset();
  runner_done_ = true;
  wake_.notify_all();
}

void Scheduler::Fill(ServerStatus* status) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < jobs_.size(); ++i) {
    const Job& j = jobs_[i];
    JobState s;
    s.name = j.spec.name;
    s.schedule = j.spec.schedule.Describe();
    s.next_unix = j.next_unix;
    s.running = running_ == i;
    if (s.running) s.progress = progress_;
    s.last = j.last;
    status->jobs.push_back(std::move(s));
  }
}

}  // namespace keepfs::server
