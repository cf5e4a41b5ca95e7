// Ingest against FakeSourceFs: failures, races and file kinds that a real
// file system in a test cannot produce on demand.
#include <gtest/gtest.h>

#include <sys/sysmacros.h>

#include <cerrno>
#include <cstring>

#include "snapshot/ingest.h"
#include "snapshot/repo.h"
#include "tests/testing/backup_util.h"
#include "tests/testing/fake_source_fs.h"
#include "tests/testing/test_util.h"

namespace keepfs::snapshot {
namespace {

using testing::FakeSourceFs;

constexpr int64_t kTime = 1790823600;  // 2026-10-01T03:00:00Z

class FakeSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(store_, testing::InitAndOpen(tmp_.Join("store")));
    fs_.AddFile("a.txt", "alpha\n");
    fs_.AddDir("sub");
    fs_.AddFile("sub/b.bin", testing::RandomBytes(300 * 1024, 7));
    fs_.AddFile("sub/c.txt", "charlie\n");
  }

  Result<SnapshotRecord> RunBackup(int64_t time = kTime) {
    BackupOptions o;
    o.user = "alice";
    o.source = "/fake";
    o.time_sec = time;
    o.workers = 2;
    o.source_fs = &fs_;
    return Backup(store_.get(), o, nullptr);
  }

  Result<std::string> Read(const SnapshotRecord& snap, const std::string& path) {
    return testing::ReadSnapshotFile(store_.get(), snap, path);
  }

  static bool HasError(const SnapshotRecord& r, const std::string& path, const std::string& text) {
    for (const auto& e : r.errors) {
      if (e.path == path && e.message.find(text) != std::string::npos) return true;
    }
    return false;
  }

  testing::TempDir tmp_;
  std::unique_ptr<Store> store_;
  FakeSourceFs fs_;
};

