// Shards on a real single-node Ceph cluster (store/shard.h,
// docs/scale-out.md "Shards"): the lease, the fencing epoch, the metadata
// journal in RADOS, and a node taking a store over from another, waiting,
// paused (SIGSTOP) and killed (kill -9).
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <sstream>
#include <thread>

#include "store/file_util.h"
#include "store/rados_pack_store.h"
#include "store/shard.h"
#include "store/store.h"
#include "tests/testing/ceph_cluster.h"
#include "tests/testing/test_util.h"
#include "tests/tools/cli_test_util.h"

namespace keepfs {
namespace {

using testing::CliRun;
using testing::RunCli;
using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Starts the keepfs binary with args, its stderr into err_path.
pid_t SpawnKeepfs(const std::vector<std::string>& args, const std::string& err_path) {
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  int null = ::open("/dev/null", O_WRONLY);
  int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ::dup2(null, 1);
  ::dup2(err, 2);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>("keepfs"));
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  ::execv(KEEPFS_BINARY, argv.data());
  ::_exit(127);
}

class ShardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KEEPFS_REQUIRE_CEPH_OR_SKIP(ceph);
    ceph_ = ceph;
    ns_ = testing::FreshNamespace("shard");
    a_ = tmp_.Join("node-a");
    b_ = tmp_.Join("node-b");
    src_ = tmp_.Join("src");
    ASSERT_OK(MakeDirs(src_ + "/docs"));
    ASSERT_OK(testing::WriteFile(src_ + "/big.bin", testing::RandomBytes(3 << 20, 1)));
    ASSERT_OK(testing::WriteFile(src_ + "/docs/a.txt", "version 1\n"));
  }

  std::string Spec() const { return "rados:" + ceph_->pool + "/" + ns_; }

  void InitA() {
    CliRun init =
        RunCli({"init", "--store", a_, "-q", "--packs", Spec(), "--ceph-conf", ceph_->conf});
    ASSERT_EQ(init.code, 0) << init.err;
    SetLease(a_, 3, 60);
  }

  CliRun Attach(const std::string& dir) {
    return RunCli({"attach", "--store", dir, "-q", Spec(), "--ceph-conf", ceph_->conf});
  }

  // A short lease, so that a takeover after a pause or a kill comes soon.
  void SetLease(const std::string& dir, int lease, int wait) {
    ASSERT_OK_AND_ASSIGN(std::string config, testing::ReadFile(dir + "/config.toml"));
    for (auto [key, value] : {std::pair{"lease = ", lease}, std::pair{"lease_wait = ", wait}}) {
      size_t at = config.find(std::string("\n") + key);
      ASSERT_NE(at, std::string::npos) << config;
      size_t end = config.find('\n', at + 1);
      config.replace(at + 1, end - at - 1, key + std::to_string(value));
    }
    ASSERT_OK(testing::WriteFile(dir + "/config.toml", config));
  }

  CliRun Backup(const std::string& dir, const std::string& user, const std::string& time,
                const std::string& src) {
    return RunCli({"backup", "--store", dir, "--user", user, "--time", time, "-q", src});
  }

  std::set<std::string> Objects(const std::string& prefix) {
    std::string out;
    EXPECT_EQ(testing::Rados(*ceph_, ns_, "ls", &out), 0) << out;
    std::set<std::string> found;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind(prefix, 0) == 0) found.insert(line);
    }
    return found;
  }

  uint64_t Epoch() {
    std::string out;
    EXPECT_EQ(testing::Rados(*ceph_, ns_, "getxattr keepfs.shard epoch", &out), 0) << out;
    return std::strtoull(out.c_str(), nullptr, 10);
  }

  std::string Cat(const std::string& dir, const std::string& user, const std::string& snap,
                  const std::string& path) {
    CliRun r = RunCli({"cat", "--store", dir, "--user", user, snap, path});
    EXPECT_EQ(r.code, 0) << r.err;
    return r.out;
  }

  // A source big enough that a backup seals several packs before it commits.
  std::string BigSource() {
    const std::string big = tmp_.Join("big");
    EXPECT_OK(MakeDirs(big));
    for (int i = 0; i < 24; ++i) {
      EXPECT_OK(testing::WriteFile(big + "/" + std::to_string(i) + ".bin",
                                   testing::RandomBytes(4 << 20, 500 + i)));
    }
    return big;
  }

  // Starts a backup of BigSource on dir and returns once its first pack is
  // sealed in RADOS (the backup well under way, nothing committed).
  pid_t StartBigBackup(const std::string& dir, const std::string& err_path) {
    const std::string big = BigSource();
    const size_t packs_before = Objects("pack.").size();
    pid_t pid = SpawnKeepfs({"backup", "--store", dir, "--user", "bob", "-q", big}, err_path);
    EXPECT_GT(pid, 0);
    EXPECT_TRUE(testing::WaitFor([&] { return Objects("pack.").size() > packs_before; },
                                 std::chrono::seconds(60)));
    return pid;
  }

  const testing::CephCluster* ceph_ = nullptr;
  testing::TempDir tmp_;
  std::string ns_, a_, b_, src_;
};

