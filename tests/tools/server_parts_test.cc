// The parts of keepfs serve one by one: the ingest queue (limit, one per
// user, back-off, admission, stop), the scheduler (records, resume after a
// crash or a shutdown, made-up runs, results) on a real store, and the
// spool watcher on real inotify. The ingests and jobs here are functions
// that tell the test what they were asked; the real ones run in
// serve_test.cc.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "store/file_util.h"
#include "tests/testing/test_util.h"
#include "tools/server/ingest_queue.h"
#include "tools/server/job_record.h"
#include "tools/server/scheduler.h"
#include "tools/server/spool_watcher.h"

namespace keepfs::server {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;

using testing::WaitFor;

SpoolPush Push(const std::string& user, int64_t t) {
  SpoolPush p;
  p.user = user;
  p.dir = "/spool/" + user;
  p.flag_mtime_sec = t;
  p.flag_ino = 1000 + static_cast<uint64_t>(t);
  return p;
}

// An ingest the test releases by hand; it records what ran and how many at once.
class Gate {
 public:
  IngestQueue::IngestFn Fn() {
    return [this](const SpoolPush& p, const std::atomic<bool>* cancel,
                  snapshot::BackupProgress*) -> Result<SpoolIngestResult> {
      std::unique_lock<std::mutex> lock(mu_);
      started_.push_back(p.user + "@" + std::to_string(p.flag_mtime_sec));
      max_running_ = std::max(max_running_, ++running_);
      if (++running_by_user_[p.user] > 1) two_of_one_user_ = true;
      cv_.notify_all();
      // The queue flips cancel without telling us: look now and then.
      while (!released_.count(p.user) && !cancel->load()) cv_.wait_for(lock, 10ms);
      released_.erase(p.user);
      --running_;
      --running_by_user_[p.user];
      if (cancel->load()) return Status::Cancelled("stopped");
      if (fail_.count(p.user)) return Status(StatusCode::kPermissionDenied, p.user + "'s spool is not theirs");
      SpoolIngestResult r;
      r.snapshot.name = "snap";
      return r;
    };
  }
  void Release(const std::string& user) {
    std::lock_guard<std::mutex> lock(mu_);
    released_.insert(user);
    cv_.notify_all();
  }
  void Fail(const std::string& user) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_.insert(user);
  }
  std::vector<std::string> started() {
    std::lock_guard<std::mutex> lock(mu_);
    return started_;
  }
  int max_running() {
    std::lock_guard<std::mutex> lock(mu_);
    return max_running_;
  }
  bool two_of_one_user() {
    std::lock_guard<std::mutex> lock(mu_);
    return two_of_one_user_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> started_;
  std::set<std::string> released_, fail_;
  std::map<std::string, int> running_by_user_;
  int running_ = 0, max_running_ = 0;
  bool two_of_one_user_ = false;
};

ServerStatus Fill(const IngestQueue& q) {
  ServerStatus s;
  q.Fill(&s);
  return s;
}

TEST(IngestQueueTest, AtTheLimitPushesWaitOldestFirstAndNeverTwoOfOneUser) {
  Gate gate;
  IngestConfig c;
  c.max_concurrent = 2;
  c.priority.nice = 0;
  c.priority.ionice_class = "none";
  IngestQueue q(c, gate.Fn());
  q.Offer(Push("alice", 100));
  q.Offer(Push("bob", 101));
  q.Offer(Push("carol", 102));
  ASSERT_TRUE(WaitFor([&] { return gate.started().size() == 2; }));
  ServerStatus s = Fill(q);
  ASSERT_EQ(s.running.size(), 2u);
  ASSERT_EQ(s.queued.size(), 1u);
  EXPECT_EQ(s.queued[0].user, "carol");
  // alice pushes again while her first push is read: it waits for it.
  q.Offer(Push("alice", 200));
  q.Offer(Push("alice", 200));  // the watcher saw it twice: still one
  EXPECT_EQ(Fill(q).queued.size(), 2u);
  gate.Release("bob");
  ASSERT_TRUE(WaitFor([&] { return gate.started().size() == 3; }));
  EXPECT_EQ(gate.started()[2], "carol@102") << "alice's second push waits for her first";
  gate.Release("alice");
  ASSERT_TRUE(WaitFor([&] { return gate.started().size() == 4; }));
  EXPECT_EQ(gate.started()[3], "alice@200");
  gate.Release("alice");
  gate.Release("carol");
  ASSERT_TRUE(WaitFor([&] { return q.Pending() == 0; }));
  EXPECT_EQ(gate.max_running(), 2);
  EXPECT_FALSE(gate.two_of_one_user());
}

TEST(IngestQueueTest, AFailedPushIsRetriedAfterABackOffButANewFlagAtOnce) {
  Gate gate;
  IngestConfig c;
  c.priority.ionice_class = "none";
  c.priority.nice = 0;
  IngestQueue q(c, gate.Fn());
  gate.Fail("alice");
  q.Offer(Push("alice", 100));
  ASSERT_TRUE(WaitFor([&] { return gate.started().size() == 1; }));
  gate.Release("alice");
  ASSERT_TRUE(WaitFor([&] { return q.Pending() == 0; }));
  ServerStatus s = Fill(q);
  ASSERT_EQ(s.recent_failures.size(), 1u);
  EXPECT_NE(s.recent_failures[0].find("not theirs"), std::string::npos);
  q.Offer(Push("alice", 100));  // the next rescan sees the same flag
  EXPECT_EQ(q.Pending(), 0u) << "the same flag backs off";
  q.Offer(Push("alice", 300));  // a new push
  EXPECT_EQ(q.Pending(), 1u);
  ASSERT_TRUE(WaitFor([&] { return gate.started().size() == 2; }));
  gate.Release("alice");
}

TEST(IngestQueueTest, AdmitHoldsSlotsRenewsThemAndSaysWhenToComeBack) {
  Gate gate;
  IngestConfig c;
  c.max_concurrent = 1;
  c.admit_slots = 2;
  c.priority.ionice_class = "none";
  c.priority.nice = 0;
  IngestQueue q(c, gate.Fn());
  EXPECT_TRUE(q.Admit("alice").ok);
  EXPECT_TRUE(q.Admit("bob").ok);
  AdmitAnswer busy = q.Admit("carol");
  EXPECT_FALSE(busy.ok);
  EXPECT_GE(busy.retry_after_sec, 10);
  EXPECT_LE(busy.retry_after_sec, 3600);
  EXPECT_TRUE(q.Admit("alice").ok) << "an admitted user asking again keeps the slot";
  EXPECT_EQ(Fill(q).admitted.size(), 2u);
  // alice's push is ingested: her slot frees, and carol gets in.
  q.Offer(Push("alice", 100));
  ASSERT_TRUE(WaitFor([&] { return gate.started().size() == 1; }));
  EXPECT_FALSE(q.Admit("carol").ok) << "alice's push is still running";
  gate.Release("alice");
  ASSERT_TRUE(WaitFor([&] { return q.Pending() == 0; }));
  EXPECT_TRUE(q.Admit("carol").ok);
}

TEST(IngestQueueTest, StopCancelsARunningIngestAndDropsTheQueue) {
  Gate gate;
  IngestConfig c;
  c.priority.ionice_class = "none";
  c.priority.nice = 0;
  auto q = std::make_unique<IngestQueue>(c, gate.Fn());
  q->Offer(Push("alice", 100));
  q->Offer(Push("bob", 100));
  ASSERT_TRUE(WaitFor([&] { return gate.started().size() == 1; }));
  q->Stop();  // returns only once alice's ingest gave up
  EXPECT_EQ(q->Pending(), 0u);
  EXPECT_EQ(gate.started().size(), 1u) << "bob's queued push was not started";
}

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(store_, testing::InitAndOpen(tmp_.Join("store")));
    priority_.nice = 0;
    priority_.ionice_class = "none";
  }
  // A job whose run prints a line and exits with code_, or waits for cancel.
  Scheduler::RunFn Run() {
    return [this](const Args& args, std::ostream& out, std::ostream& err,
                  const std::atomic<bool>* cancel) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        ran_.push_back(args.at(1));
      }
      out << "working on " << args.at(1) << "\r";
      if (block_) {
        while (!cancel->load()) std::this_thread::sleep_for(10ms);
        err << args.at(1) << " stopped\n";
        return 130;
      }
      out << args.at(1) << " done: 3 things\n";
      return code_.load();
    };
  }
  JobSpec Job(const std::string& name, const std::string& when, std::vector<int> problems = {}) {
    auto schedule = Schedule::Parse(when);
    EXPECT_OK(schedule);
    return {name, *schedule, [name] { return std::vector<Args>{{"keepfs", name}}; }, problems};
  }
  std::optional<JobRecord> Record(const std::string& name) {
    auto r = LoadJobRecord(store_.get(), name);
    EXPECT_OK(r);
    return r.ok() ? *r : std::nullopt;
  }
  size_t Ran() {
    std::lock_guard<std::mutex> lock(mu_);
    return ran_.size();
  }

  TempDir tmp_;
  std::unique_ptr<Store> store_;
  Priority priority_;
  std::mutex mu_;
  std::vector<std::string> ran_;
  std::atomic<bool> block_{false};
  std::atomic<int> code_{0};
};

