// The CLI's contract: exit codes, one-line errors that say what to do, JSON
// output, the store lock, and KEEPFS_STORE.
#include <gtest/gtest.h>

#include <fstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "store/file_util.h"
#include "store/pack.h"
#include "tests/testing/every_kind_tree.h"
#include "tests/testing/test_util.h"
#include "tests/tools/cli_test_util.h"
#include "tools/cli/cli.h"

namespace keepfs::testing {
namespace {

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = dir_.Join("store");
    src_ = dir_.Join("src");
    ASSERT_EQ(::mkdir(src_.c_str(), 0755), 0);
    ASSERT_TRUE(WriteFile(src_ + "/a.txt", "hello\n").ok());
    ASSERT_TRUE(WriteFile(src_ + "/big.bin", RandomBytes(3 << 20, 7)).ok());
    ASSERT_EQ(RunCli({"init", "--store", store_, "-q"}).code, 0);
  }
  TempDir dir_;
  std::string store_, src_;
};

TEST_F(CliTest, BackupPrintsSnapshotNameAndListsIt) {
  CliRun b = RunCli({"backup", "--store", store_, "--user", "alice", "--time",
                     "2026-10-01T03:00:00Z", src_});
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_EQ(b.out, "2026-10-01_030000\n");
  CliRun again = RunCli({"backup", "--store", store_, "--user", "alice", "--time",
                         "2026-10-01T03:00:00Z", src_});
  EXPECT_EQ(again.out, "2026-10-01_030000_1\n");
  CliRun s = RunCli({"snapshots", "--store", store_, "--json"});
  ASSERT_EQ(s.code, 0) << s.err;
  EXPECT_NE(s.out.find("\"name\":\"2026-10-01_030000_1\""), std::string::npos) << s.out;
  CliRun cat = RunCli({"cat", "--store", store_, "--user", "alice", "latest", "a.txt"});
  EXPECT_EQ(cat.code, 0);
  EXPECT_EQ(cat.out, "hello\n");
}

TEST_F(CliTest, JsonSummaryHasTheDocumentedFields) {
  CliRun b = RunCli({"backup", "--store", store_, "--user", "alice", "--json", src_});
  ASSERT_EQ(b.code, 0) << b.err;
  for (const char* f : {"\"snapshot\":", "\"files\":2", "\"bytes_read\":", "\"bytes_new\":",
                        "\"bytes_stored\":", "\"duration_s\":", "\"errors\":[]"}) {
    EXPECT_NE(b.out.find(f), std::string::npos) << f << " missing in " << b.out;
  }
}

TEST_F(CliTest, StoreFromEnvironment) {
  ::setenv("KEEPFS_STORE", store_.c_str(), 1);
  CliRun b = RunCli({"backup", "--user", "bob", src_});
  ::unsetenv("KEEPFS_STORE");
  EXPECT_EQ(b.code, 0) << b.err;
}

struct ErrorCase {
  std::vector<std::string> args;
  int code;
  std::string must_say;
};

TEST_F(CliTest, BadInputGetsOneLineErrorAndExitCode) {
  ASSERT_EQ(RunCli({"backup", "--store", store_, "--user", "alice", src_}).code, 0);
  std::vector<ErrorCase> cases = {
      {{"ls", "--store", dir_.Join("nope"), "--user", "alice", "latest"}, 1, "keepfs init"},
      {{"ls", "--store", src_, "--user", "alice", "latest"}, 1, "not a keepfs store"},
      {{"ls", "--store", store_, "--user", "carol", "latest"}, 1, "users: alice"},
      {{"ls", "--store", store_, "--user", "alice", "2020-01-01_000000"}, 1, "keepfs snapshots"},
      {{"ls", "--store", store_, "--user", "alice", "yesterday"}, 1, "not a snapshot name"},
      {{"ls", "--store", store_, "--user", "alice", "latest", "no/such"}, 1, "does not exist"},
      {{"cat", "--store", store_, "--user", "alice", "latest", ""}, 1, "not a file"},
      {{"backup", "--store", store_, "--user", "Alice", src_}, 1, "invalid user name"},
      {{"backup", "--store", store_, "--user", "alice", dir_.Join("missing")}, 1, "cannot back up"},
      {{"backup", "--store", store_, "--user", "alice", "--time", "soon", src_}, 1, "cannot parse"},
      {{"backup", "--store", store_, src_}, 2, "--user"},
      {{"frobnicate"}, 2, "keepfs --help"},
      {{"ls", "--user", "alice", "latest"}, 1, "--store"},
      {{"init", "--store", store_}, 1, "already holds"},
  };
  for (const auto& c : cases) {
    CliRun r = RunCli(c.args);
    std::string joined;
    for (const auto& a : c.args) joined += a + " ";
    EXPECT_EQ(r.code, c.code) << joined << "\n" << r.err;
    EXPECT_NE(r.err.find(c.must_say), std::string::npos) << joined << "\nstderr: " << r.err;
    EXPECT_TRUE(r.out.empty()) << joined;
  }
}

