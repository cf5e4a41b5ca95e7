// Forget and prune on a real store: a dry run and a real run agree exactly,
// the counts go back to what the remaining snapshots need, and forgetting
// everything leaves no count, holder or charge behind.
#include "gc/prune.h"

#include <gtest/gtest.h>

#include "snapshot/accounting.h"
#include "snapshot/repo.h"
#include "store/file_util.h"
#include "tests/testing/backup_util.h"
#include "tests/testing/refs_oracle.h"
#include "tests/testing/test_util.h"

namespace keepfs::gc {
namespace {

constexpr int64_t kDay = 86400;
constexpr int64_t kNov1 = 1793491200;  // 2026-11-01T00:00:00Z

class PruneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(store_, testing::InitAndOpen(tmp_.Join("store")));
    src_ = tmp_.Join("src");
    ASSERT_OK(MakeDirs(src_));
  }

  // One snapshot a day for `days` days before Nov 1; each replaces the
  // previous day's 100 kB file, so forgetting a day frees its file.
  void DailyBackups(const std::string& user, int days) {
    for (int d = days; d >= 1; --d) {
      std::string prev = src_ + "/day" + std::to_string(d + 1);
      ::unlink(prev.c_str());
      ASSERT_OK(testing::WriteFile(src_ + "/day" + std::to_string(d),
                                   testing::RandomBytes(100000, static_cast<uint64_t>(d))));
      testing::BackupOrFail(store_.get(), user, src_, kNov1 - d * kDay);
    }
  }

  size_t Keys(const std::string& prefix) { return testing::CountKeys(store_.get(), prefix); }

  testing::TempDir tmp_;
  std::string src_;
  std::unique_ptr<Store> store_;
};

TEST_F(PruneTest, DryRunAndRealRunAgreeAndFreeWhatOnlyTheForgottenHeld) {
  DailyBackups("alice", 10);  // Oct 22 .. Oct 31
  const size_t objects = Keys("r");  // everything alice's DAG ever referenced
  EXPECT_EQ(Keys("Q"), 0u) << "backups only add references";
  RetentionPolicy p;
  p.keep_last = 3;
  ASSERT_OK_AND_ASSIGN(UserPrune dry, PruneUser(store_.get(), "alice", p, kNov1, true));
  ASSERT_EQ(dry.snapshots.size(), 10u);
  for (size_t i = 0; i < 10; ++i) {
    EXPECT_EQ(dry.snapshots[i].decision.fate, i < 7 ? Fate::kForget : Fate::kKeep) << i;
    if (i < 7) {
      EXPECT_GE(dry.snapshots[i].frees, 100000u) << "its own random file";
    }
  }
  EXPECT_EQ(dry.plan.charged_before - dry.plan.charged_after, dry.frees)
      << "alice alone: what she stops being charged is what nobody holds any more";
  ASSERT_OK_AND_ASSIGN(auto still, snapshot::Repo(store_.get()).ListSnapshots("alice"));
  EXPECT_EQ(still.size(), 10u) << "a dry run changes nothing";

  ASSERT_OK_AND_ASSIGN(UserPrune real, PruneUser(store_.get(), "alice", p, kNov1, false));
  EXPECT_EQ(real.frees, dry.frees);
  for (size_t i = 0; i < 10; ++i) {
    EXPECT_EQ(real.snapshots[i].decision.reasons, dry.snapshots[i].decision.reasons);
    EXPECT_EQ(real.snapshots[i].frees, dry.snapshots[i].frees);
  }
  ASSERT_OK_AND_ASSIGN(auto left, snapshot::Repo(store_.get()).ListSnapshots("alice"));
  ASSERT_EQ(left.size(), 3u);
  EXPECT_EQ(left.front().name, "2026-10-29_000000");
  ASSERT_OK_AND_ASSIGN(snapshot::UserHoldings h, snapshot::LoadHoldings(store_.get(), "alice"));
  EXPECT_EQ(h.charged(), dry.plan.charged_after);
  testing::ExpectRefsConsistent(store_.get());

  EXPECT_GT(Keys("Q"), 0u);
  EXPECT_LT(Keys("Q"), objects) << "only what left alice's DAG is a collection candidate";

  // Forgetting the rest leaves nothing behind but candidates for the collector:
  // exactly every object alice referenced.
  for (const auto& s : left) ASSERT_OK(ForgetSnapshot(store_.get(), "alice", s.name).status());
  EXPECT_EQ(Keys("Q"), objects);
  EXPECT_EQ(Keys("r"), 0u);
  EXPECT_EQ(Keys("h"), 0u);
  ASSERT_OK_AND_ASSIGN(h, snapshot::LoadHoldings(store_.get(), "alice"));
  EXPECT_TRUE(h.bytes_by_holders.empty());
}

