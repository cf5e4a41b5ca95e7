// Power loss at random instants of each job: everything written after the
// last fsync is dropped and every directory change not made durable by an
// fsync of its directory is undone (the faultfs shim,
// tests/testing/faultfs/faultfs.cc). A job that finishes first gets the power
// cut right after it exits, which checks that what it acknowledged (a
// snapshot name printed, a pin set, a copy made) is durable.
// After each cut: `keepfs check --verify-data` is clean, the counts equal a
// recount, every acknowledged snapshot reads back byte-identical, and the
// next run of the job succeeds. This proves the fsync points of
// docs/commit.md are enough, not only that the order of writes is right.
// KEEPFS_POWER_LOSS_ITERATIONS sets the number of cuts per job (default 8).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <cstdlib>
#include <iostream>
#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "snapshot/catalog.h"
#include "snapshot/pins.h"
#include "snapshot/repo.h"
#include "store/file_util.h"
#include "tests/testing/backup_util.h"
#include "tests/testing/faultfs_util.h"
#include "tests/testing/pack_oracle.h"
#include "tests/testing/refs_oracle.h"
#include "tests/testing/test_util.h"
#include "tests/tools/cli_test_util.h"

namespace keepfs::testing {
namespace {

int Iterations(int default_count) {
  const char* env = std::getenv("KEEPFS_POWER_LOSS_ITERATIONS");
  return env ? std::atoi(env) : default_count;
}

// Runs jobs under the shim with a power cut at a random mutating call of the
// tracked directories; the cut point is drawn from the number of calls the
// last whole run made, with one in nine drawn past the end so that some runs
// finish and are cut right after.
class PowerCuts {
 public:
  PowerCuts(TempDir& dir, std::vector<std::string> roots, uint64_t seed)
      : rng_(seed), count_file_(dir.Join("faultfs.count")) {
    options_.roots = std::move(roots);
    options_.aside = dir.Join("faultfs.aside");
    options_.state_file = dir.Join("faultfs.state");
    std::filesystem::create_directories(options_.aside);
  }

  // The job (args after the binary) with a power cut somewhere in it or
  // right after it. The first run of each object only counts the calls.
  FaultRun Run(std::vector<std::string> args) {
    args.insert(args.begin(), KEEPFS_BINARY);
    FaultFsOptions o = options_;
    o.count_file = count_file_;
    o.crash_at = count_ == 0 ? 0 : 1 + rng_.Uniform(count_ + count_ / 8);
    FaultRun run = RunUnderFaultFs(args, o);
    if (run.PoweredOff()) {
      ++cut_mid_run_;
    } else {
      count_ = ReadFaultCount(count_file_);
      EXPECT_TRUE(PowerLossNow(options_)) << "the power cut after the run did not happen";
      ++cut_after_run_;
    }
    std::filesystem::remove_all(options_.aside);
    std::filesystem::create_directories(options_.aside);
    std::filesystem::remove(options_.state_file);
    return run;
  }

  // One line for the log: how the cuts fell.
  void Report(const std::string& job) const {
    std::cout << "[power-loss] " << job << ": " << cut_mid_run_ << " cuts inside a run, "
              << cut_after_run_ << " right after one; " << count_
              << " mutating calls in the last whole run\n";
  }

  int cut_mid_run() const { return cut_mid_run_; }
  int cut_after_run() const { return cut_after_run_; }
  uint64_t calls_per_run() const { return count_; }