TEST_F(CliTest, HelpIsCompleteForEveryCommand) {
  CliRun top = RunCli({"--help"});
  EXPECT_EQ(top.code, 0);
  for (const char* cmd : {"init", "backup", "snapshots", "ls", "cat", "diff", "restore", "check",
                          "stats", "user", "usage", "forget", "undelete", "prune", "pin", "unpin",
                          "pins", "gc", "audit", "share", "store-backup", "store-restore", "repair", "spool-ingest",
                          "mount", "umount", "serve", "status", "admit", "run-job", "versions"}) {
    EXPECT_NE(top.out.find(cmd), std::string::npos) << cmd;
    CliRun h = RunCli({cmd, "--help"});
    EXPECT_EQ(h.code, 0) << cmd;
    EXPECT_NE(h.out.find("Usage"), std::string::npos) << cmd << ": " << h.out;
  }
}

TEST_F(CliTest, RepairQuarantinesWhatItCannotMendThenMendsItFromAStoreBackup) {
  ASSERT_EQ(RunCli({"backup", "--store", store_, "--user", "alice", "-q", src_}).code, 0);
  const std::string copy = dir_.Join("copy");
  ASSERT_EQ(RunCli({"store-backup", "--store", store_, copy}).code, 0);
  ASSERT_OK(UnshareFiles(copy + "/packs"));  // as on another disk
  std::string pack;
  for (const auto& e : std::filesystem::recursive_directory_iterator(store_ + "/packs")) {
    if (e.is_regular_file()) pack = e.path().string();
  }
  ASSERT_FALSE(pack.empty());
  ASSERT_OK(FlipByte(pack, 100));  // inside big.bin's first chunk

  CliRun alone = RunCli({"repair", "--store", store_, "--json"});
  EXPECT_EQ(alone.code, 1) << alone.out << alone.err;
  EXPECT_NE(alone.out.find("\"outcome\":\"unrepaired\""), std::string::npos) << alone.out;
  EXPECT_NE(alone.out.find("\"path\":\"big.bin\""), std::string::npos) << alone.out;
  EXPECT_NE(alone.out.find("\"quarantined_paths\":1"), std::string::npos) << alone.out;
  CliRun listed = RunCli({"snapshots", "--store", store_});
  EXPECT_NE(listed.out.find("[DAMAGED: 1 path]"), std::string::npos) << listed.out;
  EXPECT_NE(RunCli({"snapshots", "--store", store_, "--json"}).out.find("\"damaged\":1"), std::string::npos);
  CliRun cat = RunCli({"cat", "--store", store_, "--user", "alice", "latest", "big.bin"});
  EXPECT_NE(cat.code, 0) << "a quarantined file is an error, never zeros";

  CliRun dry = RunCli({"repair", "--store", store_, "--from", copy, "--dry-run"});
  EXPECT_EQ(dry.code, 0) << dry.out << dry.err;
  EXPECT_NE(dry.out.find("would repair"), std::string::npos) << dry.out;
  CliRun mend = RunCli({"repair", "--store", store_, "--from", copy});
  EXPECT_EQ(mend.code, 0) << mend.out << mend.err;
  EXPECT_NE(mend.out.find("repaired: chunk"), std::string::npos) << mend.out;
  EXPECT_NE(mend.out.find("from mirror " + copy), std::string::npos) << mend.out;
  EXPECT_EQ(RunCli({"snapshots", "--store", store_}).out.find("DAMAGED"), std::string::npos);
  EXPECT_EQ(RunCli({"check", "--store", store_, "--verify-data"}).code, 0);
  cat = RunCli({"cat", "--store", store_, "--user", "alice", "latest", "big.bin"});
  EXPECT_EQ(cat.code, 0);
  EXPECT_TRUE(cat.out == RandomBytes(3 << 20, 7));
  CliRun bad = RunCli({"repair", "--store", store_, "--from", src_});
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("neither a keepfs store nor a keepfs store-backup copy"), std::string::npos)
      << bad.err;
}