TEST_F(PruneTest, ForgettingOneUsersCopyMovesTheWholeChargeToTheOther) {
  ASSERT_OK(testing::WriteFile(src_ + "/shared", testing::RandomBytes(200000, 5)));
  auto a = testing::BackupOrFail(store_.get(), "alice", src_, kNov1);
  auto b = testing::BackupOrFail(store_.get(), "bob", src_, kNov1);
  ASSERT_OK_AND_ASSIGN(snapshot::UserHoldings alice, snapshot::LoadHoldings(store_.get(), "alice"));
  uint64_t half = alice.charged();
  ASSERT_OK_AND_ASSIGN(Forgotten f, ForgetSnapshot(store_.get(), "bob", b.name));
  EXPECT_EQ(f.freed, 0u) << "alice still holds it";
  EXPECT_FALSE(f.husk);
  ASSERT_OK_AND_ASSIGN(alice, snapshot::LoadHoldings(store_.get(), "alice"));
  EXPECT_GE(alice.charged(), 2 * half);
  EXPECT_EQ(alice.shared(), 0u);
  testing::ExpectRefsConsistent(store_.get());
  ASSERT_OK_AND_ASSIGN(f, ForgetSnapshot(store_.get(), "alice", a.name));
  EXPECT_GE(f.freed, 200000u);
  EXPECT_CODE(ForgetSnapshot(store_.get(), "alice", a.name), StatusCode::kNotFound);
}

// Eleven backups in one second are named _1 .. _10 after the first: "_10"
// sorts before "_9" as text, but it is the newest, and prune says so.
TEST_F(PruneTest, SnapshotsOfOneSecondAreOrderedBySequenceNotByName) {
  for (int i = 0; i < 11; ++i) testing::BackupOrFail(store_.get(), "alice", src_, kNov1 - kDay);
  RetentionPolicy p;
  p.keep_last = 2;
  ASSERT_OK_AND_ASSIGN(UserPrune r, PruneUser(store_.get(), "alice", p, kNov1, false));
  ASSERT_OK_AND_ASSIGN(auto left, snapshot::Repo(store_.get()).ListSnapshots("alice"));
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].seq, 9u);
  EXPECT_EQ(left[1].seq, 10u);
}

// Several snapshots in one call: each frees what a call per snapshot would
// (the same counts, written once), and a bad name removes nothing.
TEST_F(PruneTest, ForgettingSeveralAtOnceEqualsOneByOneAndIsAllOrNothing) {
  DailyBackups("alice", 6);
  ASSERT_OK_AND_ASSIGN(auto snaps, snapshot::Repo(store_.get()).ListSnapshots("alice"));
  ASSERT_EQ(snaps.size(), 6u);
  auto twice = ForgetSnapshots(store_.get(), "alice", {snaps[5].name, "latest"}, kNov1);
  EXPECT_CODE(twice.status(), StatusCode::kInvalidArgument);
  EXPECT_NE(twice.status().message().find("named twice (as latest)"), std::string::npos)
      << twice.status().message();
  auto unknown = ForgetSnapshots(store_.get(), "alice", {snaps[0].name, "2020-01-01_000000"}, kNov1);
  EXPECT_CODE(unknown.status(), StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(auto still, snapshot::Repo(store_.get()).ListSnapshots("alice"));
  EXPECT_EQ(still.size(), 6u) << "nothing was removed";
  EXPECT_EQ(Keys("d"), 0u);

  ASSERT_OK_AND_ASSIGN(Forgotten one, ForgetSnapshot(store_.get(), "alice", snaps[0].name, kNov1));
  ASSERT_OK_AND_ASSIGN(std::vector<Forgotten> three,
                       ForgetSnapshots(store_.get(), "alice",
                                       {snaps[1].name, snaps[2].name, snaps[4].name}, kNov1));
  ASSERT_EQ(three.size(), 3u);
  for (const Forgotten& f : three) {
    EXPECT_GE(f.freed, 100000u) << "each frees its own day's file";
    EXPECT_LE(f.freed, one.freed + one.freed / 10);
  }
  ASSERT_OK_AND_ASSIGN(still, snapshot::Repo(store_.get()).ListSnapshots("alice"));
  ASSERT_EQ(still.size(), 2u);
  EXPECT_EQ(still[0].name, snaps[3].name);
  EXPECT_EQ(still[1].name, snaps[5].name);
  EXPECT_EQ(Keys("d"), 4u) << "every forgotten snapshot stays undeletable";
  testing::ExpectRefsConsistent(store_.get());
  ASSERT_OK(Undelete(store_.get(), "alice", snaps[2].name));
  testing::ExpectRefsConsistent(store_.get());
}

}  // namespace
}  // namespace keepfs::gc
