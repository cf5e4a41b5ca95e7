// Pins, husks and undelete on a real store: a pinned file outlives prune byte
// for byte in a husk that holds only the pinned paths, the counts stay exact
// (pins are roots), a dry run and a real run agree, the last unpin lets the
// next prune remove the husk, and undelete brings snapshots back whole.
#include "gc/pins.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "gc/husk.h"
#include "gc/prune.h"
#include "snapshot/accounting.h"
#include "snapshot/catalog.h"
#include "snapshot/repo.h"
#include "store/file_util.h"
#include "tests/testing/backup_util.h"
#include "tests/testing/refs_oracle.h"
#include "tests/testing/test_util.h"

namespace keepfs::gc {
namespace {

constexpr int64_t kDay = 86400;
constexpr int64_t kOct1 = 1790812800;  // 2026-10-01T00:00:00Z

class PinsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(store_, testing::InitAndOpen(tmp_.Join("store")));
    src_ = tmp_.Join("src");
    ASSERT_OK(MakeDirs(src_ + "/docs"));
    ASSERT_OK(MakeDirs(src_ + "/photos"));
    report_ = testing::RandomBytes(200000, 1);
    ASSERT_OK(testing::WriteFile(src_ + "/docs/report.txt", report_));
    ASSERT_OK(testing::WriteFile(src_ + "/docs/other.txt", testing::RandomBytes(50000, 2)));
    ASSERT_OK(testing::WriteFile(src_ + "/photos/a.jpg", testing::RandomBytes(300000, 3)));
    ASSERT_OK(testing::WriteFile(src_ + "/photos/note", "small"));
    day1_ = testing::BackupOrFail(store_.get(), "alice", src_, kOct1).name;
    // Later days change the report and delete the photos.
    ASSERT_OK(testing::WriteFile(src_ + "/docs/report.txt", testing::RandomBytes(200000, 4)));
    std::filesystem::remove_all(src_ + "/photos");
    day2_ = testing::BackupOrFail(store_.get(), "alice", src_, kOct1 + kDay).name;
    day3_ = testing::BackupOrFail(store_.get(), "alice", src_, kOct1 + 2 * kDay).name;
  }

  RetentionPolicy KeepLast1() {
    RetentionPolicy p;
    p.keep_last = 1;
    return p;
  }

  snapshot::SnapshotRecord Snap(const std::string& name) {
    auto s = snapshot::Repo(store_.get()).FindSnapshot("alice", name);
    EXPECT_OK(s);
    return s.ok() ? *s : snapshot::SnapshotRecord{};
  }

  // The bytes of path in snapshot name, or the error.
  Result<std::string> Cat(const std::string& name, const std::string& path) {
    KEEPFS_ASSIGN_OR_RETURN(snapshot::SnapshotRecord s,
                            snapshot::Repo(store_.get()).FindSnapshot("alice", name));
    return testing::ReadSnapshotFile(store_.get(), s, path);
  }

  testing::TempDir tmp_;
  std::string src_, report_, day1_, day2_, day3_;
  std::unique_ptr<Store> store_;
};