TEST_F(CliTest, DiffListsAddedRemovedChanged) {
  ASSERT_EQ(RunCli({"backup", "--store", store_, "--user", "alice", "--time", "2026-10-01", src_})
                .code,
            0);
  ASSERT_TRUE(WriteFile(src_ + "/new.txt", "new").ok());
  ASSERT_EQ(::unlink((src_ + "/a.txt").c_str()), 0);
  ASSERT_TRUE(WriteFile(src_ + "/big.bin", RandomBytes(3 << 20, 8)).ok());
  ASSERT_EQ(RunCli({"backup", "--store", store_, "--user", "alice", "--time", "2026-10-02", src_})
                .code,
            0);
  CliRun d = RunCli({"diff", "--store", store_, "--user", "alice", "2026-10-01_000000", "latest"});
  ASSERT_EQ(d.code, 0) << d.err;
  EXPECT_NE(d.out.find("- a.txt"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("+ new.txt"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("M big.bin  (content"), std::string::npos) << d.out;
}

TEST_F(CliTest, VersionsListsEachDistinctVersionOfAFile) {
  for (const char* day : {"2026-10-01", "2026-10-02", "2026-10-03"}) {
    if (std::string(day) == "2026-10-03") {
      ASSERT_TRUE(WriteFile(src_ + "/big.bin", RandomBytes(1000, 9)).ok());
    }
    ASSERT_EQ(RunCli({"backup", "--store", store_, "--user", "alice", "--time", day, "-q", src_}).code, 0);
  }
  CliRun v = RunCli({"versions", "--store", store_, "--user", "alice", "big.bin", "--json"});
  ASSERT_EQ(v.code, 0) << v.err;
  // Two versions: days 1 and 2 hold the first, day 3 the second.
  EXPECT_EQ(v.out.find("\"name\":", v.out.find("\"name\":", v.out.find("\"name\":") + 1) + 1),
            std::string::npos) << v.out;
  EXPECT_NE(v.out.find("[{\"name\":\"2026-10-01_000000.bin\",\"type\":\"file\",\"size\":3145728,"),
            std::string::npos) << v.out;
  EXPECT_NE(v.out.find(",\"first_snapshot\":\"2026-10-01_000000\",\"last_snapshot\":"
                       "\"2026-10-02_000000\",\"snapshots\":2}"),
            std::string::npos) << v.out;
  EXPECT_NE(v.out.find("{\"name\":\"2026-10-03_000000.bin\",\"type\":\"file\",\"size\":1000,"),
            std::string::npos) << v.out;
  CliRun text = RunCli({"versions", "--store", store_, "--user", "alice", "big.bin"});
  EXPECT_EQ(text.code, 0);
  EXPECT_NE(text.out.find("2026-10-01_000000.bin  3.0 MiB"), std::string::npos) << text.out;
  EXPECT_EQ(RunCli({"versions", "--store", store_, "--user", "alice", "nothing"}).code, 1);
}

// A file deleted after a backup shows with the snapshot that last held it;
// the default window (30 days before now) leaves out snapshots of 2020.
TEST_F(CliTest, DeletedListsWhatTheNewestSnapshotLacks) {
  ASSERT_OK(WriteFile(src_ + "/gone.txt", "bye"));
  ASSERT_EQ(RunCli({"backup", "--store", store_, "--user", "alice", "--time", "2020-05-01", "-q", src_}).code, 0);
  ASSERT_EQ(::unlink((src_ + "/gone.txt").c_str()), 0);
  ASSERT_EQ(RunCli({"backup", "--store", store_, "--user", "alice", "--time", "2020-05-02", "-q", src_}).code, 0);
  CliRun all = RunCli({"deleted", "--store", store_, "--user", "alice", "--since", "36500d", "--json"});
  ASSERT_EQ(all.code, 0) << all.err;
  EXPECT_NE(all.out.find("{\"latest\":\"2020-05-02_000000\","), std::string::npos) << all.out;
  EXPECT_NE(all.out.find("{\"path\":\"gone.txt\",\"type\":\"file\",\"snapshot\":"
                         "\"2020-05-01_000000\",\"last_seen\":1588291200,"),
            std::string::npos) << all.out;
  EXPECT_NE(all.out.find("\"files\":1,\"bytes\":3}]}"), std::string::npos) << all.out;
  CliRun text = RunCli({"deleted", "--store", store_, "--user", "alice", "--since", "36500d"});
  EXPECT_EQ(text.code, 0);
  EXPECT_NE(text.out.find("gone.txt  3 B  last seen 2020-05-01_000000"), std::string::npos) << text.out;
  CliRun recent = RunCli({"deleted", "--store", store_, "--user", "alice", "--json"});
  EXPECT_EQ(recent.code, 0);
  EXPECT_NE(recent.out.find("\"entries\":[]}"), std::string::npos) << recent.out;
  CliRun bad = RunCli({"deleted", "--store", store_, "--user", "alice", "--since", "soon"});
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("--since soon: give a duration"), std::string::npos) << bad.err;
}

// Two users back up the same 3 MiB file: each is charged half of it, and the
// quota from [retention.USER] shows with its percentage.
TEST_F(CliTest, UsageSplitsSharedDataAndShowsTheQuota) {
  ASSERT_EQ(RunCli({"backup", "--store", store_, "--user", "alice", src_}).code, 0);
  std::string bob_src = dir_.Join("bob");
  ASSERT_EQ(::mkdir(bob_src.c_str(), 0755), 0);
  ASSERT_OK(WriteFile(bob_src + "/copy.bin", RandomBytes(3 << 20, 7)));
  ASSERT_EQ(RunCli({"backup", "--store", store_, "--user", "bob", bob_src}).code, 0);
  {
    std::ofstream config(store_ + "/config.toml", std::ios::app);
    config << "\n[retention.bob]\nquota = \"3MiB\"\n";
  }
  CliRun u = RunCli({"usage", "--store", store_, "--json"});
  ASSERT_EQ(u.code, 0) << u.err;
  // big.bin is random: stored as is, 3 MiB, held by both.
  EXPECT_NE(u.out.find("{\"user\":\"bob\",\"snapshots\":1,\"husks\":0,"
                       "\"logical_newest\":3145728,\"logical_all\":3145728,\"exclusive\":0,"
                       "\"shared\":3145728,\"charged\":1572864,\"pins\":0,\"pinned\":0,"
                       "\"quota\":3145728,\"quota_percent\":50.0}"),
            std::string::npos)
      << u.out;
  EXPECT_NE(u.out.find("\"user\":\"alice\""), std::string::npos) << u.out;
  EXPECT_NE(u.out.find("\"shared\":3145728,\"charged\":"), std::string::npos) << u.out;
  CliRun text = RunCli({"usage", "--store", store_, "--user", "bob"});
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_NE(text.out.find("charged   1.5 MiB of 3.0 MiB quota (50.0%)"), std::string::npos)
      << text.out;
  EXPECT_EQ(RunCli({"usage", "--store", store_, "--user", "carol"}).code, 1);
}

// prune --dry-run prints exactly what the real run then does; forget removes
// named snapshots; errors name what is wrong.
TEST_F(CliTest, PruneDryRunMatchesTheRealRunAndForgetRemovesByName) {
  for (int d = 1; d <= 5; ++d) {
    ASSERT_OK(WriteFile(src_ + "/day.bin", RandomBytes(100000, static_cast<uint64_t>(d))));
    std::string t = "2026-10-0" + std::to_string(d) + "T03:00:00Z";
    ASSERT_EQ(RunCli({"backup", "--store", store_, "--user", "alice", "--time", t, src_}).code, 0);
  }
  std::vector<std::string> prune = {"prune", "--store", store_, "--json", "--keep-last", "2",
                                    "--keep-within", "0", "--keep-monthly", "0",
                                    "--now", "2026-11-22T00:00:00Z"};
  std::vector<std::string> dry = prune;
  dry.push_back("--dry-run");
  CliRun plan = RunCli(dry);
  ASSERT_EQ(plan.code, 0) << plan.err;
  EXPECT_NE(plan.out.find("{\"name\":\"2026-10-03_030000\",\"fate\":\"forget\",\"reasons\":"
                          "[\"no rule keeps it\"],\"frees\":"),
            std::string::npos)
      << plan.out;
  EXPECT_NE(plan.out.find("\"fate\":\"keep\",\"reasons\":[\"newest\",\"last 2\"]"),
            std::string::npos)
      << plan.out;
  CliRun real = RunCli(prune);
  ASSERT_EQ(real.code, 0) << real.err;
  EXPECT_EQ(real.out, plan.out) << "a dry run and a real run agree exactly";
  CliRun left = RunCli({"snapshots", "--store", store_, "--json"});
  EXPECT_EQ(left.out.find("2026-10-03_030000"), std::string::npos) << left.out;
  EXPECT_NE(left.out.find("2026-10-04_030000"), std::string::npos) << left.out;

  CliRun forget = RunCli({"forget", "--store", store_, "--user", "alice", "latest"});
  ASSERT_EQ(forget.code, 0) << forget.err;
  EXPECT_NE(forget.err.find("forgot alice latest"), std::string::npos) << forget.err;
  CliRun one = RunCli({"snapshots", "--store", store_, "--user", "alice"});
  EXPECT_EQ(one.out.find("2026-10-05_030000"), std::string::npos) << one.out;
  EXPECT_NE(one.out.find("2026-10-04_030000"), std::string::npos) << one.out;
  CliRun missing = RunCli({"forget", "--store", store_, "--user", "alice", "2026-10-05_030000"});
  EXPECT_EQ(missing.code, 1);
  // A user with no snapshots (only added, or all forgotten) is an empty plan.
  ASSERT_EQ(RunCli({"user", "add", "--store", store_, "bob", "--uid", "4321", "-q"}).code, 0);
  CliRun all = RunCli({"prune", "--store", store_, "-n"});
  EXPECT_EQ(all.code, 0) << all.err;
  EXPECT_NE(all.out.find("bob ("), std::string::npos) << all.out;
  CliRun unknown = RunCli({"prune", "--store", store_, "-n", "--user", "carol"});
  EXPECT_EQ(unknown.code, 1);
  EXPECT_NE(unknown.err.find("users: alice, bob"), std::string::npos) << unknown.err;
  CliRun bad_rule = RunCli({"prune", "--store", store_, "-n", "--keep-daily", "lots"});
  EXPECT_EQ(bad_rule.code, 1);
  EXPECT_NE(bad_rule.err.find("keep-daily"), std::string::npos) << bad_rule.err;
}

// Quota pruning with data shared between two users and a pin: the shared
// file is charged half to each, the pinned snapshot becomes a husk that keeps
// the pinned file, the dry run and the real run print the same plan, and
// forgotten snapshots can be listed and undeleted.
TEST_F(CliTest, QuotaPruneWithSharedDataAndAPinLeavesAHusk) {
  const std::string store = store_;
  for (int d = 1; d <= 4; ++d) {
    ASSERT_OK(WriteFile(src_ + "/day.bin", RandomBytes(1 << 20, static_cast<uint64_t>(d))));
    std::string t = "2026-10-0" + std::to_string(d) + "T03:00:00Z";
    ASSERT_EQ(RunCli({"backup", "--store", store, "--user", "alice", "--time", t, src_}).code, 0);
  }
  std::string bob_src = dir_.Join("bob");
  ASSERT_EQ(::mkdir(bob_src.c_str(), 0755), 0);
  ASSERT_OK(WriteFile(bob_src + "/copy.bin", RandomBytes(3 << 20, 7)));  // alice's big.bin
  ASSERT_EQ(RunCli({"backup", "--store", store, "--user", "bob", bob_src}).code, 0);
  {
    std::ofstream config(store + "/config.toml", std::ios::app);
    config << "\n[retention.alice]\nkeep-within = \"0\"\nkeep-monthly = 0\nkeep-daily = 10\n"
              "quota = \"4MiB\"\n";
  }
  CliRun pin = RunCli({"pin", "--store", store, "--user", "alice", "2026-10-01_030000", "day.bin"});
  ASSERT_EQ(pin.code, 0) << pin.err;
  CliRun nopath = RunCli({"pin", "--store", store, "--user", "alice", "latest", "nope"});
  EXPECT_EQ(nopath.code, 1);
  EXPECT_NE(nopath.err.find("no 'nope' in alice"), std::string::npos) << nopath.err;

  std::vector<std::string> prune = {"prune", "--store", store, "--user", "alice", "--json",
                                    "--now", "2026-10-10T00:00:00Z"};
  std::vector<std::string> dry = prune;
  dry.push_back("-n");
  CliRun plan = RunCli(dry);
  ASSERT_EQ(plan.code, 0) << plan.err;
  const uint64_t mib = 1 << 20;
  // Oldest first until alice is under 4 MiB: day 1 keeps its pinned file (a
  // husk, frees nothing), days 2 and 3 free their own 1 MiB each.
  for (const std::string& want :
       {std::string("{\"name\":\"2026-10-01_030000\",\"fate\":\"husk\",\"reasons\":"
                    "[\"over quota\",\"pinned: 1 path\"],\"frees\":0}"),
        "{\"name\":\"2026-10-02_030000\",\"fate\":\"forget\",\"reasons\":[\"over quota\"],"
        "\"frees\":" + std::to_string(mib) + "}",
        "{\"name\":\"2026-10-03_030000\",\"fate\":\"forget\",\"reasons\":[\"over quota\"],"
        "\"frees\":" + std::to_string(mib) + "}",
        std::string("\"over_quota\":false")}) {
    EXPECT_NE(plan.out.find(want), std::string::npos) << want << " in " << plan.out;
  }
  CliRun real = RunCli(prune);
  ASSERT_EQ(real.code, 0) << real.err;
  EXPECT_EQ(real.out, plan.out) << "a dry run and a real run agree exactly";

  CliRun snaps = RunCli({"snapshots", "--store", store, "--user", "alice"});
  EXPECT_NE(snaps.out.find("[husk since"), std::string::npos) << snaps.out;
  EXPECT_EQ(snaps.out.find("2026-10-02_030000"), std::string::npos) << snaps.out;
  CliRun cat = RunCli({"cat", "--store", store, "--user", "alice", "2026-10-01_030000", "day.bin"});
  ASSERT_EQ(cat.code, 0) << cat.err;
  EXPECT_TRUE(cat.out == RandomBytes(1 << 20, 1)) << "the pinned day-1 file, byte for byte";
  CliRun gone = RunCli({"cat", "--store", store, "--user", "alice", "2026-10-01_030000", "a.txt"});
  EXPECT_EQ(gone.code, 1) << "a husk keeps only what is pinned";

  // Charged: half of the 3 MiB shared with bob, day 1's pinned file, day 4's
  // file, and a.txt's tiny inline record.
  CliRun usage = RunCli({"usage", "--store", store, "--user", "alice", "--json"});
  ASSERT_EQ(usage.code, 0) << usage.err;
  EXPECT_NE(usage.out.find("\"snapshots\":2,\"husks\":1,"), std::string::npos) << usage.out;
  EXPECT_NE(usage.out.find("\"shared\":" + std::to_string(3 * mib) + ","), std::string::npos)
      << usage.out;
  EXPECT_NE(usage.out.find("\"pins\":1,\"pinned\":" + std::to_string(mib) + ","),
            std::string::npos)
      << usage.out;
  size_t at = usage.out.find("\"charged\":");
  ASSERT_NE(at, std::string::npos);
  uint64_t charged = std::stoull(usage.out.substr(at + 10));
  EXPECT_GE(charged, 3 * mib + mib / 2);
  EXPECT_LT(charged, 3 * mib + mib / 2 + 100) << usage.out;
  CliRun pins = RunCli({"pins", "--store", store, "--json"});
  EXPECT_NE(pins.out.find("\"path\":\"day.bin\",\"type\":\"file\""), std::string::npos)
      << pins.out;
  EXPECT_NE(pins.out.find("\"husk\":true"), std::string::npos) << pins.out;

  CliRun deleted = RunCli({"snapshots", "--store", store, "--deleted", "--user", "alice", "--json"});
  ASSERT_EQ(deleted.code, 0) << deleted.err;
  EXPECT_NE(deleted.out.find("\"name\":\"2026-10-01_030000\",\"deleted\":"), std::string::npos);
  EXPECT_NE(deleted.out.find("\"husk_left\":true"), std::string::npos) << deleted.out;
  EXPECT_NE(deleted.out.find("\"name\":\"2026-10-03_030000\""), std::string::npos);
  CliRun undel = RunCli({"undelete", "--store", store, "--user", "alice", "2026-10-02_030000"});
  ASSERT_EQ(undel.code, 0) << undel.err;
  CliRun back = RunCli({"cat", "--store", store, "--user", "alice", "2026-10-02_030000", "day.bin"});
  EXPECT_TRUE(back.out == RandomBytes(1 << 20, 2)) << "undeleted whole";
  CliRun twice = RunCli({"undelete", "--store", store, "--user", "alice", "2026-10-02_030000"});
  EXPECT_EQ(twice.code, 1);
  EXPECT_NE(twice.err.find("snapshots --deleted"), std::string::npos) << twice.err;

  // A husk that holds pins cannot be forgotten; unpinned, it can.
  CliRun refuse = RunCli({"forget", "--store", store, "--user", "alice", "2026-10-01_030000"});
  EXPECT_EQ(refuse.code, 1);
  EXPECT_NE(refuse.err.find("unpin them first"), std::string::npos) << refuse.err;
  ASSERT_EQ(RunCli({"unpin", "--store", store, "--user", "alice", "2026-10-01_030000",
                    "/day.bin"}).code, 0);
  CliRun forget = RunCli({"forget", "--store", store, "--user", "alice", "2026-10-01_030000"});
  EXPECT_EQ(forget.code, 0) << forget.err;
  CliRun none = RunCli({"pins", "--store", store, "--user", "alice"});
  EXPECT_EQ(none.code, 0);
  EXPECT_EQ(none.out, "");
  EXPECT_NE(none.err.find("no pins for alice"), std::string::npos) << none.err;
}

TEST_F(CliTest, SecondWriterIsToldWhoHoldsTheStore) {
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Hold the store open for writing until the parent is done.
    auto store = Store::Open(store_, OpenMode::kReadWrite);
    char c = store.ok() ? 'y' : 'n';
    (void)!::write(pipefd[1], &c, 1);
    ::sleep(30);
    ::_exit(0);
  }
  char c = 0;
  ASSERT_EQ(::read(pipefd[0], &c, 1), 1);
  ASSERT_EQ(c, 'y');
  CliRun r = RunCli({"backup", "--store", store_, "--user", "alice", src_});
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("in use by PID " + std::to_string(child)), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("LOCK"), std::string::npos) << "leaks a RocksDB lock message: " << r.err;
}