TEST_F(SchedulerTest, ARunIsRecordedWithItsResultAndItsLastLine) {
  ASSERT_OK_AND_ASSIGN(auto s, Scheduler::Start(store_.get(), {Job("gc", "daily 02:00", {3})},
                                                priority_, Run()));
  EXPECT_FALSE(Record("gc").has_value()) << "a fresh server waits for the schedule";
  ServerStatus st;
  s->Fill(&st);
  ASSERT_EQ(st.jobs.size(), 1u);
  ASSERT_TRUE(st.jobs[0].next_unix.has_value());
  EXPECT_GT(*st.jobs[0].next_unix, std::time(nullptr));
  EXPECT_EQ(st.jobs[0].schedule, "daily 02:00");
  ASSERT_OK(s->RunNow("gc"));
  ASSERT_TRUE(WaitFor([&] { return Record("gc") && Record("gc")->result != "running"; }));
  EXPECT_EQ(Record("gc")->result, "ok");
  EXPECT_EQ(Record("gc")->summary, "gc done: 3 things");
  code_ = 3;
  ASSERT_OK(s->RunNow("gc"));
  ASSERT_TRUE(WaitFor([&] { return Ran() == 2 && Record("gc")->result != "running"; }));
  EXPECT_EQ(Record("gc")->result, "problems");
  EXPECT_EQ(Record("gc")->exit_code, 3);
  code_ = 1;
  ASSERT_OK(s->RunNow("gc"));
  ASSERT_TRUE(WaitFor([&] { return Ran() == 3 && Record("gc")->result != "running"; }));
  EXPECT_EQ(Record("gc")->result, "failed");
  EXPECT_CODE(s->RunNow("nothing"), StatusCode::kNotFound);
}