TEST_F(PinsTest, PinnedFileOutlivesPruneInAHuskByteForByte) {
  ASSERT_OK_AND_ASSIGN(snapshot::Pin pin,
                       PinPath(store_.get(), "alice", day1_, "/docs//report.txt", 1001, kOct1));
  EXPECT_EQ(pin.path, "docs/report.txt");
  EXPECT_EQ(pin.kind, 'o');
  ASSERT_OK_AND_ASSIGN(snapshot::Pin again,
                       PinPath(store_.get(), "alice", day1_, "docs/report.txt", 0, kOct1 + 5));
  EXPECT_EQ(again.created_unix, kOct1) << "pinning twice changes nothing";
  testing::ExpectRefsConsistent(store_.get());
  ASSERT_OK_AND_ASSIGN(auto pins, snapshot::ListPins(store_.get(), "alice"));
  ASSERT_EQ(pins.size(), 1u);
  ASSERT_OK_AND_ASSIGN(uint64_t pinned, PinnedBytes(store_.get(), pins));
  EXPECT_EQ(pinned, 200000u) << "random bytes are stored as they are";

  const uint64_t number = Snap(day1_).number;
  const int64_t now = kOct1 + 10 * kDay;
  ASSERT_OK_AND_ASSIGN(UserPrune dry, PruneUser(store_.get(), "alice", KeepLast1(), now, true));
  ASSERT_EQ(dry.snapshots.size(), 3u);
  EXPECT_EQ(dry.snapshots[0].decision.fate, Fate::kHusk);
  EXPECT_EQ(dry.snapshots[0].decision.reasons,
            (std::vector<std::string>{"no rule keeps it", "pinned: 1 path"}));
  EXPECT_EQ(dry.snapshots[1].decision.fate, Fate::kForget);
  // The husk frees what only day 1 has: the photos (other.txt is in day 2 too).
  EXPECT_GE(dry.snapshots[0].frees, 300000u);
  EXPECT_LT(dry.snapshots[0].frees, 301000u) << "the pinned report is not freed";

  ASSERT_OK_AND_ASSIGN(UserPrune real, PruneUser(store_.get(), "alice", KeepLast1(), now, false));
  EXPECT_EQ(real.frees, dry.frees);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(real.snapshots[i].frees, dry.snapshots[i].frees);
  testing::ExpectRefsConsistent(store_.get());

  snapshot::SnapshotRecord husk = Snap(day1_);
  EXPECT_TRUE(husk.is_husk());
  EXPECT_EQ(husk.stats.files, 1u);
  EXPECT_EQ(husk.stats.dirs, 1u);
  EXPECT_NE(husk.number, number) << "a husk's inodes must not reuse the whole snapshot's";
  EXPECT_NE(husk.number, 0u);
  ASSERT_OK_AND_ASSIGN(std::string bytes, Cat(day1_, "docs/report.txt"));
  EXPECT_EQ(bytes, report_) << "the pinned version, not the newer one";
  EXPECT_CODE(Cat(day1_, "docs/other.txt"), StatusCode::kNotFound);
  EXPECT_CODE(Cat(day1_, "photos/a.jpg"), StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(snapshot::Entry docs,
                       snapshot::Repo(store_.get()).ResolvePath(husk, "docs"));
  EXPECT_EQ(docs.size, 1u) << "the parent folder counts only what the husk keeps";
  EXPECT_CODE(snapshot::Repo(store_.get()).FindSnapshot("alice", day2_), StatusCode::kNotFound);

  ASSERT_OK_AND_ASSIGN(auto gone, ListDeleted(store_.get(), "alice"));
  ASSERT_EQ(gone.size(), 2u);
  EXPECT_EQ(gone[0].record.name, day1_);
  EXPECT_TRUE(gone[0].husk_left);
  EXPECT_FALSE(gone[0].record.is_husk()) << "the whole record is kept";
  EXPECT_FALSE(gone[1].husk_left);

  // A husk with pins stays and frees nothing more.
  ASSERT_OK_AND_ASSIGN(UserPrune second,
                       PruneUser(store_.get(), "alice", KeepLast1(), now + kDay, false));
  EXPECT_EQ(second.snapshots[0].decision.fate, Fate::kHusk);
  EXPECT_EQ(second.frees, 0u);
  EXPECT_EQ(Snap(day1_).root, husk.root);
  EXPECT_CODE(ForgetSnapshot(store_.get(), "alice", day1_), StatusCode::kInvalidArgument);

  // The last unpin leaves the husk for the next prune, which removes it.
  ASSERT_OK(UnpinPath(store_.get(), "alice", day1_, "docs/report.txt"));
  EXPECT_EQ(Snap(day1_).root, husk.root);
  testing::ExpectRefsConsistent(store_.get());
  ASSERT_OK_AND_ASSIGN(UserPrune third,
                       PruneUser(store_.get(), "alice", KeepLast1(), now + kDay, false));
  EXPECT_EQ(third.snapshots[0].decision.fate, Fate::kForget);
  EXPECT_EQ(third.snapshots[0].decision.reasons,
            (std::vector<std::string>{"husk with no pins left"}));
  EXPECT_EQ(third.frees, 200000u) << "the old report";
  EXPECT_CODE(snapshot::Repo(store_.get()).FindSnapshot("alice", day1_), StatusCode::kNotFound);
  testing::ExpectRefsConsistent(store_.get());
  ASSERT_OK_AND_ASSIGN(gone, ListDeleted(store_.get(), "alice"));
  ASSERT_EQ(gone.size(), 2u);
  EXPECT_FALSE(gone[0].husk_left);

  // Undelete brings day 1 back whole, under its old name and number.
  ASSERT_OK(Undelete(store_.get(), "alice", day1_));
  snapshot::SnapshotRecord back = Snap(day1_);
  EXPECT_FALSE(back.is_husk());
  EXPECT_EQ(back.number, number) << "undeleted: the whole snapshot's inode numbers again";
  ASSERT_OK_AND_ASSIGN(bytes, Cat(day1_, "photos/a.jpg"));
  EXPECT_EQ(bytes, testing::RandomBytes(300000, 3));
  testing::ExpectRefsConsistent(store_.get());
  EXPECT_CODE(Undelete(store_.get(), "alice", day1_), StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(gone, ListDeleted(store_.get(), "alice"));
  EXPECT_EQ(gone.size(), 1u);
}

TEST_F(PinsTest, UnpinningOneOfTwoShrinksTheHuskAndUndeleteReplacesIt) {
  ASSERT_OK(PinPath(store_.get(), "alice", day1_, "docs/report.txt", 0, kOct1).status());
  ASSERT_OK(PinPath(store_.get(), "alice", day1_, "photos", 0, kOct1).status());
  ASSERT_OK_AND_ASSIGN(Forgotten f, ForgetSnapshot(store_.get(), "alice", day1_, kOct1 + kDay));
  EXPECT_TRUE(f.husk);
  EXPECT_EQ(f.freed, 0u) << "the rest of day 1 (other.txt) is in day 2 too";
  snapshot::SnapshotRecord husk = Snap(day1_);
  EXPECT_EQ(husk.stats.files, 3u);
  ASSERT_OK_AND_ASSIGN(std::string jpg, Cat(day1_, "photos/a.jpg"));
  EXPECT_EQ(jpg, testing::RandomBytes(300000, 3)) << "a pinned folder is kept whole";
  testing::ExpectRefsConsistent(store_.get());

  ASSERT_OK(UnpinPath(store_.get(), "alice", day1_, "/photos/"));
  snapshot::SnapshotRecord shrunk = Snap(day1_);
  EXPECT_TRUE(shrunk.is_husk());
  EXPECT_NE(shrunk.root, husk.root);
  EXPECT_NE(shrunk.number, husk.number) << "another tree, other inode numbers";
  EXPECT_EQ(shrunk.stats.files, 1u);
  EXPECT_CODE(Cat(day1_, "photos/a.jpg"), StatusCode::kNotFound);
  ASSERT_OK(Cat(day1_, "docs/report.txt").status());
  testing::ExpectRefsConsistent(store_.get());

  // Undeleting a husk puts the whole snapshot back in its place; the pin stays.
  ASSERT_OK(Undelete(store_.get(), "alice", day1_));
  EXPECT_FALSE(Snap(day1_).is_husk());
  ASSERT_OK(Cat(day1_, "docs/other.txt").status());
  ASSERT_OK_AND_ASSIGN(auto pins, snapshot::ListPins(store_.get(), "alice", day1_));
  EXPECT_EQ(pins.size(), 1u);
  testing::ExpectRefsConsistent(store_.get());
}

TEST_F(PinsTest, PinningTheWholeSnapshotKeepsItsTree) {
  snapshot::SnapshotRecord whole = Snap(day1_);
  ASSERT_OK(PinPath(store_.get(), "alice", day1_, "/", 0, kOct1).status());
  ASSERT_OK_AND_ASSIGN(Forgotten f, ForgetSnapshot(store_.get(), "alice", day1_));
  EXPECT_TRUE(f.husk);
  EXPECT_EQ(f.freed, 0u);
  snapshot::SnapshotRecord husk = Snap(day1_);
  EXPECT_EQ(husk.root, whole.root);
  EXPECT_EQ(husk.stats.files, whole.stats.files);
  testing::ExpectRefsConsistent(store_.get());
}

TEST_F(PinsTest, BadPinsAreRefusedAndChangeNothing) {
  auto before = testing::StoredRefCounts(store_.get());
  auto missing = PinPath(store_.get(), "alice", day1_, "docs/nope.txt", 0, kOct1);
  EXPECT_CODE(missing, StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("keepfs ls --user alice"), std::string::npos)
      << missing.status().message();
  EXPECT_CODE(PinPath(store_.get(), "alice", day1_, "docs/../x", 0, kOct1),
              StatusCode::kInvalidArgument);
  EXPECT_CODE(PinPath(store_.get(), "alice", "2020-01-01_000000", "docs", 0, kOct1),
              StatusCode::kNotFound);
  EXPECT_CODE(PinPath(store_.get(), "carol", "latest", "docs", 0, kOct1), StatusCode::kNotFound);
  EXPECT_CODE(UnpinPath(store_.get(), "alice", day1_, "docs"), StatusCode::kNotFound);
  EXPECT_EQ(testing::StoredRefCounts(store_.get()), before);
  ASSERT_OK_AND_ASSIGN(auto pins, snapshot::ListPins(store_.get()));
  EXPECT_TRUE(pins.empty());
}

// Undelete needs every object of the snapshot; when garbage collection has
// taken one (simulated: a chunk's index entry removed), it says so and
// changes nothing.
TEST_F(PinsTest, UndeleteRefusesWhenDataIsGone) {
  snapshot::SnapshotRecord s = Snap(day1_);
  ASSERT_OK(ForgetSnapshot(store_.get(), "alice", day1_).status());
  ASSERT_OK_AND_ASSIGN(snapshot::Entry jpg,
                       snapshot::Repo(store_.get()).ResolvePath(s, "photos/a.jpg"));
  ASSERT_OK_AND_ASSIGN(snapshot::Content c, snapshot::Repo(store_.get()).GetContent(jpg.ref));
  ASSERT_FALSE(c.parts.empty());
  WriteBatch b;
  b.Delete("c" + std::string(c.parts[0].chunk.AsBytes()));
  ASSERT_OK(store_->kv().Write(b, true));
  auto before = testing::StoredRefCounts(store_.get());
  Status st = Undelete(store_.get(), "alice", day1_);
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_NE(st.message().find("part of its data is gone"), std::string::npos) << st.message();
  EXPECT_EQ(testing::StoredRefCounts(store_.get()), before);
  EXPECT_CODE(snapshot::Repo(store_.get()).FindSnapshot("alice", day1_), StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(auto gone, ListDeleted(store_.get(), "alice"));
  EXPECT_EQ(gone.size(), 1u) << "still listed";
}

}  // namespace
}  // namespace keepfs::gc