// The protocol itself, on the shard object: a publish guarded by an epoch
// that a later owner raised applies nothing, and a damaged journal entry is
// named, never applied.
TEST_F(ShardTest, APublishUnderAFencedEpochAppliesNothing) {
  RadosLocation loc;
  loc.pool = ceph_->pool;
  loc.ns = ns_;
  loc.ceph_conf = ceph_->conf;
  ASSERT_OK_AND_ASSIGN(auto packs, OpenRadosPackStore(loc, "shard-test", /*create_marker=*/true));
  rados::Client* client = RadosClientOf(packs.get());
  ASSERT_NE(client, nullptr);
  ASSERT_OK(Shard::Create(client));
  EXPECT_CODE(Shard::Create(client), StatusCode::kAlreadyExists);

  ShardOptions paused;  // never renews: as if SIGSTOPped
  paused.lease_sec = 3;
  paused.renew = false;
  ASSERT_OK_AND_ASSIGN(auto first, Shard::Acquire(client, paused));
  EXPECT_EQ(first->epoch(), 1u);
  ASSERT_OK_AND_ASSIGN(uint64_t seq, first->Publish("the first owner's entry"));
  EXPECT_EQ(seq, 1u);

  // A second owner waits for the lease, then raises the epoch.
  ShardOptions next;
  next.lease_sec = 3;
  next.wait_sec = 30;
  std::string told;
  next.waiting = [&told](const std::string& holder) { told = holder; };
  const auto t0 = Clock::now();
  ASSERT_OK_AND_ASSIGN(auto second, Shard::Acquire(client, next));
  const double waited = SecondsSince(t0);
  EXPECT_GT(waited, 1.0) << "the second owner did not wait for the first one's lease";
  EXPECT_NE(told.find("pid"), std::string::npos) << "the wait names no holder: " << told;
  EXPECT_EQ(second->epoch(), 2u);
  EXPECT_EQ(second->head(), 1u);

  // The first owner, resumed: fenced, and nothing of it is published.
  auto late = first->Publish("a late entry of the fenced owner");
  EXPECT_CODE(late, StatusCode::kBusy);
  EXPECT_NE(late.status().message().find("took the store over"), std::string::npos)
      << late.status().ToString();
  EXPECT_CODE(first->Publish("and every later one"), StatusCode::kBusy);
  ASSERT_OK_AND_ASSIGN(auto entries, second->Since(0));
  ASSERT_EQ(entries.size(), 1u);
  ASSERT_OK_AND_ASSIGN(std::string bytes, second->Fetch(entries[0]));
  EXPECT_EQ(bytes, "the first owner's entry");
  ASSERT_OK_AND_ASSIGN(seq, second->Publish("the second owner's entry"));
  EXPECT_EQ(seq, 2u);
  EXPECT_EQ(Objects("meta.").size(), 2u) << "the fenced entry's object was left behind";

  // A journal entry whose bytes changed is Corruption, never applied.
  std::string out;
  const std::string bad = tmp_.Join("bad");
  ASSERT_OK(testing::WriteFile(bad, "the first owner's entrY"));
  ASSERT_EQ(testing::Rados(*ceph_, ns_, "put " + entries[0].oid + " " + bad, &out), 0) << out;
  EXPECT_CODE(second->Fetch(entries[0]), StatusCode::kCorruption);
}