TEST_F(SchedulerTest, AShutdownInTheMiddleIsRecordedAndTheNextStartResumes) {
  block_ = true;
  {
    ASSERT_OK_AND_ASSIGN(auto s, Scheduler::Start(store_.get(), {Job("scrub", "weekly sun 03:00")},
                                                  priority_, Run()));
    ASSERT_OK(s->RunNow("scrub"));
    ASSERT_TRUE(WaitFor([&] { return Ran() == 1; }));
    ServerStatus st;
    s->Fill(&st);
    EXPECT_TRUE(st.jobs[0].running);
    s->Stop();
  }
  ASSERT_TRUE(Record("scrub").has_value());
  EXPECT_EQ(Record("scrub")->result, "interrupted");
  block_ = false;
  ASSERT_OK_AND_ASSIGN(auto s, Scheduler::Start(store_.get(), {Job("scrub", "weekly sun 03:00")},
                                                priority_, Run()));
  ASSERT_TRUE(WaitFor([&] { return Ran() == 2 && Record("scrub")->result == "ok"; }))
      << "resumed at start";
}

TEST_F(SchedulerTest, ARecordLeftRunningByACrashOrAMissedRunIsTakenUpAtStart) {
  const int64_t now = std::time(nullptr);
  ASSERT_OK(SaveJobRecord(store_.get(), {"prune", now - 60, 0, "running", 0, ""}));
  ASSERT_OK(SaveJobRecord(store_.get(), {"gc", now - 3 * 86400, now - 3 * 86400 + 5, "ok", 0, ""}));
  ASSERT_OK(SaveJobRecord(store_.get(), {"scrub", now - 30, now - 20, "ok", 0, ""}));
  // scrub's time of day lies half a day from now: its last run (30 s ago)
  // is after its previous turn, so it is not due.
  const time_t half_day = static_cast<time_t>(now + 12 * 3600);
  tm local;
  localtime_r(&half_day, &local);
  char scrub_at[32];
  std::snprintf(scrub_at, sizeof scrub_at, "daily %02d:%02d", local.tm_hour, local.tm_min);
  ASSERT_OK_AND_ASSIGN(auto s, Scheduler::Start(store_.get(),
                                                {Job("prune", "daily 01:00"), Job("gc", "daily 02:00"),
                                                 Job("scrub", scrub_at)},
                                                priority_, Run()));
  ASSERT_TRUE(WaitFor([&] { return Ran() == 2; }));
  std::this_thread::sleep_for(300ms);
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_EQ(ran_.size(), 2u) << "scrub ran after its last turn: not due";
  EXPECT_EQ(std::set<std::string>(ran_.begin(), ran_.end()), (std::set<std::string>{"prune", "gc"}));
}