TEST_F(CliTest, UnreadableFileCommitsAndExitsThree) {
  // Root reads everything, so run the backup as nobody: the binary, through
  // setpriv (a fork without exec of this multi-threaded test could inherit a
  // lock some RocksDB thread held at the fork).
  ASSERT_TRUE(WriteFile(src_ + "/secret", "x", 0000).ok());
  ASSERT_EQ(::chmod(src_.c_str(), 0755), 0);
  ASSERT_EQ(std::system(("chmod -R a+rwX " + dir_.path()).c_str()), 0);
  ASSERT_EQ(::chmod((src_ + "/secret").c_str(), 0000), 0);
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch to an unprivileged user";
  std::string err = dir_.Join("backup-err.txt");
  int status = std::system(("setpriv --reuid=65534 --regid=65534 --clear-groups " KEEPFS_BINARY
                            " backup --store " + store_ + " --user alice " + src_ +
                            " >/dev/null 2>" + err).c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 3);
  ASSERT_OK_AND_ASSIGN(std::string err_text, ReadFile(err));
  EXPECT_NE(err_text.find("secret"), std::string::npos) << err_text;
  CliRun ls = RunCli({"ls", "--store", store_, "--user", "alice", "latest"});
  EXPECT_EQ(ls.code, 0) << ls.err;
  EXPECT_NE(ls.out.find("a.txt"), std::string::npos);
  EXPECT_EQ(ls.out.find("secret"), std::string::npos);
}

