// A file's history across a user's snapshots: one entry per distinct
// version, named by the first snapshot that holds it, on real backups.
#include "snapshot/history.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <unistd.h>

#include "store/file_util.h"
#include "tests/testing/backup_util.h"
#include "tests/testing/test_util.h"

namespace keepfs::snapshot {
namespace {

constexpr int64_t kDay1 = 1790823600;  // 2026-10-01T03:00:00Z

class HistoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(store_, testing::InitAndOpen(tmp_.Join("store")));
    src_ = tmp_.Join("src");
    ASSERT_OK(MakeDirs(src_ + "/docs"));
  }
  void Day(int d) { testing::BackupOrFail(store_.get(), "alice", src_, kDay1 + d * 86400); }

  testing::TempDir tmp_;
  std::unique_ptr<Store> store_;
  std::string src_;
};

// Changed in 3 of 10 snapshots (days 0, 4 and 7), touched without a change
// on day 2: exactly three versions, each with its own bytes.
TEST_F(HistoryTest, AFileChangedInThreeOfTenSnapshotsHasThreeVersions) {
  const char* texts[] = {"first draft\n", "second draft, longer\n", "final\n"};
  int version = -1;
  for (int d = 0; d < 10; ++d) {
    if (d == 0 || d == 4 || d == 7) {
      ++version;
      ASSERT_OK(testing::WriteFile(src_ + "/docs/report.odt", texts[version]));
    }
    if (d == 2) {  // a new mtime, the same bytes: no new version
      timespec times[2] = {{kDay1 + 2 * 86400, 0}, {kDay1 + 2 * 86400, 0}};
      ASSERT_EQ(::utimensat(AT_FDCWD, (src_ + "/docs/report.odt").c_str(), times, 0), 0);
    }
    ASSERT_OK(testing::WriteFile(src_ + "/other.txt", "day " + std::to_string(d)));
    Day(d);
  }
  Repo repo(store_.get());
  ASSERT_OK_AND_ASSIGN(std::vector<FileVersion> v, FileHistory(repo, "alice", "docs/report.odt"));
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0].name, "2026-10-01_030000.odt");
  EXPECT_EQ(v[1].name, "2026-10-05_030000.odt");
  EXPECT_EQ(v[2].name, "2026-10-08_030000.odt");
  EXPECT_EQ(v[0].snapshots, 4u);
  EXPECT_EQ(v[0].last_snapshot, "2026-10-04_030000");
  EXPECT_EQ(v[1].snapshots, 3u);
  EXPECT_EQ(v[2].snapshots, 3u);
  EXPECT_EQ(v[2].last_snapshot, "2026-10-10_030000");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(v[i].entry.size, std::string(texts[i]).size());
    ASSERT_OK_AND_ASSIGN(SnapshotRecord snap, repo.FindSnapshot("alice", v[i].first_snapshot));
    ASSERT_OK_AND_ASSIGN(std::string bytes,
                         testing::ReadSnapshotFile(store_.get(), snap, "docs/report.odt"));
    EXPECT_EQ(bytes, texts[i]);
  }
  ASSERT_OK_AND_ASSIGN(auto other, FileHistory(repo, "alice", "other.txt"));
  EXPECT_EQ(other.size(), 10u);
}

// Deleted and brought back with the old bytes: still the one old version;
// a gap is no change.
TEST_F(HistoryTest, TheSameBytesBackAfterADeletionAreTheSameVersion) {
  ASSERT_OK(testing::WriteFile(src_ + "/notes", "v1"));
  Day(0);
  ASSERT_OK(testing::WriteFile(src_ + "/notes", "v2"));
  Day(1);
  ASSERT_EQ(::unlink((src_ + "/notes").c_str()), 0);
  Day(2);
  ASSERT_OK(testing::WriteFile(src_ + "/notes", "v1"));
  Day(3);
  Repo repo(store_.get());
  ASSERT_OK_AND_ASSIGN(auto v, FileHistory(repo, "alice", "notes"));
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].name, "2026-10-01_030000") << "no extension";
  EXPECT_EQ(v[0].snapshots, 2u);
  EXPECT_EQ(v[0].last_snapshot, "2026-10-04_030000");
}

TEST_F(HistoryTest, AFolderOrAMissingPathIsAClearError) {
  ASSERT_OK(testing::WriteFile(src_ + "/docs/a.txt", "a"));
  Day(0);
  Repo repo(store_.get());
  EXPECT_CODE(FileHistory(repo, "alice", "docs").status(), StatusCode::kInvalidArgument);
  EXPECT_CODE(FileHistory(repo, "alice", "docs/nothing").status(), StatusCode::kNotFound);
  EXPECT_CODE(FileHistory(repo, "bob", "docs/a.txt").status(), StatusCode::kNotFound);
}

TEST(FileExtensionTest, TheExtensionOfTheBaseNameOnly) {
  EXPECT_EQ(FileExtension("docs/report.odt"), ".odt");
  EXPECT_EQ(FileExtension("a.tar.gz"), ".gz");
  EXPECT_EQ(FileExtension("Makefile"), "");
  EXPECT_EQ(FileExtension(".bashrc"), "");
  EXPECT_EQ(FileExtension("a.d/b"), "");
  EXPECT_EQ(FileExtension("trailing."), "");
}

}  // namespace
}  // namespace keepfs::snapshot
