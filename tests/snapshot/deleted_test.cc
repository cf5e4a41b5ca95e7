// Recently deleted entries of a user, on real backups: what recent
// snapshots hold and the newest does not, each with its last version.
#include "snapshot/deleted.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "store/file_util.h"
#include "tests/testing/backup_util.h"
#include "tests/testing/test_util.h"

namespace keepfs::snapshot {
namespace {

constexpr int64_t kDay1 = 1790823600;  // 2026-10-01T03:00:00Z
constexpr int64_t kDay = 86400;

class DeletedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(store_, testing::InitAndOpen(tmp_.Join("store")));
    src_ = tmp_.Join("src");
    ASSERT_OK(MakeDirs(src_ + "/docs/old"));
    ASSERT_OK(MakeDirs(src_ + "/music"));
  }
  void Day(int d) { testing::BackupOrFail(store_.get(), "alice", src_, kDay1 + d * kDay); }
  void Write(const std::string& rel, const std::string& text) {
    ASSERT_OK(testing::WriteFile(src_ + "/" + rel, text));
  }
  void Remove(const std::string& rel) { std::filesystem::remove_all(src_ + "/" + rel); }
  DeletedList Deleted(int64_t since) {
    Repo repo(store_.get());
    auto list = DeletedSince(repo, "alice", since);
    EXPECT_TRUE(list.ok()) << list.status().ToString();
    return list.ok() ? *list : DeletedList{};
  }
  std::string Bytes(const DeletedEntry& d) {
    Repo repo(store_.get());
    auto snap = repo.FindSnapshot("alice", d.snapshot);
    EXPECT_TRUE(snap.ok());
    auto bytes = testing::ReadSnapshotFile(store_.get(), *snap, d.path);
    EXPECT_TRUE(bytes.ok()) << bytes.status().ToString();
    return bytes.ok() ? *bytes : "";
  }

  testing::TempDir tmp_;
  std::unique_ptr<Store> store_;
  std::string src_;
};

TEST_F(DeletedTest, EachDeletedPathOnceWithItsLastVersionAndAFolderAsOneEntry) {
  Write("docs/keep.txt", "kept");
  Write("docs/gone.txt", "first");
  Write("docs/old/a.txt", "aaaa");
  Write("docs/old/b.txt", "bb");
  Write("music/song.ogg", "la la");
  Day(0);
  Write("docs/gone.txt", "second, the last version");
  Write("docs/keep.txt", "kept, changed");  // changed, not deleted
  Day(1);
  Remove("docs/gone.txt");
  Remove("docs/old");
  Day(2);
  Remove("music/song.ogg");
  Day(3);

  DeletedList list = Deleted(kDay1);
  EXPECT_EQ(list.latest, "2026-10-04_030000");
  ASSERT_EQ(list.entries.size(), 3u);
  const DeletedEntry& gone = list.entries[0];
  EXPECT_EQ(gone.path, "docs/gone.txt");
  EXPECT_EQ(gone.snapshot, "2026-10-02_030000");  // the last one that held it
  EXPECT_EQ(gone.last_seen, kDay1 + kDay);
  EXPECT_EQ(gone.files, 1u);
  EXPECT_EQ(gone.bytes, 24u);
  EXPECT_EQ(Bytes(gone), "second, the last version");

  const DeletedEntry& old = list.entries[1];
  EXPECT_EQ(old.path, "docs/old");
  EXPECT_EQ(old.entry.type, EntryType::kDir);
  EXPECT_EQ(old.snapshot, "2026-10-02_030000");
  EXPECT_EQ(old.files, 2u);
  EXPECT_EQ(old.bytes, 6u);

  const DeletedEntry& song = list.entries[2];
  EXPECT_EQ(song.path, "music/song.ogg");
  EXPECT_EQ(song.snapshot, "2026-10-03_030000");
  EXPECT_EQ(Bytes(song), "la la");
}

TEST_F(DeletedTest, OnlySnapshotsInsideTheWindowCount) {
  Write("docs/early.txt", "deleted long ago");
  Write("docs/late.txt", "deleted lately");
  Day(0);
  Remove("docs/early.txt");
  Day(10);
  Remove("docs/late.txt");
  Day(20);
  // A window from day 5 sees day 10 (which no longer had early.txt) and day 20.
  DeletedList list = Deleted(kDay1 + 5 * kDay);
  ASSERT_EQ(list.entries.size(), 1u);
  EXPECT_EQ(list.entries[0].path, "docs/late.txt");
  EXPECT_EQ(Deleted(kDay1).entries.size(), 2u);
  EXPECT_TRUE(Deleted(kDay1 + 15 * kDay).entries.empty());
}

TEST_F(DeletedTest, AFolderThatBecameAFileLeavesItsContentsDeleted) {
  Write("docs/old/a.txt", "a");
  Day(0);
  Remove("docs/old");
  Write("docs/old", "now a file");
  Day(1);
  DeletedList list = Deleted(kDay1);
  ASSERT_EQ(list.entries.size(), 1u);
  EXPECT_EQ(list.entries[0].path, "docs/old/a.txt");
  EXPECT_EQ(Bytes(list.entries[0]), "a");
}

TEST_F(DeletedTest, NothingWithOneSnapshotOrNoneAndAnUnknownUserIsAnError) {
  Repo repo(store_.get());
  EXPECT_FALSE(DeletedSince(repo, "alice", 0).ok());  // no such user yet
  Write("docs/a", "a");
  Day(0);
  DeletedList list = Deleted(0);
  EXPECT_EQ(list.latest, "2026-10-01_030000");
  EXPECT_TRUE(list.entries.empty());
  EXPECT_FALSE(DeletedSince(repo, "bob", 0).ok());
}

}  // namespace
}  // namespace keepfs::snapshot