// Every metadata write reaches RADOS first: a node attached in an empty
// directory rebuilds the same store from the journal, and each node's next
// read-write open applies what the other published.
TEST_F(ShardTest, AnAttachedNodeRebuildsTheStoreFromTheJournalAndTheNodesTakeTurns) {
  InitA();
  ASSERT_EQ(Backup(a_, "alice", "2026-11-01", src_).code, 0);
  ASSERT_OK(testing::WriteFile(src_ + "/docs/a.txt", "version 2\n"));
  ASSERT_EQ(Backup(a_, "alice", "2026-11-02", src_).code, 0);
  EXPECT_GE(Objects("meta.").size(), 3u) << "the store record and two backups";
  EXPECT_EQ(Objects("keepfs.shard").size(), 1u);

  CliRun attach = Attach(b_);
  ASSERT_EQ(attach.code, 0) << attach.err;
  ASSERT_OK_AND_ASSIGN(std::string config, testing::ReadFile(b_ + "/config.toml"));
  EXPECT_NE(config.find("namespace = \"" + ns_ + "\""), std::string::npos) << config;
  {
    ASSERT_OK_AND_ASSIGN(auto a, Store::Open(a_, OpenMode::kReadOnly));
    ASSERT_OK_AND_ASSIGN(auto b, Store::Open(b_, OpenMode::kReadOnly));
    EXPECT_EQ(a->meta().store_id, b->meta().store_id);
  }
  EXPECT_EQ(Cat(b_, "alice", "2026-11-01_000000", "docs/a.txt"), "version 1\n");
  EXPECT_EQ(Cat(b_, "alice", "2026-11-02_000000", "docs/a.txt"), "version 2\n");
  EXPECT_TRUE(Cat(b_, "alice", "latest", "big.bin") == testing::RandomBytes(3 << 20, 1));
  CliRun check = RunCli({"check", "--store", b_, "--verify-data"});
  EXPECT_EQ(check.code, 0) << check.out << check.err;

  // B backs up; A's next read-write open applies it, and A's next backup
  // dedups against what B stored.
  ASSERT_OK(testing::WriteFile(src_ + "/docs/a.txt", "version 3\n"));
  ASSERT_EQ(Backup(b_, "alice", "2026-11-03", src_).code, 0);
  const size_t packs = Objects("pack.").size();
  ASSERT_EQ(Backup(a_, "carol", "2026-11-03", src_).code, 0);
  EXPECT_EQ(Objects("pack.").size(), packs) << "A stored again what B had stored";
  EXPECT_EQ(Cat(a_, "alice", "2026-11-03_000000", "docs/a.txt"), "version 3\n");
  check = RunCli({"check", "--store", a_, "--verify-data"});
  EXPECT_EQ(check.code, 0) << check.out << check.err;
  // A read-only open reads the local copy as it is; a read-write one (here
  // check) brings it up to the journal first.
  CliRun stale = RunCli({"snapshots", "--store", b_, "--user", "carol"});
  EXPECT_EQ(stale.out.find("2026-11-03"), std::string::npos) << stale.out;
  check = RunCli({"check", "--store", b_});
  EXPECT_EQ(check.code, 0) << check.out << check.err;
  EXPECT_EQ(Cat(b_, "carol", "latest", "docs/a.txt"), "version 3\n");
  // Every read-write open raised the epoch once.
  EXPECT_GT(Epoch(), 6u);

  // A directory that is no cache of this store is refused by attach.
  CliRun again = Attach(a_);
  EXPECT_NE(again.code, 0);
  EXPECT_NE(again.err.find("already holds a keepfs store"), std::string::npos) << again.err;
}

// Two nodes contend: the second waits for the lease while the first holds
// it, says so, and gives up after lease_wait with the holder named; once the
// first lets go, the second proceeds.
TEST_F(ShardTest, TheSecondNodeWaitsWhileTheFirstOwnsTheStore) {
  InitA();
  ASSERT_EQ(Attach(b_).code, 0);
  SetLease(b_, 3, 2);
  auto a = Store::Open(a_, OpenMode::kReadWrite);
  ASSERT_OK(a);
  auto t0 = Clock::now();
  auto refused = Store::Open(b_, OpenMode::kReadWrite);
  EXPECT_CODE(refused, StatusCode::kBusy);
  EXPECT_GE(SecondsSince(t0), 1.9) << "it did not wait lease_wait";
  EXPECT_NE(refused.status().message().find("owned by"), std::string::npos)
      << refused.status().ToString();
  // A read-only open needs no lease.
  EXPECT_OK(Store::Open(b_, OpenMode::kReadOnly).status());

  SetLease(b_, 3, 30);
  std::thread release([&a] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    a->reset();
  });
  t0 = Clock::now();
  auto b = Store::Open(b_, OpenMode::kReadWrite);
  const double waited = SecondsSince(t0);
  release.join();
  ASSERT_OK(b);
  EXPECT_GT(waited, 1.0) << "the second open did not wait for the first";
  EXPECT_LT(waited, 3.0) << "a released lease was not taken at once";
}