TEST(SpoolWatcherTest, AFlagRaisedInAnyUserFolderIsOfferedAtOnce) {
  TempDir tmp;
  const std::string spool = tmp.Join("spool");
  ASSERT_OK(MakeDirs(spool + "/alice/data"));
  ASSERT_OK(testing::WriteFile(spool + "/alice/.done", ""));  // raised before the start
  std::mutex mu;
  std::vector<SpoolPush> offered;
  auto count = [&](const std::string& user) {
    std::lock_guard<std::mutex> lock(mu);
    return std::count_if(offered.begin(), offered.end(), [&](const SpoolPush& p) { return p.user == user; });
  };
  ASSERT_OK_AND_ASSIGN(auto w, SpoolWatcher::Start(spool, 3600, [&](const SpoolPush& p) {
                         std::lock_guard<std::mutex> lock(mu);
                         offered.push_back(p);
                       }));
  EXPECT_EQ(count("alice"), 1) << "the start-up scan";
  // A new user's folder, then their flag: inotify alone (the rescan is an hour away).
  ASSERT_OK(MakeDirs(spool + "/bob/data"));
  std::this_thread::sleep_for(100ms);
  ASSERT_OK(testing::WriteFile(spool + "/bob/.done", ""));
  EXPECT_TRUE(WaitFor([&] { return count("bob") >= 1; }, 5s));
  // alice's flag touched again (a new push): offered again.
  timespec times[2] = {{1790000000, 0}, {1790000000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (spool + "/alice/.done").c_str(), times, 0), 0);
  EXPECT_TRUE(WaitFor([&] { return count("alice") >= 2; }, 5s));
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(offered.back().flag_mtime_sec, 1790000000);
  }
  // Other files in a user folder are not flags.
  std::this_thread::sleep_for(300ms);  // late events of the flags above
  const auto before = count("bob");
  ASSERT_OK(testing::WriteFile(spool + "/bob/data/notes.txt", "x"));
  ASSERT_OK(testing::WriteFile(spool + "/bob/other", "x"));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(count("bob"), before);
  w->Stop();
}

}  // namespace
}  // namespace keepfs::server