// store-restore through the command line: a damaged pack in the copy stops
// it (exit 1, the file named), and then the half-restored store is refused
// by every command, `keepfs mount` included, with the way out; --resume
// finishes it (exit 0, the JSON summary), and the store is whole.
TEST_F(CliTest, StoreRestoreStopsOnADamagedCopyAndMountRefusesTheHalfRestoredStore) {
  ASSERT_EQ(RunCli({"backup", "--store", store_, "--user", "alice", "-q", src_}).code, 0);
  const std::string backup = dir_.Join("backup"), restored = dir_.Join("restored");
  ASSERT_EQ(RunCli({"store-backup", "--store", store_, "-q", backup}).code, 0);
  // As the marker names it.
  const std::string real_backup = std::filesystem::canonical(backup).string();
  const std::vector<uint64_t> packs = ListPackFiles(backup);
  ASSERT_FALSE(packs.empty());
  const std::string rel = PackRelPath(packs.front());
  const std::string pack = backup + "/" + rel;
  ASSERT_OK_AND_ASSIGN(std::string good, ReadFile(pack));
  ASSERT_EQ(::unlink(pack.c_str()), 0);  // a hard link of the store's: damage the copy alone
  ASSERT_OK(WriteFile(pack, good));
  ASSERT_OK(FlipByte(pack, good.size() / 2));

  CliRun bad = RunCli({"store-restore", backup, restored, "--json"});
  EXPECT_EQ(bad.code, 1);
  EXPECT_TRUE(bad.out.empty()) << bad.out;
  EXPECT_NE(bad.err.find(rel + ": its SHA-256 differs from the MANIFEST"), std::string::npos)
      << bad.err;
  ASSERT_TRUE(PathExists(restored + "/RESTORING"));
  const std::string resume = "finish it with: keepfs store-restore --resume " + real_backup + " ";
  CliRun ls = RunCli({"ls", "--store", restored, "--user", "alice", "latest"});
  EXPECT_EQ(ls.code, 1);
  EXPECT_NE(ls.err.find("is half-restored from " + real_backup), std::string::npos) << ls.err;
  EXPECT_NE(ls.err.find(resume), std::string::npos) << ls.err;
  const std::string mp = dir_.Join("mnt");
  ASSERT_EQ(::mkdir(mp.c_str(), 0755), 0);
  int code = 0;
  std::string said = Shell(std::string(KEEPFS_BINARY) + " --store " + restored + " mount " + mp +
                               " 2>&1",
                           &code);
  EXPECT_TRUE(WIFEXITED(code) && WEXITSTATUS(code) == 1) << said;
  EXPECT_NE(said.find("is half-restored from " + real_backup), std::string::npos) << said;
  EXPECT_NE(said.find(resume), std::string::npos) << said;
  CliRun fresh = RunCli({"store-restore", backup, restored});
  EXPECT_EQ(fresh.code, 1);
  EXPECT_NE(fresh.err.find("continue it with: keepfs store-restore --resume"), std::string::npos)
      << fresh.err;

  ASSERT_OK(WriteFile(pack, good));
  CliRun done = RunCli({"store-restore", "--resume", backup, restored, "--json"});
  ASSERT_EQ(done.code, 0) << done.err;
  for (const char* field : {"\"resumed\":true", "\"generation\":1", "\"packs_copied\":",
                            "\"packs_skipped\":", "\"bytes_copied\":", "\"problems\":0",
                            "\"damaged_snapshots\":[]", "\"ok\":true"}) {
    EXPECT_NE(done.out.find(field), std::string::npos) << field << " missing in " << done.out;
  }
  EXPECT_FALSE(PathExists(restored + "/RESTORING"));
  CliRun check = RunCli({"check", "--store", restored, "--verify-data"});
  EXPECT_EQ(check.code, 0) << check.out << check.err;
  CliRun cat = RunCli({"cat", "--store", restored, "--user", "alice", "latest", "a.txt"});
  EXPECT_EQ(cat.out, "hello\n");
  CliRun again = RunCli({"store-restore", backup, restored});
  EXPECT_EQ(again.code, 1);
  EXPECT_NE(again.err.find("--replace"), std::string::npos) << again.err;
}