// The owner is paused (SIGSTOP) mid-backup past its lease; another node
// takes over and commits; the first, resumed, is fenced: its backup fails
// and commits nothing, and the store stays whole on both nodes.
TEST_F(ShardTest, APausedOwnerIsFencedAndItsBackupCommitsNothing) {
  InitA();
  ASSERT_EQ(Backup(a_, "alice", "2026-11-01", src_).code, 0);
  ASSERT_EQ(Attach(b_).code, 0);
  const std::string err = tmp_.Join("a.err");
  pid_t owner = StartBigBackup(a_, err);
  ASSERT_EQ(::kill(owner, SIGSTOP), 0);
  std::this_thread::sleep_for(std::chrono::seconds(4));  // past its 3 s lease
  ASSERT_OK(testing::WriteFile(src_ + "/docs/a.txt", "written while A slept\n"));
  CliRun takeover = Backup(b_, "alice", "2026-11-02", src_);
  ASSERT_EQ(takeover.code, 0) << takeover.err;
  ASSERT_EQ(::kill(owner, SIGCONT), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(owner, &status, 0), owner);
  ASSERT_TRUE(WIFEXITED(status)) << "the fenced backup died of signal " << WTERMSIG(status);
  EXPECT_NE(WEXITSTATUS(status), 0) << "the fenced backup succeeded";
  ASSERT_OK_AND_ASSIGN(std::string said, testing::ReadFile(err));
  EXPECT_TRUE(said.find("took the store over") != std::string::npos ||
              said.find("lost the lease") != std::string::npos)
      << said;

  // Neither node shows bob's backup; both show B's; both check clean.
  for (const std::string& dir : {b_, a_}) {
    CliRun bob = RunCli({"snapshots", "--store", dir, "--user", "bob"});
    EXPECT_EQ(bob.out.find("20"), std::string::npos) << dir << ": " << bob.out;
    CliRun check = RunCli({"check", "--store", dir, "--verify-data"});
    EXPECT_EQ(check.code, 0) << dir << ":\n" << check.out << check.err;
    EXPECT_EQ(Cat(dir, "alice", "2026-11-02_000000", "docs/a.txt"), "written while A slept\n");
    EXPECT_EQ(Cat(dir, "alice", "2026-11-01_000000", "docs/a.txt"), "version 1\n");
  }
}

// kill -9 of the owner mid-backup; a new node attaches in an empty
// directory (a cold rebuild), waiting out the dead owner's lease: every
// committed snapshot reads back, check is clean, and it backs up.
TEST_F(ShardTest, AKilledOwnersStoreIsTakenOverColdWithNothingCommittedLost) {
  InitA();
  ASSERT_EQ(Backup(a_, "alice", "2026-11-01", src_).code, 0);
  ASSERT_OK(testing::WriteFile(src_ + "/docs/a.txt", "version 2\n"));
  ASSERT_EQ(Backup(a_, "alice", "2026-11-02", src_).code, 0);
  pid_t owner = StartBigBackup(a_, tmp_.Join("a.err"));
  ASSERT_EQ(::kill(owner, SIGKILL), 0);
  int status = 0;
  ::waitpid(owner, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the backup finished before the kill; the test proves nothing";

  const auto t0 = Clock::now();
  CliRun attach = Attach(b_);
  ASSERT_EQ(attach.code, 0) << attach.err;
  EXPECT_LT(SecondsSince(t0), 20.0);
  EXPECT_EQ(Cat(b_, "alice", "2026-11-01_000000", "docs/a.txt"), "version 1\n");
  EXPECT_EQ(Cat(b_, "alice", "2026-11-02_000000", "docs/a.txt"), "version 2\n");
  EXPECT_TRUE(Cat(b_, "alice", "2026-11-01_000000", "big.bin") == testing::RandomBytes(3 << 20, 1));
  CliRun bob = RunCli({"snapshots", "--store", b_, "--user", "bob"});
  EXPECT_EQ(bob.out.find("20"), std::string::npos) << bob.out;
  CliRun check = RunCli({"check", "--store", b_, "--verify-data"});
  EXPECT_EQ(check.code, 0) << check.out << check.err;
  ASSERT_OK(testing::WriteFile(src_ + "/docs/a.txt", "version 3\n"));
  ASSERT_EQ(Backup(b_, "alice", "2026-11-03", src_).code, 0);
  EXPECT_EQ(Cat(b_, "alice", "latest", "docs/a.txt"), "version 3\n");
}

}  // namespace
}  // namespace keepfs
