// The spool (tools/server/spool.h) with real rsync pushes: a push without a
// flag is never ingested; a flag makes one snapshot timed at its mtime and
// goes only after the commit; a flag a crash left after the commit makes no
// second snapshot; a flag renewed while its push is read commits nothing
// and is ingested on the next pass; a spool directory others could write is
// refused.
#include "tools/server/spool.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "snapshot/repo.h"
#include "store/file_util.h"
#include "tests/testing/test_util.h"
#include "tests/tools/cli_test_util.h"

namespace keepfs::testing {
namespace {

constexpr int64_t kFlagTime = 1790838000;  // 2026-10-01T07:00:00Z

class SpoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_dir_ = tmp_.Join("store");
    ASSERT_EQ(RunCli({"init", "--store", store_dir_, "-q"}).code, 0);
    spool_ = tmp_.Join("spool");
    laptop_ = tmp_.Join("laptop");
    ASSERT_OK(MakeDirs(spool_ + "/alice"));
    ASSERT_EQ(::chmod((spool_ + "/alice").c_str(), 0755), 0);
    ASSERT_OK(MakeDirs(laptop_ + "/docs"));
    ASSERT_OK(WriteFile(laptop_ + "/docs/a.txt", "first\n"));
    ASSERT_OK(WriteFile(laptop_ + "/big.bin", RandomBytes(2 << 20, 5)));
  }

  // What the laptop does: rsync -a --delete, then (optionally) the flag.
  void Push(bool flag, int64_t flag_time = kFlagTime) {
    std::string cmd = "rsync -a --delete " + laptop_ + "/ " + spool_ + "/alice/data/";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    if (flag) Flag(flag_time);
  }
  void Flag(int64_t t) {
    const std::string f = spool_ + "/alice/.done";
    ASSERT_OK(WriteFile(f, ""));
    timespec times[2] = {{t, 0}, {t, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, f.c_str(), times, 0), 0);
  }
  bool FlagUp() { return PathExists(spool_ + "/alice/.done"); }
  std::vector<snapshot::SnapshotRecord> Snapshots() {
    auto s = Store::Open(store_dir_, OpenMode::kReadOnly);
    EXPECT_OK(s);
    if (!s.ok()) return {};
    auto snaps = snapshot::Repo(s->get()).ListSnapshots("alice");
    EXPECT_OK(snaps);
    return snaps.ok() ? *snaps : std::vector<snapshot::SnapshotRecord>{};
  }
  CliRun Ingest() { return RunCli({"spool-ingest", "--store", store_dir_, spool_, "--json"}); }

  TempDir tmp_;
  std::string store_dir_, spool_, laptop_;
};

TEST_F(SpoolTest, APushIsIngestedOnlyOnceItsFlagIsUpAndTheFlagGoesAfterTheCommit) {
  Push(/*flag=*/false);  // interrupted: no flag
  CliRun none = Ingest();
  EXPECT_EQ(none.code, 0) << none.err;
  EXPECT_EQ(none.out, "[]\n");
  EXPECT_TRUE(Snapshots().empty());

  Flag(kFlagTime);
  CliRun first = Ingest();
  ASSERT_EQ(first.code, 0) << first.err;
  EXPECT_NE(first.out.find("\"snapshot\":\"2026-10-01_070000\""), std::string::npos) << first.out;
  EXPECT_FALSE(FlagUp());
  EXPECT_TRUE(PathExists(spool_ + "/alice/data/big.bin")) << "the pushed data stays for the next rsync";
  ASSERT_EQ(Snapshots().size(), 1u);

  // The next night: a change, pushed and flagged.
  ASSERT_OK(WriteFile(laptop_ + "/docs/a.txt", "second\n"));
  Push(/*flag=*/true, kFlagTime + 86400);
  CliRun second = Ingest();
  ASSERT_EQ(second.code, 0) << second.err;
  ASSERT_EQ(Snapshots().size(), 2u);
  CliRun diff = RunCli({"diff", "--store", store_dir_, "--user", "alice", "2026-10-01_070000",
                        "2026-10-02_070000"});
  EXPECT_EQ(diff.code, 0) << diff.err;
  EXPECT_NE(diff.out.find("M docs/a.txt  (content"), std::string::npos) << diff.out;
  EXPECT_EQ(diff.out.find("big.bin"), std::string::npos) << "only what changed: " << diff.out;
  CliRun cat = RunCli({"cat", "--store", store_dir_, "--user", "alice", "latest", "docs/a.txt"});
  EXPECT_EQ(cat.out, "second\n");
}