// The audit's verdict through the command line: a copy without one of its
// packs restores, but the damaged snapshot is named and the exit code is 1.
TEST_F(CliTest, StoreRestoreNamesTheSnapshotsItCannotServeAndExitsOne) {
  ASSERT_EQ(RunCli({"backup", "--store", store_, "--user", "alice", "--time",
                    "2026-10-01T03:00:00Z", "-q", src_})
                .code,
            0);
  const std::string backup = dir_.Join("backup"), restored = dir_.Join("restored");
  ASSERT_EQ(RunCli({"store-backup", "--store", store_, "-q", backup}).code, 0);
  // Drop a pack from the copy and from its MANIFEST: a consistent copy that lacks data.
  const std::string rel = PackRelPath(ListPackFiles(backup).front());
  ASSERT_EQ(::unlink((backup + "/" + rel).c_str()), 0);
  ASSERT_OK_AND_ASSIGN(std::string manifest, ReadFile(backup + "/MANIFEST"));
  size_t at = manifest.find("file " + rel + " ");
  ASSERT_NE(at, std::string::npos);
  manifest.erase(at, manifest.find('\n', at) + 1 - at);
  ASSERT_OK(WriteFile(backup + "/MANIFEST", manifest));

  CliRun r = RunCli({"store-restore", backup, restored});
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("damaged snapshot: alice/2026-10-01_030000"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  affects big.bin"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("audit: DAMAGED"), std::string::npos) << r.out;
  EXPECT_FALSE(PathExists(restored + "/RESTORING"));
  CliRun cat = RunCli({"cat", "--store", restored, "--user", "alice", "latest", "a.txt"});
  EXPECT_EQ(cat.out, "hello\n") << "the rest of the store serves";
}

// ENOSPC for real: a store on a small tmpfs. The backup that does not fit
// fails with a clear error and leaves the store exactly as it was; once
// space is back the next backup works.
TEST(CliNoSpaceTest, FullDiskLeavesTheStoreAsItWas) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs";
  TempDir dir;
  std::string mnt = dir.Join("small"), src = dir.Join("src"), big = dir.Join("big");
  ASSERT_EQ(::mkdir(mnt.c_str(), 0755), 0);
  if (std::system(("mount -t tmpfs -o size=24m tmpfs " + mnt + " 2>/dev/null").c_str()) != 0) {
    GTEST_SKIP() << "cannot mount tmpfs here (no CAP_SYS_ADMIN?)";
  }
  struct Unmount {
    std::string m;
    ~Unmount() { (void)std::system(("umount -l " + m).c_str()); }
  } unmount{mnt};
  std::string store = mnt + "/store";
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(big.c_str(), 0755), 0);
  ASSERT_TRUE(WriteFile(src + "/a.txt", "small and safe\n").ok());
  ASSERT_TRUE(WriteFile(big + "/noise.bin", RandomBytes(40 << 20, 3)).ok());  // incompressible
  ASSERT_EQ(RunCli({"init", "--store", store, "-q"}).code, 0);
  CliRun first = RunCli({"backup", "--store", store, "--user", "alice", "--time",
                         "2026-10-01T03:00:00Z", src});
  ASSERT_EQ(first.code, 0) << first.err;

  CliRun full = RunCli({"backup", "--store", store, "--user", "alice", big});
  EXPECT_EQ(full.code, 1) << full.out;
  EXPECT_NE(full.err.find("No space left"), std::string::npos) << full.err;
  EXPECT_NE(full.err.find("Free space"), std::string::npos) << "no advice: " << full.err;

  CliRun snaps = RunCli({"snapshots", "--store", store, "--user", "alice", "--json"});
  ASSERT_EQ(snaps.code, 0) << snaps.err;
  EXPECT_NE(snaps.out.find("2026-10-01_030000"), std::string::npos);
  EXPECT_EQ(snaps.out.find("\"name\"", snaps.out.find("2026-10-01_030000") + 20),
            std::string::npos)
      << "the failed backup left a snapshot: " << snaps.out;
  CliRun check = RunCli({"check", "--store", store, "--verify-data"});
  EXPECT_EQ(check.code, 0) << check.out << check.err;
  CliRun cat = RunCli({"cat", "--store", store, "--user", "alice", "latest", "a.txt"});
  EXPECT_EQ(cat.out, "small and safe\n");

  // The failed run's partial pack is gone, so a backup that fits works again.
  ASSERT_TRUE(WriteFile(src + "/b.txt", "more\n").ok());
  CliRun next = RunCli({"backup", "--store", store, "--user", "alice", src});
  EXPECT_EQ(next.code, 0) << next.err;
  CliRun check2 = RunCli({"check", "--store", store});
  EXPECT_EQ(check2.code, 0) << check2.out << check2.err;
}

}  // namespace
}  // namespace keepfs::testing
