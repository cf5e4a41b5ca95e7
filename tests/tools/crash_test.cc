// kill -9 at random instants of a backup, a prune, gc, the sharing pass, a
// check, a store-backup, a store-restore, a repair, a spool ingest, and of the
// mount while pins and unpins go through it.
// After every kill: `keepfs check` is clean, every snapshot committed before
// is intact and byte-identical, no partial snapshot is visible, counts equal
// a recount, and the next run of the job succeeds.
// KEEPFS_CRASH_ITERATIONS sets the count (default 12, 10 for gc, 6 for the
// sharing pass, check and the mount, 8 for store-backup, repair and spool
// ingest, 5 for store-restore).
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <sstream>
#include <set>
#include <thread>

#include "snapshot/catalog.h"
#include "snapshot/pins.h"
#include "snapshot/repo.h"
#include "store/chunk_store.h"
#include "store/file_util.h"
#include "store/pack.h"
#include "tests/testing/backup_util.h"
#include "tests/testing/every_kind_tree.h"
#include "tests/testing/mount_util.h"
#include "tests/testing/pack_oracle.h"
#include "tests/testing/refs_oracle.h"
#include "tests/testing/test_util.h"
#include "tests/tools/cli_test_util.h"

namespace keepfs::testing {
namespace {

// KEEPFS_CRASH_ITERATIONS, or the test's default: how many kills a loop makes.
int CrashIterations(int default_count) {
  const char* env = std::getenv("KEEPFS_CRASH_ITERATIONS");
  return env ? std::atoi(env) : default_count;
}

// Runs the binary with args and kills it with SIGKILL after ms
// milliseconds; true if the kill landed (the run had not finished).
bool RunAndKill(const std::vector<std::string>& args, uint64_t ms) {
  pid_t pid = SpawnQuiet(args);
  EXPECT_GT(pid, 0);
  if (pid <= 0) return false;
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFSIGNALED(status);
}

// Runs the binary until `path` exists (or the run ends), then kills it with
// SIGKILL ms milliseconds later; true if the kill landed. Aims a kill at a
// phase of the run whatever its start-up costs (a sanitizer's, a loaded
// machine's).
bool RunAndKillAfter(const std::vector<std::string>& args, const std::string& path,
                     uint64_t ms) {
  pid_t pid = SpawnQuiet(args);
  EXPECT_GT(pid, 0);
  if (pid <= 0) return false;
  int status = 0;
  while (!PathExists(path)) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return WIFSIGNALED(status);
}

void MakeData(const std::string& root, uint64_t seed, int files) {
  ASSERT_EQ(::mkdir(root.c_str(), 0755), 0);
  Rng rng(seed);
  for (int d = 0; d < 8; ++d) {
    std::string dir = root + "/d" + std::to_string(d);
    ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
    for (int i = 0; i < files / 8; ++i) {
      size_t size = rng.Uniform(4) == 0 ? (1 << 20) + rng.Uniform(6 << 20) : rng.Uniform(20000);
      ASSERT_TRUE(WriteFile(dir + "/f" + std::to_string(i), RandomBytes(size, rng.Next())).ok());
    }
  }
}

TEST(CrashTest, KillDuringBackupLeavesConsistentStore) {
  const int iterations = CrashIterations(12);
  TempDir dir;
  std::string store = dir.Join("store"), base = dir.Join("base"), big = dir.Join("big");
  MakeData(base, 1, 40);
  MakeData(big, 2, 400);  // ~400 MiB: a backup long enough to be killed mid-way
  ASSERT_EQ(RunCli({"init", "--store", store, "-q"}).code, 0);
  ASSERT_EQ(RunCli({"backup", "--store", store, "--user", "alice", "-q", base}).code, 0);
  Rng rng(42);
  int killed_mid_run = 0;
  for (int i = 0; i < iterations; ++i) {
    if (RunAndKill({KEEPFS_BINARY, "backup", "--store", store, "--user", "bob", "--no-cache", "-q",
                    big},
                   20 + rng.Uniform(1500))) {
      ++killed_mid_run;
    }
    CliRun check = RunCli({"check", "--store", store});
    ASSERT_EQ(check.code, 0) << "iteration " << i << ":\n" << check.out << check.err;
    // alice's snapshot is intact and byte-identical.
    std::string dest = dir.Join("restore" + std::to_string(i));
    CliRun r = RunCli({"restore", "--store", store, "--user", "alice", "latest", dest, "-q"});
    ASSERT_EQ(r.code, 0) << r.err;
    int code = std::system(("diff -r " + base + " " + dest + " >/dev/null").c_str());
    ASSERT_EQ(code, 0) << "iteration " << i << ": restored data differs";
    std::system(("rm -rf " + dest).c_str());
    // bob has only whole snapshots (either none yet or complete ones).
    CliRun snaps = RunCli({"snapshots", "--store", store, "--user", "bob", "--json"});
    if (snaps.code == 0) {
      CliRun v = RunCli({"check", "--store", store, "--verify-data"});
      ASSERT_EQ(v.code, 0) << v.out;
    }
  }
  EXPECT_GT(killed_mid_run, 0) << "no kill landed during a backup";
  // The next backup completes, reusing chunks the killed runs sealed.
  CliRun b = RunCli({"backup", "--store", store, "--user", "bob", "--json", big});
  ASSERT_EQ(b.code, 0) << b.err;
  size_t pos = b.out.find("\"bytes_new\":");
  size_t read_pos = b.out.find("\"bytes_read\":");
  ASSERT_NE(pos, std::string::npos);
  uint64_t bytes_new = std::stoull(b.out.substr(pos + 12));
  uint64_t bytes_read = std::stoull(b.out.substr(read_pos + 13));
  if (killed_mid_run > 1) {
    EXPECT_LT(bytes_new, bytes_read) << "nothing sealed was reused";
  }
  CliRun final_check = RunCli({"check", "--store", store, "--verify-data"});
  EXPECT_EQ(final_check.code, 0) << final_check.out;
  std::string dest = dir.Join("restore-bob");
  ASSERT_EQ(RunCli({"restore", "--store", store, "--user", "bob", "latest", dest, "-q"}).code, 0);
  EXPECT_EQ(std::system(("diff -r " + big + " " + dest + " >/dev/null").c_str()), 0);
}

// kill -9 at random instants of a prune. Each snapshot goes in one synced
// batch with its reference counts, so after every kill each snapshot is whole
// or gone (or, if it holds a pin, whole or a whole husk), the counts and
// accounts equal a recount of what is left, `keepfs check` is clean, and the
// next prune finishes the job.
TEST(CrashTest, KillDuringPruneLeavesWholeSnapshotsAndExactCounts) {
  const int iterations = CrashIterations(12);
  TempDir dir;
  std::string store = dir.Join("store"), src = dir.Join("src");
  ASSERT_EQ(RunCli({"init", "--store", store, "-q"}).code, 0);
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  Rng rng(7);
  int backups = 0, killed_mid_run = 0;
  std::map<std::string, std::string> pinned;  // snapshot -> its one pinned path
  uint64_t window_ms = 125;
  for (int i = 0; i < iterations; ++i) {
    for (int b = 0; b < 8; ++b, ++backups) {  // each replaces one file and adds one
      std::string f = "f" + std::to_string(backups % 5);
      ASSERT_TRUE(WriteFile(src + "/" + f, RandomBytes(20000 + rng.Uniform(200000), rng.Next()))
                      .ok());
      ASSERT_TRUE(WriteFile(src + "/n" + std::to_string(backups), "note").ok());
      int64_t t = 1790000000 + backups * 3600;
      ASSERT_EQ(RunCli({"backup", "--store", store, "--user", "alice", "-q", "--time",
                        snapshot::FormatUtcTime(t), src})
                    .code,
                0);
      if (b == 2) {  // one pinned file per round: its snapshot must end as a husk
        std::string name = snapshot::FormatSnapshotName(t, 0);
        ASSERT_EQ(RunCli({"pin", "--store", store, "--user", "alice", "-q", name, f}).code, 0);
        pinned[name] = f;
      }
    }
    // A prune of a few snapshots can finish in a few ms on an idle machine:
    // each run that beats the kill halves the window, so kills land inside.
    if (RunAndKill({KEEPFS_BINARY, "prune", "--store", store, "-q", "--keep-last", "1",
                    "--keep-within", "0", "--keep-monthly", "0"},
                   1 + rng.Uniform(window_ms))) {
      ++killed_mid_run;
    } else {
      window_ms = std::max<uint64_t>(2, window_ms / 2);
    }
    {
      auto s = Store::Open(store, OpenMode::kReadOnly);
      ASSERT_OK(s);
      ExpectRefsConsistent(s->get());
      snapshot::Repo repo(s->get());
      auto snaps = repo.ListSnapshots("alice");
      ASSERT_OK(snaps);
      ASSERT_GE(snaps->size(), 1u) << "the newest is never pruned";
      for (const auto& snap : *snaps) {
        if (!snap.is_husk()) continue;
        ASSERT_EQ(pinned.count(snap.name), 1u) << snap.name << " is a husk without a pin";
        EXPECT_EQ(snap.stats.files, 1u) << "a whole husk holds exactly its pinned file";
        EXPECT_OK(repo.ResolvePath(snap, pinned[snap.name]).status());
      }
      for (const auto& [name, path] : pinned) {
        EXPECT_OK(repo.FindSnapshot("alice", name).status()) << "a pinned snapshot was lost";
      }
    }
    CliRun check = RunCli({"check", "--store", store});
    ASSERT_EQ(check.code, 0) << "iteration " << i << ":\n" << check.out << check.err;
  }
  EXPECT_GT(killed_mid_run, 0) << "no kill landed during a prune";
  CliRun finish = RunCli({"prune", "--store", store, "-q", "--keep-last", "1", "--keep-within",
                          "0", "--keep-monthly", "0"});
  ASSERT_EQ(finish.code, 0) << finish.err;
  auto s = Store::Open(store, OpenMode::kReadOnly);
  ASSERT_OK(s);
  ExpectRefsConsistent(s->get());
  auto snaps = snapshot::Repo(s->get()).ListSnapshots("alice");
  ASSERT_OK(snaps);
  EXPECT_EQ(snaps->size(), 1u + pinned.size()) << "the newest and one husk per pin";
  for (size_t i = 0; i + 1 < snaps->size(); ++i) EXPECT_TRUE((*snaps)[i].is_husk());
}

// kill -9 at random instants of the garbage collector. Every batch it
// writes leaves the store consistent, so after each kill (and the recovery
// of the next writable open) the counts equal a recount, the pack records
// and dead counters equal what the files and index say, `keepfs check
// --verify-data` is clean, every snapshot still listed reads back
// byte-identical, and the next run finishes the job.
TEST(CrashTest, KillDuringGcLosesNothingCommitted) {
  const int iterations = CrashIterations(10);
  TempDir dir;
  std::string store = dir.Join("store"), src = dir.Join("src");
  ASSERT_EQ(RunCli({"init", "--store", store, "-q"}).code, 0);
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  Rng rng(11);
  std::map<std::string, std::map<std::string, std::string>> expected;  // snapshot -> file -> bytes
  std::map<std::string, std::string> files;
  int backups = 0, killed_mid_run = 0;
  for (int i = 0; i < iterations; ++i) {
    for (int b = 0; b < 5; ++b, ++backups) {  // each replaces two of four files
      for (int k = 0; k < 2; ++k) {
        std::string f = "f" + std::to_string(rng.Uniform(4));
        files[f] = RandomBytes(100000 + rng.Uniform(2 << 20), rng.Next());
        ASSERT_TRUE(WriteFile(src + "/" + f, files[f]).ok());
      }
      int64_t t = 1790000000 + backups * 3600;
      ASSERT_EQ(RunCli({"backup", "--store", store, "--user", "alice", "-q", "--time",
                        snapshot::FormatUtcTime(t), src})
                    .code,
                0);
      expected[snapshot::FormatSnapshotName(t, 0)] = files;
    }
    ASSERT_EQ(RunCli({"prune", "--store", store, "-q", "--keep-last", "2", "--keep-within", "0",
                      "--keep-monthly", "0"})
                  .code,
              0);
    if (RunAndKill({KEEPFS_BINARY, "gc", "--store", store, "-q", "--undelete-window", "0s"},
                   5 + rng.Uniform(150))) {
      ++killed_mid_run;
    }
    {
      auto s = Store::Open(store, OpenMode::kReadWrite);  // recovery runs here
      ASSERT_OK(s);
      ExpectRefsConsistent(s->get());
      ExpectPacksExact(s->get());
      auto snaps = snapshot::Repo(s->get()).ListSnapshots("alice");
      ASSERT_OK(snaps);
      ASSERT_EQ(snaps->size(), 2u);
      for (const auto& snap : *snaps) {
        for (const auto& [f, bytes] : expected[snap.name]) {
          auto got = ReadSnapshotFile(s->get(), snap, f);
          ASSERT_OK(got) << "iteration " << i << " " << snap.name << " " << f;
          ASSERT_TRUE(*got == bytes) << "iteration " << i << " " << snap.name << " " << f;
        }
      }
    }
    CliRun check = RunCli({"check", "--store", store, "--verify-data"});
    ASSERT_EQ(check.code, 0) << "iteration " << i << ":\n" << check.out << check.err;
  }
  EXPECT_GT(killed_mid_run, 0) << "no kill landed during a gc";
  CliRun finish = RunCli({"gc", "--store", store, "--undelete-window", "0s", "--json"});
  ASSERT_EQ(finish.code, 0) << finish.err;
  auto s = Store::Open(store, OpenMode::kReadWrite);
  ASSERT_OK(s);
  ExpectRefsConsistent(s->get());
  ExpectPacksExact(s->get());
  size_t queued = 0;
  for (auto it = (*s)->kv().NewIterator("Q"); it->Valid(); it->Next()) ++queued;
  EXPECT_EQ(queued, 0u) << "the last run finished every candidate";
}

TEST(CrashTest, KillDuringTheSharingPassLosesNothing) {
  const int iterations = CrashIterations(6);
  TempDir dir;
  std::string store = dir.Join("store"), alice = dir.Join("alice"), bob = dir.Join("bob");
  ASSERT_EQ(RunCli({"init", "--store", store, "-q"}).code, 0);
  ASSERT_EQ(::mkdir(alice.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(bob.c_str(), 0755), 0);
  Rng rng(21);
  // user -> snapshot -> file -> bytes
  std::map<std::string, std::map<std::string, std::map<std::string, std::string>>> expected;
  std::map<std::string, std::string> files;
  int killed_mid_run = 0;
  for (int i = 0; i < iterations; ++i) {
    // Each round: four new files, dense for bob and with a hole for alice.
    for (int k = 0; k < 4; ++k) {
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
    if (RunAndKill({KEEPFS_BINARY, "share", "--store", store, "-q"}, 5 + rng.Uniform(120))) {
      ++killed_mid_run;
    }
    {
      auto s = Store::Open(store, OpenMode::kReadWrite);
      ASSERT_OK(s);
      ExpectRefsConsistent(s->get());
      ExpectPacksExact(s->get());
      for (const auto& [user, snaps] : expected) {
        for (const auto& [name, want] : snaps) {
          auto snap = snapshot::Repo(s->get()).FindSnapshot(user, name);
          ASSERT_OK(snap);
          for (const auto& [f, bytes] : want) {
            auto got = ReadSnapshotFile(s->get(), *snap, f);
            ASSERT_OK(got) << "iteration " << i << " " << user << "/" << name << " " << f;
            ASSERT_TRUE(*got == bytes) << "iteration " << i << " " << user << "/" << name << " " << f;
          }
        }
      }
    }
    CliRun audit = RunCli({"audit", "--store", store, "--dry-run"});
    ASSERT_EQ(audit.code, 0) << "iteration " << i << ":\n" << audit.out << audit.err;
    ASSERT_EQ(RunCli({"gc", "--store", store, "-q", "--undelete-window", "0s"}).code, 0);
    CliRun check = RunCli({"check", "--store", store, "--verify-data"});
    ASSERT_EQ(check.code, 0) << "iteration " << i << ":\n" << check.out << check.err;
  }
  EXPECT_GT(killed_mid_run, 0) << "no kill landed during a sharing pass";
  // The next pass finishes the work: every file is one content, and gc
  // leaves exactly one copy of the data.
  CliRun finish = RunCli({"share", "--store", store, "--json"});
  ASSERT_EQ(finish.code, 0) << finish.err;
  ASSERT_EQ(RunCli({"gc", "--store", store, "-q", "--undelete-window", "0s"}).code, 0);
  auto s = Store::Open(store, OpenMode::kReadWrite);
  ASSERT_OK(s);
  ExpectRefsConsistent(s->get());
  ExpectPacksExact(s->get());
  snapshot::Repo repo(s->get());
  for (const auto& [name, bytes] : files) {
    auto a = repo.FindSnapshot("alice", "latest");
    auto b = repo.FindSnapshot("bob", "latest");
    ASSERT_OK(a);
    ASSERT_OK(b);
    auto ea = repo.ResolvePath(*a, name);
    auto eb = repo.ResolvePath(*b, name);
    ASSERT_OK(ea);
    ASSERT_OK(eb);
    auto ca = repo.GetContentRecord(ea->ref);
    auto cb = repo.GetContentRecord(eb->ref);
    ASSERT_OK(ca);
    ASSERT_OK(cb);
    EXPECT_TRUE(cb->is_alias() && cb->alias_of == ea->ref) << name << " is stored twice";
  }
}

// kill -9 during `keepfs check --json`, then `--resume`: the lines of the two
// runs together name every object exactly once, as one uninterrupted check
// does, problems included.
TEST(CrashTest, KillDuringCheckThenResumeCoversEveryObjectExactlyOnce) {
  const int iterations = CrashIterations(6);
  TempDir dir;
  std::string store = dir.Join("store"), src = dir.Join("src");
  ASSERT_EQ(RunCli({"init", "--store", store, "-q"}).code, 0);
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  for (int i = 0; i < 3000; ++i) {
    ASSERT_TRUE(WriteFile(src + "/f" + std::to_string(i), RandomBytes(5000 + i, i)).ok());
  }
  ASSERT_EQ(RunCli({"backup", "--store", store, "--user", "alice", "-q", src}).code, 0);
  // One damaged chunk, so that a problem is found before some kills.
  {
    auto s = Store::Open(store, OpenMode::kReadWrite);
    ASSERT_OK(s);
    auto packs = (*s)->chunks().ListPacks();
    ASSERT_OK(packs);
    ASSERT_FALSE(packs->empty());
    ASSERT_OK(FlipByte(store + "/" + PackRelPath(packs->front().first), 20));
  }
  auto objects = [](const std::string& text) {
    std::multiset<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      if (line.find("\"summary\"") == std::string::npos && !line.empty()) lines.insert(line);
    }
    return lines;
  };
  CliRun whole = RunCli({"check", "--store", store, "--verify-data", "--json"});
  ASSERT_EQ(whole.code, 1) << whole.err;
  const auto want = objects(whole.out);
  ASSERT_GT(want.size(), 6000u);
  Rng rng(31);
  const std::string bin = KEEPFS_BINARY, out = dir.Join("out.jsonl");
  int killed = 0;
  for (int i = 0; i < iterations; ++i) {
    int code = 0;
    double secs = 0.02 + rng.Uniform(200) / 1000.0;
    // --foreground: without it timeout sends SIGKILL to its whole process
    // group, itself included, and so exits without reaping the check; a
    // check still dying (under I/O load) then holds the store lock and the
    // resume below fails with "in use by PID N".
    Shell("timeout --foreground -s KILL " + std::to_string(secs) + " " + bin + " --store " +
              store + " check --verify-data --json > " + out + " 2>/dev/null",
          &code);
    code = WEXITSTATUS(code);
    // 124: timeout killed the check (and, with --foreground, reaped it).
    if (code == 124 || code == 128 + SIGKILL) {
      ++killed;
      // Without --verify-data: the resume verifies what the killed run chose.
      std::string err = dir.Join("err.txt");
      Shell(bin + " --store " + store + " check --resume --json >> " + out + " 2>" + err, &code);
      code = WEXITSTATUS(code);
      auto said = ReadFile(err);
      if (said.ok() && said->find("no interrupted check") != std::string::npos) {
        // Killed before its first line: nothing to resume, so check afresh.
        Shell(bin + " --store " + store + " check --verify-data --json > " + out, &code);
        code = WEXITSTATUS(code);
      }
    }
    EXPECT_EQ(code, 1) << "iteration " << i << ": problems found, exit 1";
    auto got = ReadFile(out);
    ASSERT_OK(got);
    auto lines = objects(*got);
    EXPECT_EQ(lines.size(), want.size()) << "iteration " << i << " after a kill at " << secs << " s";
    EXPECT_TRUE(lines == want) << "iteration " << i;
  }
  EXPECT_GT(killed, 0) << "no kill landed during a check";
}

// kill -9 at random instants of store-backup: the copy's MANIFEST always
// describes a whole copy (the previous one or the new one), the next run
// succeeds, and the final copy verifies.
TEST(CrashTest, KillDuringStoreBackupLeavesAWholeCopy) {
  const int iterations = CrashIterations(8);
  TempDir dir;
  std::string store = dir.Join("store"), src = dir.Join("src"), dest = dir.Join("copy");
  ASSERT_EQ(RunCli({"init", "--store", store, "-q"}).code, 0);
  MakeData(src, 5, 80);
  ASSERT_EQ(RunCli({"backup", "--store", store, "--user", "alice", "-q", src}).code, 0);
  Rng rng(41);
  int killed = 0;
  for (int i = 0; i < iterations; ++i) {
    // New data each round, so each copy has packs to add.
    ASSERT_TRUE(WriteFile(src + "/new" + std::to_string(i), RandomBytes(3 << 20, 900 + i)).ok());
    ASSERT_EQ(RunCli({"backup", "--store", store, "--user", "alice", "-q", src}).code, 0);
    if (RunAndKill({KEEPFS_BINARY, "store-backup", "--store", store, "-q", dest},
                   5 + rng.Uniform(150))) {
      ++killed;
    }
    if (PathExists(dest + "/MANIFEST")) {
      CliRun v = RunCli({"store-backup", "--verify", dest});
      ASSERT_EQ(v.code, 0) << "iteration " << i << ": " << v.out << v.err;
    }
  }
  EXPECT_GT(killed, 0) << "no kill landed during a store-backup";
  CliRun last = RunCli({"store-backup", "--store", store, dest, "--json"});
  ASSERT_EQ(last.code, 0) << last.err;
  CliRun v = RunCli({"store-backup", "--verify", dest});
  EXPECT_EQ(v.code, 0) << v.out << v.err;
}

// A store with damage is repaired from a store-backup copy, and the repair
// is killed at random instants. After each kill the store opens, its pack
// records and counts are exact, and every file reads back either whole or
// as an error, never as wrong bytes; the next repair mends everything.
TEST(CrashTest, KillDuringRepairThenRepairAgainMendsEverything) {
  const int iterations = CrashIterations(8);
  TempDir dir;
  std::string store = dir.Join("store"), src = dir.Join("src"), copy = dir.Join("copy");
  ASSERT_EQ(RunCli({"init", "--store", store, "-q"}).code, 0);
  MakeData(src, 7, 48);
  ASSERT_EQ(RunCli({"backup", "--store", store, "--user", "alice", "-q", src}).code, 0);
  ASSERT_EQ(RunCli({"store-backup", "--store", store, "-q", copy}).code, 0);
  ASSERT_OK(UnshareFiles(copy + "/packs"));  // a copy on another disk
  std::map<std::string, std::string> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(src)) {
    if (!e.is_regular_file()) continue;
    auto bytes = ReadFile(e.path().string());
    ASSERT_OK(bytes);
    files[e.path().string().substr(src.size() + 1)] = *bytes;
  }
  auto expect_whole_or_error = [&](Store* s, int i, bool must_be_whole) {
    auto snaps = snapshot::Repo(s).ListSnapshots("alice");
    ASSERT_OK(snaps);
    ASSERT_EQ(snaps->size(), 1u);
    for (const auto& [f, bytes] : files) {
      auto got = ReadSnapshotFile(s, snaps->front(), f);
      if (!must_be_whole && !got.ok()) continue;  // damaged, not yet mended: an error
      ASSERT_OK(got) << "iteration " << i << " " << f;
      ASSERT_TRUE(*got == bytes) << "iteration " << i << " " << f;
    }
  };
  Rng rng(53);
  int killed = 0;
  for (int i = 0; i < iterations; ++i) {
    {
      // Damage: a flipped byte in three random chunks, and every third
      // round a whole pack deleted.
      auto s = Store::Open(store, OpenMode::kReadWrite);
      ASSERT_OK(s);
      std::vector<ChunkLoc> locs;
      for (auto it = (*s)->kv().NewIterator("c"); it->Valid(); it->Next()) {
        auto loc = ChunkStore::DecodeLoc(it->value());
        ASSERT_OK(loc);
        locs.push_back(*loc);
      }
      ASSERT_FALSE(locs.empty());
      for (int k = 0; k < 3; ++k) {
        const ChunkLoc& l = locs[rng.Uniform(locs.size())];
        ASSERT_OK(FlipByte(store + "/" + PackRelPath(l.pack_id), l.offset + rng.Uniform(l.stored_len)));
      }
      if (i % 3 == 2) {
        const ChunkLoc& l = locs[rng.Uniform(locs.size())];
        ASSERT_EQ(::unlink((store + "/" + PackRelPath(l.pack_id)).c_str()), 0);
      }
    }
    if (RunAndKill({KEEPFS_BINARY, "repair", "--store", store, "-q", "--from", copy},
                   5 + rng.Uniform(400))) {
      ++killed;
    }
    {
      auto s = Store::Open(store, OpenMode::kReadWrite);  // recovery runs here
      ASSERT_OK(s);
      // (A deleted pack keeps its record until repair retires it.)
      if (i % 3 != 2) ExpectPacksExact(s->get());
      ExpectRefsConsistent(s->get());
      expect_whole_or_error(s->get(), i, /*must_be_whole=*/false);
    }
    CliRun again = RunCli({"repair", "--store", store, "--from", copy});
    ASSERT_EQ(again.code, 0) << "iteration " << i << ":\n" << again.out << again.err;
    CliRun check = RunCli({"check", "--store", store, "--verify-data"});
    ASSERT_EQ(check.code, 0) << "iteration " << i << ":\n" << check.out << check.err;
    auto s = Store::Open(store, OpenMode::kReadWrite);
    ASSERT_OK(s);
    ExpectPacksExact(s->get());
    expect_whole_or_error(s->get(), i, /*must_be_whole=*/true);
  }
  EXPECT_GT(killed, 0) << "no kill landed during a repair";
}

// kill -9 at random instants of store-restore, and of some of the --resume
// runs that follow: while STORE/RESTORING exists the store refuses to open;
// --resume (or a fresh run, when the kill came before anything but the lock
// was written) then finishes, and the store passes `check --verify-data`,
// counts equal a recount, and the restored files are byte-identical.
TEST(CrashTest, KillDuringStoreRestoreThenResumeYieldsAWholeStore) {
  const int iterations = CrashIterations(5);
  TempDir dir;
  std::string store = dir.Join("store"), src = dir.Join("src"), backup = dir.Join("copy");
  ASSERT_EQ(RunCli({"init", "--store", store, "-q"}).code, 0);
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  for (int i = 0; i < 8; ++i) {  // one pack per backup: eight packs to copy
    ASSERT_TRUE(WriteFile(src + "/f" + std::to_string(i), RandomBytes(2 << 20, 600 + i)).ok());
    ASSERT_TRUE(WriteFile(src + "/small" + std::to_string(i), RandomBytes(9000, i)).ok());
    ASSERT_EQ(RunCli({"backup", "--store", store, "--user", i % 2 ? "bob" : "alice", "-q", src})
                  .code,
              0);
  }
  // alice's latest too holds all of src.
  ASSERT_EQ(RunCli({"backup", "--store", store, "--user", "alice", "-q", src}).code, 0);
  ASSERT_EQ(RunCli({"store-backup", "--store", store, "-q", backup}).code, 0);
  // How long a whole restore by the binary takes here: until its marker is
  // in place (start-up included, long under a sanitizer), and from then on.
  // Two kills in three are aimed after the marker, so that they leave a
  // half-restored store whatever the machine's load; one lands before it.
  uint64_t before_ms = 5, marked_ms = 5;
  {
    const std::string timing = dir.Join("timing");
    const auto t0 = std::chrono::steady_clock::now();
    auto since = [&t0] {
      return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::steady_clock::now() - t0)
                                       .count());
    };
    pid_t pid = SpawnQuiet({KEEPFS_BINARY, "store-restore", "-q", backup, timing});
    ASSERT_GT(pid, 0);
    int status = 0;
    bool seen = false;
    while (::waitpid(pid, &status, WNOHANG) != pid) {
      if (!seen && PathExists(timing + "/RESTORING")) {
        seen = true;
        before_ms = std::max<uint64_t>(before_ms, since());
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ASSERT_TRUE(seen) << "the timing run's marker was never seen";
    marked_ms = std::max<uint64_t>(marked_ms, since() - before_ms);
    std::system(("rm -rf " + timing).c_str());
  }
  const std::string bin = KEEPFS_BINARY;
  Rng rng(51);
  int killed = 0, marked = 0;
  auto expect_refused = [](const std::string& target, int i) {
    for (OpenMode mode : {OpenMode::kReadOnly, OpenMode::kReadWrite}) {
      auto s = Store::Open(target, mode);
      ASSERT_FALSE(s.ok()) << "iteration " << i << ": a half-restored store opened";
      EXPECT_NE(s.status().message().find("keepfs store-restore --resume"), std::string::npos)
          << s.status().message();
    }
  };
  for (int i = 0; i < iterations; ++i) {
    const std::string target = dir.Join("restored" + std::to_string(i));
    const std::vector<std::string> run = {bin, "store-restore", "-q", backup, target};
    // By turns: early after the marker (sure to land even if this run is
    // faster than the timing run), anywhere after it, and before it.
    const bool landed =
        i % 3 == 0   ? RunAndKillAfter(run, target + "/RESTORING", rng.Uniform(marked_ms / 4))
        : i % 3 == 1 ? RunAndKillAfter(run, target + "/RESTORING", rng.Uniform(marked_ms))
                     : RunAndKill(run, 1 + rng.Uniform(before_ms));
    if (landed) {
      ++killed;
    }
    if (PathExists(target + "/RESTORING")) {
      ++marked;
      expect_refused(target, i);
      // Now and then the resume is killed too.
      if (i % 2 == 1 &&
          RunAndKill({bin, "store-restore", "--resume", "-q", backup, target},
                     1 + rng.Uniform(before_ms + marked_ms)) &&
          PathExists(target + "/RESTORING")) {
        expect_refused(target, i);
      }
    }
    if (PathExists(target + "/RESTORING")) {
      CliRun r = RunCli({"store-restore", "--resume", "-q", backup, target});
      ASSERT_EQ(r.code, 0) << "iteration " << i << ": " << r.out << r.err;
    } else if (!PathExists(target + "/config.toml")) {
      // Killed before the marker was in place: nothing but the lock was
      // written, and a fresh run must accept the directory.
      CliRun r = RunCli({"store-restore", "-q", backup, target});
      ASSERT_EQ(r.code, 0) << "iteration " << i << ": " << r.out << r.err;
    }
    ASSERT_FALSE(PathExists(target + "/RESTORING"));
    CliRun check = RunCli({"check", "--store", target, "--verify-data"});
    ASSERT_EQ(check.code, 0) << "iteration " << i << ":\n" << check.out << check.err;
    {
      auto s = Store::Open(target, OpenMode::kReadOnly);
      ASSERT_OK(s);
      ExpectRefsConsistent(s->get());
    }
    for (const char* user : {"alice", "bob"}) {
      std::string dest = dir.Join("files");
      CliRun r = RunCli({"restore", "--store", target, "--user", user, "latest", dest, "-q"});
      ASSERT_EQ(r.code, 0) << r.err;
      ASSERT_EQ(std::system(("diff -r " + src + " " + dest + " >/dev/null").c_str()), 0)
          << "iteration " << i << ": " << user << "'s files differ";
      std::system(("rm -rf " + dest).c_str());
    }
    std::system(("rm -rf " + target).c_str());
  }
  EXPECT_GT(killed, 0) << "no kill landed during a store-restore";
  EXPECT_GT(marked, 0) << "no kill left a half-restored store";
}

// kill -9 of a spool ingest at random instants: the flag stays until the
// snapshot is committed, and the next pass ends with exactly one snapshot of
// the push and no flag, whether the kill came before the commit, between the
// commit and the flag's removal, or not at all.
TEST(CrashTest, KillDuringASpoolIngestLeavesOnePushOneSnapshot) {
  const int iterations = CrashIterations(8);
  TempDir dir;
  std::string store = dir.Join("store"), spool = dir.Join("spool");
  ASSERT_EQ(RunCli({"init", "--store", store, "-q"}).code, 0);
  ASSERT_EQ(::mkdir(spool.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((spool + "/alice").c_str(), 0755), 0);
  MakeData(spool + "/alice/data", 13, 48);
  Rng rng(61);
  int killed = 0;
  for (int i = 0; i < iterations; ++i) {
    // Each round a new push: a changed file and a flag one hour later.
    ASSERT_TRUE(WriteFile(spool + "/alice/data/d0/round", RandomBytes(3 << 20, 700 + i)).ok());
    const std::string flag = spool + "/alice/.done";
    ASSERT_TRUE(WriteFile(flag, "").ok());
    const int64_t t = 1790000000 + i * 3600;
    timespec times[2] = {{t, 0}, {t, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, flag.c_str(), times, 0), 0);
    if (RunAndKill({KEEPFS_BINARY, "spool-ingest", "--store", store, "-q", spool},
                   5 + rng.Uniform(300))) {
      ++killed;
    }
    CliRun again = RunCli({"spool-ingest", "--store", store, spool, "--json"});
    ASSERT_EQ(again.code, 0) << again.out << again.err;
    EXPECT_FALSE(PathExists(flag)) << "iteration " << i;
    auto s = Store::Open(store, OpenMode::kReadOnly);
    ASSERT_OK(s);
    auto snaps = snapshot::Repo(s->get()).ListSnapshots("alice");
    ASSERT_OK(snaps);
    ASSERT_EQ(snaps->size(), static_cast<size_t>(i + 1)) << "one snapshot per push, iteration " << i;
    EXPECT_EQ(snaps->back().time_sec, t);
    auto got = ReadSnapshotFile(s->get(), snaps->back(), "d0/round");
    ASSERT_OK(got);
    EXPECT_TRUE(*got == RandomBytes(3 << 20, 700 + i));
  }
  EXPECT_GT(killed, 0) << "no kill landed during an ingest";
}

}  // namespace
}  // namespace keepfs::testing

namespace keepfs::testing {
namespace {

// kill -9 of the mount process while a reader pins and unpins files through
// it (setxattr / removexattr user.keepfs.pin). Each pin or unpin commits in
// one synced batch before the call returns, so after every kill each pin the
// mount acknowledged is there and each acknowledged unpin is gone (the one
// call the kill interrupted may have gone either way), the counts equal a
// recount, `keepfs check` is clean, and the next mount pins again.
TEST(CrashTest, KillTheMountDuringPinsKeepsEveryAnsweredPin) {
  KEEPFS_REQUIRE_FUSE_OR_SKIP();
  const int iterations = CrashIterations(6);
  TempDir dir;
  const std::string store = dir.Join("store"), src = dir.Join("src"), mnt = dir.Join("mnt");
  ASSERT_EQ(RunCli({"init", "--store", store, "-q"}).code, 0);
  ASSERT_OK(MakeDirs(mnt));
  Rng rng(31);
  std::vector<std::string> snaps, paths;
  for (int d = 0; d < 3; ++d) {
    ASSERT_OK(MakeDirs(src + "/d" + std::to_string(d)));
    for (int f = 0; f < 8; ++f) paths.push_back("d" + std::to_string(d) + "/f" + std::to_string(f));
  }
  for (int day = 0; day < 3; ++day) {
    for (const std::string& p : paths) {
      ASSERT_OK(WriteFile(src + "/" + p, RandomBytes(1000 + rng.Uniform(30000), rng.Next())));
    }
    int64_t t = 1790000000 + day * 86400;
    ASSERT_EQ(RunCli({"backup", "--store", store, "--user", "alice", "-q", "--time",
                      snapshot::FormatUtcTime(t), src}).code, 0);
    snaps.push_back(snapshot::FormatSnapshotName(t, 0));
  }
  // "SNAPSHOT/PATH" -> pinned, as last acknowledged by the mount.
  std::map<std::string, bool> want;
  int interrupted = 0, acknowledged = 0;
  for (int i = 0; i < iterations; ++i) {
    std::string why;
    pid_t pid = StartMountProcess(KEEPFS_BINARY, store, mnt,
                                  dir.Join("mount" + std::to_string(i) + ".log"), &why);
    ASSERT_GT(pid, 0) << "iteration " << i << ": " << why;
    std::mutex mu;
    std::string in_flight;  // GUARDED_BY(mu): the call the kill may interrupt
    std::atomic<bool> stop{false};
    std::thread pinner([&, seed = rng.Next()] {
      Rng r(seed);
      while (!stop) {
        std::string key = snaps[r.Uniform(snaps.size())] + "/" + paths[r.Uniform(paths.size())];
        std::string file = mnt + "/alice/" + key;
        bool pin;
        {
          std::lock_guard<std::mutex> lock(mu);
          pin = !want[key];
          in_flight = key;
        }
        int rc = pin ? ::setxattr(file.c_str(), "user.keepfs.pin", "1", 1, 0)
                     : ::removexattr(file.c_str(), "user.keepfs.pin");
        std::lock_guard<std::mutex> lock(mu);
        if (rc != 0) return;  // the mount is gone: ENOTCONN or ECONNABORTED
        want[key] = pin;
        in_flight.clear();
        ++acknowledged;
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng.Uniform(400)));
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    stop = true;
    pinner.join();
    ASSERT_EQ(::umount2(mnt.c_str(), MNT_DETACH), 0) << "iteration " << i;
    {
      auto s = Store::Open(store, OpenMode::kReadWrite);
      ASSERT_OK(s);
      ExpectRefsConsistent(s->get());
      for (auto& [key, pinned] : want) {
        size_t slash = key.find('/');
        auto found = snapshot::FindPin(s->get(), "alice", key.substr(0, slash), key.substr(slash + 1));
        ASSERT_OK(found);
        if (key == in_flight) {
          pinned = found->has_value();  // interrupted: either outcome is whole
          ++interrupted;
          continue;
        }
        EXPECT_EQ(found->has_value(), pinned) << "iteration " << i << ": " << key;
      }
    }
    CliRun audit = RunCli({"audit", "--store", store, "--dry-run"});
    ASSERT_EQ(audit.code, 0) << "iteration " << i << ":\n" << audit.out << audit.err;
    CliRun check = RunCli({"check", "--store", store});
    ASSERT_EQ(check.code, 0) << "iteration " << i << ":\n" << check.out << check.err;
  }
  EXPECT_GT(acknowledged, iterations) << "too few pins went through the mount to mean anything";
  EXPECT_GT(interrupted, 0) << "no kill landed during a pin or unpin";
  // Pinned files keep their snapshot through a prune that keeps only the
  // newest: the older ones become husks holding exactly the pinned paths.
  ASSERT_EQ(RunCli({"prune", "--store", store, "-q", "--keep-last", "1"}).code, 0);
  auto s = Store::Open(store, OpenMode::kReadWrite);
  ASSERT_OK(s);
  ExpectRefsConsistent(s->get());
  auto pins = snapshot::ListPins(s->get(), "alice");
  ASSERT_OK(pins);
  size_t want_pins = 0;
  for (const auto& [key, pinned] : want) want_pins += pinned ? 1 : 0;
  EXPECT_EQ(pins->size(), want_pins);
}

}  // namespace
}  // namespace keepfs::testing