TEST_F(SpoolTest, AFlagLeftByACrashAfterTheCommitMakesNoSecondSnapshot) {
  Push(/*flag=*/true);
  ASSERT_EQ(Ingest().code, 0);
  Flag(kFlagTime);  // as if the kill came between the commit and the unlink
  CliRun again = Ingest();
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("\"already_committed\":true"), std::string::npos) << again.out;
  EXPECT_EQ(Snapshots().size(), 1u);
  EXPECT_FALSE(FlagUp());
}

TEST_F(SpoolTest, AFlagRenewedWhileItsPushIsReadCommitsNothingAndIsTakenNextTime) {
  Push(/*flag=*/true);
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open(store_dir_, OpenMode::kReadWrite));
  ASSERT_OK_AND_ASSIGN(auto pushes, server::FindFinishedPushes(spool_));
  ASSERT_EQ(pushes.size(), 1u);
  Flag(kFlagTime + 60);  // the laptop pushed again meanwhile
  auto r = server::IngestPush(store.get(), pushes[0]);
  EXPECT_CODE(r.status(), StatusCode::kCancelled);
  EXPECT_TRUE(FlagUp()) << "the renewed flag is the next pass's";
  ASSERT_OK_AND_ASSIGN(auto snaps, snapshot::Repo(store.get()).ListSnapshots("alice"));
  EXPECT_TRUE(snaps.empty()) << "nothing committed";
  ASSERT_OK_AND_ASSIGN(pushes, server::FindFinishedPushes(spool_));
  ASSERT_EQ(pushes.size(), 1u);
  ASSERT_OK_AND_ASSIGN(auto done, server::IngestPush(store.get(), pushes[0]));
  EXPECT_EQ(done.snapshot.name, "2026-10-01_070100");
  EXPECT_FALSE(FlagUp());
}

TEST_F(SpoolTest, ASpoolOthersCouldWriteOrOwnIsRefusedWithWhatToDo) {
  Push(/*flag=*/true);
  ASSERT_EQ(::chmod((spool_ + "/alice").c_str(), 0775), 0);
  CliRun open = Ingest();
  EXPECT_EQ(open.code, 1);
  EXPECT_NE(open.out.find("writable by others than alice; chmod go-w it"), std::string::npos)
      << open.out;
  EXPECT_TRUE(Snapshots().empty());
  EXPECT_TRUE(FlagUp()) << "a refused push keeps its flag";

  ASSERT_EQ(::chmod((spool_ + "/alice").c_str(), 0755), 0);
  if (::geteuid() == 0) {
    // Owned by uid 4321 while the store maps alice to no uid (root): refused;
    // once config.toml maps alice to 4321: taken.
    ASSERT_EQ(::chown((spool_ + "/alice").c_str(), 4321, 4321), 0);
    ASSERT_EQ(::chown((spool_ + "/alice/.done").c_str(), 4321, 4321), 0);
    CliRun foreign = Ingest();
    EXPECT_EQ(foreign.code, 1);
    EXPECT_NE(foreign.out.find("owned by uid 4321, not by alice's uid 0"), std::string::npos)
        << foreign.out;
    ASSERT_EQ(RunCli({"user", "add", "--store", store_dir_, "alice", "--uid", "4321", "--gid",
                      "4321"})
                  .code,
              0);
    CliRun mapped = Ingest();
    EXPECT_EQ(mapped.code, 0) << mapped.out << mapped.err;
    EXPECT_EQ(Snapshots().size(), 1u);
  }
  // A data/ that is a symlink is never followed.
  ASSERT_EQ(::rename((spool_ + "/alice/data").c_str(), (tmp_.Join("elsewhere")).c_str()), 0);
  ASSERT_EQ(::symlink(tmp_.Join("elsewhere").c_str(), (spool_ + "/alice/data").c_str()), 0);
  Flag(kFlagTime + 86400);
  if (::geteuid() == 0) {
    ASSERT_EQ(::lchown((spool_ + "/alice/.done").c_str(), 4321, 4321), 0);
  }
  CliRun link = Ingest();
  EXPECT_EQ(link.code, 1);
  EXPECT_NE(link.out.find("a symlink is not taken"), std::string::npos) << link.out;
}

}  // namespace
}  // namespace keepfs::testing