TEST_F(FakeSourceTest, ReadErrorLeavesTheFileOutAndCommitsTheRest) {
  fs_.FailOn(FakeSourceFs::Op::kRead, "sub/b.bin", EIO);
  ASSERT_OK_AND_ASSIGN(SnapshotRecord rec, RunBackup());
  EXPECT_TRUE(HasError(rec, "sub/b.bin", "Input/output error")) << rec.errors.size();
  Repo repo(store_.get());
  EXPECT_CODE(repo.ResolvePath(rec, "sub/b.bin"), StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(std::string c, Read(rec, "sub/c.txt"));
  EXPECT_EQ(c, "charlie\n");
}

TEST_F(FakeSourceTest, UnlistableDirectoryIsReportedAndLeftOut) {
  fs_.FailOn(FakeSourceFs::Op::kList, "sub", EACCES);
  ASSERT_OK_AND_ASSIGN(SnapshotRecord rec, RunBackup());
  EXPECT_TRUE(HasError(rec, "sub", "Permission denied"));
  Repo repo(store_.get());
  EXPECT_CODE(repo.ResolvePath(rec, "sub"), StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(std::string a, Read(rec, "a.txt"));
  EXPECT_EQ(a, "alpha\n");
}

TEST_F(FakeSourceTest, VanishedEntryIsReported) {
  fs_.FailOn(FakeSourceFs::Op::kStat, "sub/c.txt", ENOENT);
  ASSERT_OK_AND_ASSIGN(SnapshotRecord rec, RunBackup());
  EXPECT_TRUE(HasError(rec, "sub/c.txt", "No such file"));
}

TEST_F(FakeSourceTest, UnreadableRootFailsWithoutASnapshot) {
  fs_.FailOn(FakeSourceFs::Op::kOpen, "", EACCES);
  EXPECT_CODE(RunBackup(), StatusCode::kPermissionDenied);
  Repo repo(store_.get());
  ASSERT_OK_AND_ASSIGN(auto snaps, repo.ListSnapshots("alice"));
  EXPECT_TRUE(snaps.empty());
}

TEST_F(FakeSourceTest, XattrErrorStoresTheFileWithoutXattrs) {
  fs_.SetXattr("a.txt", "user.k", "v");
  fs_.FailOn(FakeSourceFs::Op::kXattrs, "a.txt", EIO, /*times=*/1);
  ASSERT_OK_AND_ASSIGN(SnapshotRecord rec, RunBackup());
  EXPECT_TRUE(HasError(rec, "a.txt", "stored without xattrs"));
  Repo repo(store_.get());
  ASSERT_OK_AND_ASSIGN(Entry e, repo.ResolvePath(rec, "a.txt"));
  EXPECT_TRUE(e.xattrs.empty());
  // Not cached: once xattrs read again, the next backup stores them.
  ASSERT_OK_AND_ASSIGN(SnapshotRecord next, RunBackup(kTime + 60));
  ASSERT_OK_AND_ASSIGN(Entry e2, repo.ResolvePath(next, "a.txt"));
  ASSERT_EQ(e2.xattrs.size(), 1u);
  EXPECT_EQ(e2.xattrs[0].value, "v");
}

TEST_F(FakeSourceTest, FileChangedOnceWhileReadIsReadAgain) {
  int reads = 0;
  fs_.OnRead("sub/c.txt", [&] {
    if (++reads == 1) fs_.Modify("sub/c.txt", "charlie, edited\n");
  });
  ASSERT_OK_AND_ASSIGN(SnapshotRecord rec, RunBackup());
  EXPECT_FALSE(HasError(rec, "sub/c.txt", "changed"));
  ASSERT_OK_AND_ASSIGN(std::string c, Read(rec, "sub/c.txt"));
  EXPECT_EQ(c, "charlie, edited\n");
}

TEST_F(FakeSourceTest, FileThatNeverSettlesIsFlaggedAndNotCached) {
  int reads = 0;
  fs_.OnRead("sub/c.txt", [&] { fs_.Modify("sub/c.txt", "v" + std::to_string(++reads) + "\n"); });
  ASSERT_OK_AND_ASSIGN(SnapshotRecord rec, RunBackup());
  EXPECT_TRUE(HasError(rec, "sub/c.txt", "changed while being read"));
  EXPECT_LE(reads, 6) << "at most three attempts";
  fs_.OnRead("sub/c.txt", [] {});
  ASSERT_OK_AND_ASSIGN(SnapshotRecord next, RunBackup(kTime + 60));
  EXPECT_EQ(next.stats.files_cached, 2u) << "the unstable file had no cache entry";
  EXPECT_FALSE(HasError(next, "sub/c.txt", "changed"));
}

TEST_F(FakeSourceTest, OwnersDevicesAndRootMetadataAreRecorded) {
  fs_.SetOwner("a.txt", 1234, 5678);
  fs_.AddSpecial("tty", S_IFCHR, makedev(4, 1));
  fs_.AddSpecial("fifo", S_IFIFO);
  fs_.AddSymlink("link", "sub/c.txt");
  fs_.SetOwner("", 1000, 1000);
  fs_.SetXattr("", "user.root", "yes");
  ASSERT_OK_AND_ASSIGN(SnapshotRecord rec, RunBackup());
  EXPECT_TRUE(rec.errors.empty());
  Repo repo(store_.get());
  ASSERT_OK_AND_ASSIGN(Entry a, repo.ResolvePath(rec, "a.txt"));
  EXPECT_EQ(a.uid, 1234u);
  EXPECT_EQ(a.gid, 5678u);
  ASSERT_OK_AND_ASSIGN(Entry tty, repo.ResolvePath(rec, "tty"));
  EXPECT_EQ(tty.type, EntryType::kCharDev);
  EXPECT_EQ(tty.rdev, makedev(4, 1));
  ASSERT_OK_AND_ASSIGN(Entry fifo, repo.ResolvePath(rec, "fifo"));
  EXPECT_EQ(fifo.type, EntryType::kFifo);
  ASSERT_OK_AND_ASSIGN(Entry link, repo.ResolvePath(rec, "link"));
  EXPECT_EQ(link.target, "sub/c.txt");
  ASSERT_TRUE(rec.root_meta.has_value());
  EXPECT_EQ(rec.root_meta->uid, 1000u);
  ASSERT_EQ(rec.root_meta->xattrs.size(), 1u);
  EXPECT_EQ(rec.root_meta->xattrs[0].name, "user.root");
  // The stored record carries it too, and the root entry shows it.
  ASSERT_OK_AND_ASSIGN(SnapshotRecord back, repo.FindSnapshot("alice", rec.name));
  EXPECT_EQ(back.root_meta, rec.root_meta);
  ASSERT_OK_AND_ASSIGN(Entry root, repo.ResolvePath(back, ""));
  EXPECT_EQ(root.uid, 1000u);
  EXPECT_EQ(root.mode, 0755u);
}

TEST_F(FakeSourceTest, HugeSparseFileStoresOnlyItsExtents) {
  const uint64_t size = 64ull << 20;
  std::string head = testing::RandomBytes(100000, 1), tail = testing::RandomBytes(5000, 2);
  fs_.AddSparseFile("disk.img", size, {{4096, head}, {size - 8192, tail}});
  ASSERT_OK_AND_ASSIGN(SnapshotRecord rec, RunBackup());
  EXPECT_LT(rec.stats.bytes_read, 1u << 20) << "holes are not read";
  ASSERT_OK_AND_ASSIGN(std::string back, Read(rec, "disk.img"));
  ASSERT_EQ(back.size(), size);
  EXPECT_EQ(back.substr(4096, head.size()), head);
  EXPECT_EQ(back.substr(size - 8192, tail.size()), tail);
  EXPECT_EQ(back.substr(0, 4096), std::string(4096, '\0'));
  EXPECT_EQ(back.substr(200000, 4096), std::string(4096, '\0'));
}

}  // namespace
}  // namespace keepfs::snapshot