 private:
  Rng rng_;
  std::string count_file_;
  FaultFsOptions options_;
  uint64_t count_ = 0;
  int cut_mid_run_ = 0, cut_after_run_ = 0;
};

using Files = std::map<std::string, std::string>;  // name -> bytes

// Every snapshot in want is there and reads back byte-identical.
void ExpectSnapshots(Store* store, const std::string& user,
                     const std::map<std::string, Files>& want, const std::string& what) {
  snapshot::Repo repo(store);
  for (const auto& [name, files] : want) {
    auto snap = repo.FindSnapshot(user, name);
    ASSERT_OK(snap) << what << ": " << user << "/" << name << " was acknowledged and is gone";
    for (const auto& [f, bytes] : files) {
      auto got = ReadSnapshotFile(store, *snap, f);
      ASSERT_OK(got) << what << ": " << user << "/" << name << " " << f;
      ASSERT_TRUE(*got == bytes) << what << ": " << user << "/" << name << " " << f << " differs";
    }
  }
}

void ExpectCheckClean(const std::string& store, const std::string& what) {
  CliRun check = RunCli({"check", "--store", store, "--verify-data"});
  ASSERT_EQ(check.code, 0) << what << ":\n" << check.out << check.err;
}

std::string Iter(int i) { return "power cut " + std::to_string(i); }

TEST(PowerLossTest, BackupKeepsEveryAcknowledgedSnapshot) {
  const int iterations = Iterations(8);
  TempDir dir;
  std::string store = dir.Join("store"), src = dir.Join("src");
  ASSERT_EQ(RunCli({"init", "--store", store, "-q"}).code, 0);
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  PowerCuts cuts(dir, {store}, 61);
  Rng rng(62);
  Files files;
  std::map<std::string, Files> attempted, acknowledged;  // snapshot -> files
  for (int i = 0; i <= iterations; ++i) {
    for (int k = 0; k < 3; ++k) {  // new chunks every run: a pack to seal
      std::string f = "f" + std::to_string(rng.Uniform(6));
      files[f] = RandomBytes(50000 + rng.Uniform(600000), rng.Next());
      ASSERT_TRUE(WriteFile(src + "/" + f, files[f]).ok());
    }
    int64_t t = 1790000000 + i * 3600;
    std::string name = snapshot::FormatSnapshotName(t, 0);
    attempted[name] = files;
    FaultRun run = cuts.Run({"backup", "--store", store, "--user", "alice", "--time",
                             snapshot::FormatUtcTime(t), src});
    if (run.out.find(name) != std::string::npos) acknowledged[name] = files;
    if (!run.PoweredOff()) {
      ASSERT_EQ(run.code, 0) << run.err;
      ASSERT_EQ(acknowledged.count(name), 1u) << "a whole backup did not print its name";
    }
    ExpectCheckClean(store, Iter(i));
    auto s = Store::Open(store, OpenMode::kReadWrite);
    ASSERT_OK(s);
    ExpectRefsConsistent(s->get());
    ExpectSnapshots(s->get(), "alice", acknowledged, Iter(i));
    // A snapshot that survived without being acknowledged is whole too.
    auto snaps = snapshot::Repo(s->get()).ListSnapshots("alice");
    ASSERT_OK(snaps);
    for (const auto& snap : *snaps) {
      ASSERT_EQ(attempted.count(snap.name), 1u) << snap.name;
      ExpectSnapshots(s->get(), "alice", {{snap.name, attempted[snap.name]}}, Iter(i));
    }
  }
  cuts.Report("backup");
  EXPECT_GT(cuts.cut_mid_run(), 0) << "no power cut landed inside a backup";
  EXPECT_GT(cuts.cut_after_run(), 0) << "no backup finished before its power cut";
  // The next run succeeds.
  CliRun b = RunCli({"backup", "--store", store, "--user", "alice", "-q", src});
  ASSERT_EQ(b.code, 0) << b.err;
  ExpectCheckClean(store, "after the last backup");
}

TEST(PowerLossTest, PinsAndUnpinsThatReturnedAreDurable) {
  const int iterations = Iterations(8);
  TempDir dir;
  std::string store = dir.Join("store"), src = dir.Join("src");
  ASSERT_EQ(RunCli({"init", "--store", store, "-q"}).code, 0);
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  for (int f = 0; f < 6; ++f) {
    ASSERT_TRUE(WriteFile(src + "/f" + std::to_string(f), RandomBytes(5000, f)).ok());
  }
  ASSERT_EQ(RunCli({"backup", "--store", store, "--user", "alice", "-q", "--time",
                    snapshot::FormatUtcTime(1790000000), src})
                .code,
            0);
  const std::string snap = snapshot::FormatSnapshotName(1790000000, 0);
  PowerCuts cuts(dir, {store}, 63);
  Rng rng(64);
  std::set<std::string> pinned;  // as acknowledged
  std::set<std::string> uncertain;
  for (int i = 0; i <= iterations; ++i) {
    std::string f = "f" + std::to_string(rng.Uniform(6));
    bool pin = pinned.count(f) == 0;
    FaultRun run = cuts.Run({pin ? "pin" : "unpin", "--store", store, "--user", "alice", "-q",
                             snap, f});
    if (run.PoweredOff()) {
      uncertain.insert(f);  // the call never returned: either way is right
    } else {
      ASSERT_EQ(run.code, 0) << run.err;
      uncertain.erase(f);
      if (pin) {
        pinned.insert(f);
      } else {
        pinned.erase(f);
      }
    }
    auto s = Store::Open(store, OpenMode::kReadWrite);
    ASSERT_OK(s);
    auto all = snapshot::ListPins(s->get(), "alice");
    ASSERT_OK(all);
    std::set<std::string> have;
    for (const auto& p : *all) have.insert(p.path);
    for (int k = 0; k < 6; ++k) {
      std::string name = "f" + std::to_string(k);
      if (uncertain.count(name)) continue;
      EXPECT_EQ(have.count(name), pinned.count(name))
          << Iter(i) << ": the acknowledged " << (pinned.count(name) ? "pin" : "unpin") << " of "
          << name << " was lost";
    }
    // Settle the uncertain ones as the store has them.
    for (const auto& u : uncertain) {
      if (have.count(u)) {
        pinned.insert(u);
      } else {
        pinned.erase(u);
      }
    }
    uncertain.clear();
    ExpectRefsConsistent(s->get());
  }
  cuts.Report("pin/unpin");
  EXPECT_GT(cuts.cut_mid_run(), 0);
  EXPECT_GT(cuts.cut_after_run(), 0);
}

// Backups of alice, then prune (keeping the newest two) or gc under the cut;
// the snapshots that must stay read back byte-identical and the packs and
// counts are exact.
TEST(PowerLossTest, PruneAndGcLoseNothingThatMustStay) {
  const int iterations = Iterations(8);
  TempDir dir;
  std::string store = dir.Join("store"), src = dir.Join("src");
  ASSERT_EQ(RunCli({"init", "--store", store, "-q"}).code, 0);
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  PowerCuts prune_cuts(dir, {store}, 65), gc_cuts(dir, {store}, 66);
  Rng rng(67);
  std::map<std::string, Files> expected;
  Files files;
  int backups = 0;
  for (int i = 0; i <= iterations; ++i) {
    for (int b = 0; b < 3; ++b, ++backups) {
      for (int k = 0; k < 2; ++k) {
        std::string f = "f" + std::to_string(rng.Uniform(4));
        files[f] = RandomBytes(100000 + rng.Uniform(1 << 20), rng.Next());
        ASSERT_TRUE(WriteFile(src + "/" + f, files[f]).ok());
      }
      int64_t t = 1790000000 + backups * 3600;
      ASSERT_EQ(RunCli({"backup", "--store", store, "--user", "alice", "-q", "--time",
                        snapshot::FormatUtcTime(t), src})
                    .code,
                0);
      expected[snapshot::FormatSnapshotName(t, 0)] = files;
    }
    FaultRun prune = prune_cuts.Run({"prune", "--store", store, "-q", "--keep-last", "2",
                                     "--keep-within", "0", "--keep-monthly", "0"});
    if (!prune.PoweredOff()) ASSERT_EQ(prune.code, 0) << prune.err;
    FaultRun gc = gc_cuts.Run({"gc", "--store", store, "-q", "--undelete-window", "0s"});
    if (!gc.PoweredOff()) ASSERT_EQ(gc.code, 0) << gc.err;
    ExpectCheckClean(store, Iter(i));
    auto s = Store::Open(store, OpenMode::kReadWrite);
    ASSERT_OK(s);
    ExpectRefsConsistent(s->get());
    ExpectPacksExact(s->get());
    auto snaps = snapshot::Repo(s->get()).ListSnapshots("alice");
    ASSERT_OK(snaps);
    ASSERT_GE(snaps->size(), 2u);
    for (const auto& snap : *snaps) {
      ExpectSnapshots(s->get(), "alice", {{snap.name, expected[snap.name]}}, Iter(i));
    }
    // The newest two must stay whatever was cut.
    for (auto it = expected.rbegin(); it != std::next(expected.rbegin(), 2); ++it) {
      ExpectSnapshots(s->get(), "alice", {{it->first, it->second}}, Iter(i));
    }
  }
  prune_cuts.Report("prune");
  gc_cuts.Report("gc");
  EXPECT_GT(prune_cuts.cut_mid_run() + gc_cuts.cut_mid_run(), 0);
  CliRun prune = RunCli({"prune", "--store", store, "-q", "--keep-last", "2", "--keep-within", "0",
                         "--keep-monthly", "0"});
  ASSERT_EQ(prune.code, 0) << prune.err;
  CliRun gc = RunCli({"gc", "--store", store, "-q", "--undelete-window", "0s"});
  ASSERT_EQ(gc.code, 0) << gc.err;
  ExpectCheckClean(store, "after the last gc");
}

TEST(PowerLossTest, TheSharingPassLosesNothing) {
  const int iterations = Iterations(6);
  TempDir dir;
  std::string store = dir.Join("store"), alice = dir.Join("alice"), bob = dir.Join("bob");
  ASSERT_EQ(RunCli({"init", "--store", store, "-q"}).code, 0);
  ASSERT_EQ(::mkdir(alice.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(bob.c_str(), 0755), 0);
  PowerCuts cuts(dir, {store}, 68);
  Rng rng(69);
  std::map<std::string, std::map<std::string, Files>> expected;  // user -> snapshot -> files
  Files files;
  for (int i = 0; i <= iterations; ++i) {
    for (int k = 0; k < 2; ++k) {  // the same bytes, stored densely for bob, with a hole for alice
      std::string name = "f" + std::to_string(i) + "_" + std::to_string(k);
      std::string bytes = RandomBytes((3 << 20) + rng.Uniform(1 << 20), rng.Next());
      std::fill(bytes.begin() + (1 << 20), bytes.begin() + (2 << 20), '\0');
      files[name] = bytes;
      ASSERT_TRUE(WriteFile(bob + "/" + name, bytes).ok());
      ASSERT_TRUE(WriteFileWithHole(alice + "/" + name, bytes, 1 << 20, 2 << 20).ok());
    }
    int64_t t = 1790000000 + i * 3600;
    for (const auto& [user, src] : {std::pair{"alice", alice}, std::pair{"bob", bob}}) {
      ASSERT_EQ(RunCli({"backup", "--store", store, "--user", user, "-q", "--time",
                        snapshot::FormatUtcTime(t), src})
                    .code,
                0);
      expected[user][snapshot::FormatSnapshotName(t, 0)] = files;
    }
    FaultRun run = cuts.Run({"share", "--store", store, "-q"});
    if (!run.PoweredOff()) ASSERT_EQ(run.code, 0) << run.err;
    ExpectCheckClean(store, Iter(i));
    auto s = Store::Open(store, OpenMode::kReadWrite);
    ASSERT_OK(s);
    ExpectRefsConsistent(s->get());
    ExpectPacksExact(s->get());
    for (const auto& [user, snaps] : expected) ExpectSnapshots(s->get(), user, snaps, Iter(i));
  }
  cuts.Report("share");
  EXPECT_GT(cuts.cut_mid_run(), 0);
  ASSERT_EQ(RunCli({"share", "--store", store, "-q"}).code, 0);
  ExpectCheckClean(store, "after the last sharing pass");
}

// A store-backup that returned is a whole copy; a cut one is refused by
// --verify or completed by the next run. A store-restore that returned is a
// whole store; a cut one is refused until --resume finishes it.
TEST(PowerLossTest, StoreBackupAndRestoreAreWholeOrRefused) {
  const int iterations = Iterations(6);
  TempDir dir;
  std::string store = dir.Join("store"), src = dir.Join("src"), copy = dir.Join("copy");
  ASSERT_EQ(RunCli({"init", "--store", store, "-q"}).code, 0);
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  PowerCuts backup_cuts(dir, {copy}, 70);
  Rng rng(71);
  Files files;
  for (int i = 0; i <= iterations; ++i) {
    std::string f = "f" + std::to_string(i);
    files[f] = RandomBytes(300000 + rng.Uniform(1 << 20), rng.Next());
    ASSERT_TRUE(WriteFile(src + "/" + f, files[f]).ok());
    ASSERT_EQ(RunCli({"backup", "--store", store, "--user", "alice", "-q", src}).code, 0);
    FaultRun run = backup_cuts.Run({"store-backup", "--store", store, "-q", copy});
    if (!run.PoweredOff()) {
      ASSERT_EQ(run.code, 0) << run.err;
      CliRun v = RunCli({"store-backup", "--verify", copy});
      ASSERT_EQ(v.code, 0) << Iter(i) << ": a copy that was acknowledged does not verify:\n"
                           << v.out << v.err;
    } else if (PathExists(copy + "/MANIFEST")) {
      // The previous whole copy (or this one, if its MANIFEST was durable).
      CliRun v = RunCli({"store-backup", "--verify", copy});
      ASSERT_EQ(v.code, 0) << Iter(i) << ":\n" << v.out << v.err;
    }
  }
  backup_cuts.Report("store-backup");
  EXPECT_GT(backup_cuts.cut_mid_run(), 0);
  ASSERT_EQ(RunCli({"store-backup", "--store", store, "-q", copy}).code, 0);

  PowerCuts restore_cuts(dir, {dir.Join("restored")}, 72);
  for (int i = 0; i <= iterations; ++i) {
    std::string target = dir.Join("restored/" + std::to_string(i));
    std::filesystem::create_directories(dir.Join("restored"));
    FaultRun run = restore_cuts.Run({"store-restore", "-q", copy, target});
    if (!run.PoweredOff()) ASSERT_EQ(run.code, 0) << run.err;
    if (PathExists(target + "/RESTORING")) {
      auto s = Store::Open(target, OpenMode::kReadOnly);
      ASSERT_FALSE(s.ok()) << Iter(i) << ": a half-restored store opened";
      CliRun r = RunCli({"store-restore", "--resume", "-q", copy, target});
      ASSERT_EQ(r.code, 0) << Iter(i) << ": " << r.out << r.err;
    } else if (!PathExists(target + "/config.toml")) {
      ASSERT_FALSE(!run.PoweredOff()) << Iter(i) << ": a restore that returned left no store";
      CliRun r = RunCli({"store-restore", "-q", copy, target});
      ASSERT_EQ(r.code, 0) << Iter(i) << ": " << r.out << r.err;
    }
    ExpectCheckClean(target, Iter(i));
    auto s = Store::Open(target, OpenMode::kReadOnly);
    ASSERT_OK(s);
    ExpectRefsConsistent(s->get());
    auto snaps = snapshot::Repo(s->get()).ListSnapshots("alice");
    ASSERT_OK(snaps);
    ASSERT_FALSE(snaps->empty());
    ExpectSnapshots(s->get(), "alice", {{snaps->back().name, files}}, Iter(i));
  }
  restore_cuts.Report("store-restore");
  EXPECT_GT(restore_cuts.cut_mid_run(), 0);
}

}  // namespace
}  // namespace keepfs::testing
