#include "snapshot/ingest.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <string>

#include "snapshot/catalog.h"
#include "snapshot/repo.h"
#include "snapshot/users.h"
#include "store/coding.h"
#include "store/file_util.h"
#include "tests/testing/backup_util.h"
#include "tests/testing/test_util.h"

namespace keepfs::snapshot {
namespace {

constexpr int64_t kTime = 1790823600;  // 2026-10-01T03:00:00Z

std::string Text(size_t n) {
  std::string s;
  for (int line = 0; s.size() < n; ++line) s += "log line " + std::to_string(line) + ": ok\n";
  s.resize(n);
  return s;
}

class IngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = tmp_.Join("src");
    ASSERT_OK(MakeDirs(src_));
    ASSERT_OK_AND_ASSIGN(store_, testing::InitAndOpen(tmp_.Join("store")));
    inline_max_ = store_->meta().inline_max;
  }

  void AddFile(const std::string& rel, std::string data) {
    std::string path = src_ + "/" + rel;
    ASSERT_OK(MakeDirs(path.substr(0, path.find_last_of('/'))));
    ASSERT_OK(testing::WriteFile(path, data));
    files_[rel] = std::move(data);
  }

  // A tree with files of many sizes, a duplicate, a symlink, a fifo and an empty dir.
  void BuildTree() {
    AddFile("empty", "");
    AddFile("small.txt", Text(100));
    AddFile("exactly_inline", testing::RandomBytes(inline_max_, 1));
    AddFile("just_over_inline", testing::RandomBytes(inline_max_ + 1, 2));
    AddFile("sub/medium.bin", testing::RandomBytes(300 * 1024, 3));
    AddFile("sub/deep/large.bin", testing::RandomBytes(3 << 20, 4));
    AddFile("sub/deep/text.log", Text(1 << 20));
    AddFile("dup_of_large.bin", files_["sub/deep/large.bin"]);
    ASSERT_EQ(::symlink("sub/medium.bin", (src_ + "/link").c_str()), 0);
    ASSERT_EQ(::mkfifo((src_ + "/pipe").c_str(), 0640), 0);
    ASSERT_OK(MakeDirs(src_ + "/emptydir"));
  }

  Result<SnapshotRecord> RunBackup(std::optional<int64_t> time = kTime) {
    BackupOptions o;
    o.user = "alice";
    o.source = src_;
    o.time_sec = time;
    o.workers = 2;
    return Backup(store_.get(), o, nullptr);
  }

  Result<std::string> ReadBack(const SnapshotRecord& snap, const std::string& path) {
    return testing::ReadSnapshotFile(store_.get(), snap, path);
  }

  // Every file in files_ reads back byte-exactly from snap.
  void ExpectFilesMatch(const SnapshotRecord& snap) {
    for (const auto& [rel, data] : files_) {
      SCOPED_TRACE(rel);
      auto got = ReadBack(snap, rel);
      ASSERT_OK(got);
      EXPECT_EQ(got->size(), data.size());
      EXPECT_TRUE(*got == data) << "contents differ";
    }
  }

  uint64_t LogicalBytes() const {
    uint64_t n = 0;
    for (const auto& [rel, data] : files_) n += data.size();
    return n;
  }

  testing::TempDir tmp_;
  std::string src_;
  std::unique_ptr<Store> store_;
  uint32_t inline_max_ = 0;
  std::map<std::string, std::string> files_;
};

TEST_F(IngestTest, BackupThenReadEveryFileBack) {
  BuildTree();
  ASSERT_OK_AND_ASSIGN(SnapshotRecord rec, RunBackup());
  EXPECT_EQ(rec.name, "2026-10-01_030000");
  EXPECT_EQ(rec.seq, 0u);
  EXPECT_EQ(rec.time_sec, kTime);
  EXPECT_EQ(rec.source, src_);
  EXPECT_TRUE(rec.errors.empty()) << rec.errors.front().path << ": " << rec.errors.front().message;
  EXPECT_EQ(rec.stats.files, files_.size());
  EXPECT_EQ(rec.stats.dirs, 4u);    // root, sub, sub/deep, emptydir
  EXPECT_EQ(rec.stats.others, 2u);  // link, pipe
  EXPECT_EQ(rec.stats.bytes_logical, LogicalBytes());
  EXPECT_EQ(rec.stats.bytes_read, LogicalBytes());
  EXPECT_EQ(rec.stats.files_cached, 0u);
  EXPECT_EQ(rec.stats.bytes_new, LogicalBytes() - files_["dup_of_large.bin"].size())
      << "the duplicate's chunks are stored once";
  EXPECT_LT(rec.stats.bytes_stored, rec.stats.bytes_new) << "text compresses";
  EXPECT_GT(rec.finished_ns, rec.started_ns);

  Repo repo(store_.get());
  ASSERT_OK_AND_ASSIGN(SnapshotRecord latest, repo.FindSnapshot("alice", "latest"));
  EXPECT_EQ(latest.name, rec.name);
  EXPECT_EQ(latest.user, "alice");
  EXPECT_EQ(latest.root, rec.root);
  ExpectFilesMatch(latest);

  ASSERT_OK_AND_ASSIGN(Entry root, repo.ResolvePath(latest, ""));
  EXPECT_EQ(root.type, EntryType::kDir);
  ASSERT_OK_AND_ASSIGN(Entry link, repo.ResolvePath(latest, "link"));
  EXPECT_EQ(link.type, EntryType::kSymlink);
  EXPECT_EQ(link.target, "sub/medium.bin");
  ASSERT_OK_AND_ASSIGN(Entry pipe, repo.ResolvePath(latest, "pipe"));
  EXPECT_EQ(pipe.type, EntryType::kFifo);
  EXPECT_EQ(pipe.mode, 0640u);
  ASSERT_OK_AND_ASSIGN(Entry empty_dir, repo.ResolvePath(latest, "/emptydir/"));
  EXPECT_EQ(empty_dir.type, EntryType::kDir);
  ASSERT_OK_AND_ASSIGN(Entry deep, repo.ResolvePath(latest, "sub//deep/text.log"));
  EXPECT_EQ(deep.size, files_["sub/deep/text.log"].size());

  // Small files are inline; larger ones are chunked.
  ASSERT_OK_AND_ASSIGN(Entry small, repo.ResolvePath(latest, "exactly_inline"));
  ASSERT_OK_AND_ASSIGN(Content small_c, repo.GetContent(small.ref));
  EXPECT_TRUE(small_c.is_inline);
  ASSERT_OK_AND_ASSIGN(Entry over, repo.ResolvePath(latest, "just_over_inline"));
  ASSERT_OK_AND_ASSIGN(Content over_c, repo.GetContent(over.ref));
  EXPECT_FALSE(over_c.is_inline);
  ASSERT_OK_AND_ASSIGN(Entry large, repo.ResolvePath(latest, "sub/deep/large.bin"));
  ASSERT_OK_AND_ASSIGN(Entry dup, repo.ResolvePath(latest, "dup_of_large.bin"));
  EXPECT_EQ(large.ref, dup.ref) << "identical files share one content";
  ASSERT_OK_AND_ASSIGN(Content large_c, repo.GetContent(large.ref));
  EXPECT_GT(large_c.parts.size(), 5u);
}

TEST_F(IngestTest, EntriesCarryFileMetadata) {
  AddFile("f", "data");
  ASSERT_EQ(::chmod((src_ + "/f").c_str(), 04751), 0);
  struct timespec times[2] = {{0, UTIME_OMIT}, {1700000000, 123456789}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (src_ + "/f").c_str(), times, 0), 0);
  ASSERT_OK_AND_ASSIGN(SnapshotRecord rec, RunBackup());
  Repo repo(store_.get());
  ASSERT_OK_AND_ASSIGN(Entry e, repo.ResolvePath(rec, "f"));
  EXPECT_EQ(e.type, EntryType::kFile);
  EXPECT_EQ(e.mode, 04751u);
  EXPECT_EQ(e.mtime_sec, 1700000000);
  EXPECT_EQ(e.mtime_nsec, 123456789u);
  EXPECT_EQ(e.uid, ::getuid());
  EXPECT_EQ(e.size, 4u);
  EXPECT_EQ(e.link_id, 0u);
}

TEST_F(IngestTest, UnchangedTreeIsServedFromTheFilesCache) {
  BuildTree();
  ASSERT_OK_AND_ASSIGN(SnapshotRecord first, RunBackup(kTime));
  ASSERT_OK_AND_ASSIGN(SnapshotRecord second, RunBackup(kTime + 3600));
  EXPECT_EQ(second.stats.files, files_.size());
  EXPECT_EQ(second.stats.files_cached, files_.size());
  EXPECT_EQ(second.stats.bytes_read, 0u);
  EXPECT_EQ(second.stats.bytes_new, 0u);
  EXPECT_EQ(second.stats.bytes_stored, 0u);
  EXPECT_EQ(second.stats.bytes_logical, first.stats.bytes_logical);
  EXPECT_EQ(second.root, first.root) << "an unchanged tree has the same id";
  EXPECT_EQ(second.name, "2026-10-01_040000");
  ExpectFilesMatch(second);
}

TEST_F(IngestTest, WithoutFilesCacheEverythingIsReadAgainButNothingIsNew) {
  BuildTree();
  ASSERT_OK_AND_ASSIGN(SnapshotRecord first, RunBackup(kTime));
  BackupOptions o;
  o.user = "alice";
  o.source = src_;
  o.time_sec = kTime + 60;
  o.workers = 2;
  o.use_files_cache = false;
  ASSERT_OK_AND_ASSIGN(SnapshotRecord second, Backup(store_.get(), o, nullptr));
  EXPECT_EQ(second.stats.files_cached, 0u);
  EXPECT_EQ(second.stats.bytes_read, LogicalBytes());
  EXPECT_EQ(second.stats.bytes_new, 0u);
  EXPECT_EQ(second.root, first.root);
}

TEST_F(IngestTest, ModifiedFileIsTheOnlyOneReread) {
  BuildTree();
  ASSERT_OK_AND_ASSIGN(SnapshotRecord first, RunBackup(kTime));
  std::string old_medium = files_["sub/medium.bin"];
  AddFile("sub/medium.bin", testing::RandomBytes(200 * 1024, 99));  // different size too
  ASSERT_OK_AND_ASSIGN(SnapshotRecord second, RunBackup(kTime + 60));
  EXPECT_EQ(second.stats.files_cached, files_.size() - 1);
  EXPECT_EQ(second.stats.bytes_read, 200u * 1024);
  EXPECT_EQ(second.stats.bytes_new, 200u * 1024);
  EXPECT_NE(second.root, first.root);
  ExpectFilesMatch(second);
  // The old snapshot still has the old version.
  ASSERT_OK_AND_ASSIGN(std::string back, ReadBack(first, "sub/medium.bin"));
  EXPECT_TRUE(back == old_medium);
}

TEST_F(IngestTest, XattrsOfCachedFilesAreKeptAndChangesAreSeen) {
  BuildTree();
  const std::string path = src_ + "/small.txt";
  if (::setxattr(path.c_str(), "user.color", "red", 3, 0) != 0) {
    GTEST_SKIP() << "user xattrs not supported here: " << std::strerror(errno);
  }
  ASSERT_OK_AND_ASSIGN(SnapshotRecord first, RunBackup(kTime));
  // Unchanged: served from the cache, xattrs included.
  ASSERT_OK_AND_ASSIGN(SnapshotRecord second, RunBackup(kTime + 60));
  EXPECT_EQ(second.stats.files_cached, files_.size());
  EXPECT_EQ(second.root, first.root);
  // Changing only an xattr moves ctime: the file is read again and the new value stored.
  ASSERT_EQ(::setxattr(path.c_str(), "user.color", "blue", 4, 0), 0);
  ASSERT_OK_AND_ASSIGN(SnapshotRecord third, RunBackup(kTime + 120));
  EXPECT_EQ(third.stats.files_cached, files_.size() - 1);
  Repo repo(store_.get());
  ASSERT_OK_AND_ASSIGN(Entry old_e, repo.ResolvePath(second, "small.txt"));
  ASSERT_OK_AND_ASSIGN(Entry new_e, repo.ResolvePath(third, "small.txt"));
  ASSERT_EQ(old_e.xattrs.size(), 1u);
  EXPECT_EQ(old_e.xattrs[0].value, "red");
  ASSERT_EQ(new_e.xattrs.size(), 1u);
  EXPECT_EQ(new_e.xattrs[0].name, "user.color");
  EXPECT_EQ(new_e.xattrs[0].value, "blue");
}

// Whoever deletes contents bumps the content generation; cache entries from an
// older generation are checked against the store, and a content that is gone
// is read and stored again rather than referenced.
TEST_F(IngestTest, CacheEntriesOfAnOlderGenerationAreVerified) {
  BuildTree();
  ASSERT_OK_AND_ASSIGN(SnapshotRecord first, RunBackup(kTime));
  Repo repo(store_.get());
  ASSERT_OK_AND_ASSIGN(Entry medium, repo.ResolvePath(first, "sub/medium.bin"));
  {
    WriteBatch b;
    b.Delete(ContentKey(medium.ref));
    std::string gen;
    Encoder(&gen).PutVarint(1);
    b.Put(kContentGenerationKey, gen);
    ASSERT_OK(store_->kv().Write(b, true));
  }
  ASSERT_OK_AND_ASSIGN(SnapshotRecord second, RunBackup(kTime + 60));
  EXPECT_EQ(second.stats.files_cached, files_.size() - 1) << "only the lost content is re-read";
  EXPECT_EQ(second.stats.bytes_read, 300u * 1024);
  ASSERT_OK_AND_ASSIGN(bool back, store_->kv().Contains(ContentKey(medium.ref)));
  EXPECT_TRUE(back) << "the content was stored again";
  ExpectFilesMatch(second);
  // The entries were re-stamped: a third run is all hits again.
  ASSERT_OK_AND_ASSIGN(SnapshotRecord third, RunBackup(kTime + 120));
  EXPECT_EQ(third.stats.files_cached, files_.size());
}

TEST_F(IngestTest, DeletedFileIsGoneFromTheNextSnapshot) {
  BuildTree();
  ASSERT_OK_AND_ASSIGN(SnapshotRecord first, RunBackup(kTime));
  ASSERT_EQ(::unlink((src_ + "/small.txt").c_str()), 0);
  std::string small = files_["small.txt"];
  files_.erase("small.txt");
  ASSERT_OK_AND_ASSIGN(SnapshotRecord second, RunBackup(kTime + 60));
  Repo repo(store_.get());
  auto gone = repo.ResolvePath(second, "small.txt");
  ASSERT_CODE(gone, StatusCode::kNotFound);
  EXPECT_NE(gone.status().message().find("small.txt"), std::string::npos);
  ExpectFilesMatch(second);
  ASSERT_OK_AND_ASSIGN(std::string back, ReadBack(first, "small.txt"));
  EXPECT_EQ(back, small);
  EXPECT_EQ(second.stats.files_cached, files_.size());
}

TEST_F(IngestTest, SameTimeGetsSequenceSuffix) {
  AddFile("a", "1");
  ASSERT_OK_AND_ASSIGN(SnapshotRecord s0, RunBackup(kTime));
  ASSERT_OK_AND_ASSIGN(SnapshotRecord s1, RunBackup(kTime));
  ASSERT_OK_AND_ASSIGN(SnapshotRecord s2, RunBackup(kTime));
  EXPECT_EQ(s0.name, "2026-10-01_030000");
  EXPECT_EQ(s1.name, "2026-10-01_030000_1");
  EXPECT_EQ(s1.seq, 1u);
  EXPECT_EQ(s2.name, "2026-10-01_030000_2");
  Repo repo(store_.get());
  ASSERT_OK_AND_ASSIGN(std::vector<SnapshotRecord> all, repo.ListSnapshots("alice"));
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].name, s0.name);
  EXPECT_EQ(all[2].name, s2.name);
  ASSERT_OK_AND_ASSIGN(SnapshotRecord latest, repo.FindSnapshot("alice", "latest"));
  EXPECT_EQ(latest.name, s2.name);
  ASSERT_OK_AND_ASSIGN(SnapshotRecord by_name, repo.FindSnapshot("alice", "2026-10-01_030000_1"));
  EXPECT_EQ(by_name.seq, 1u);
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> users, repo.ListUsers());
  EXPECT_EQ(users, std::vector<std::string>{"alice"});
}

// Key order puts "_10" before "_2"; latest and the next suffix go by number.
TEST_F(IngestTest, SequenceSuffixesPastNineOrderByNumber) {
  AddFile("a", "1");
  for (int i = 0; i < 12; ++i) ASSERT_OK(RunBackup(kTime));
  Repo repo(store_.get());
  ASSERT_OK_AND_ASSIGN(SnapshotRecord latest, repo.FindSnapshot("alice", "latest"));
  EXPECT_EQ(latest.name, "2026-10-01_030000_11");
  ASSERT_OK_AND_ASSIGN(uint32_t next, repo.NextSeq("alice", kTime));
  EXPECT_EQ(next, 12u);
  ASSERT_OK_AND_ASSIGN(uint32_t free_second, repo.NextSeq("alice", kTime + 1));
  EXPECT_EQ(free_second, 0u);
}

TEST_F(IngestTest, FindSnapshotErrors) {
  AddFile("a", "1");
  ASSERT_OK(RunBackup(kTime));
  Repo repo(store_.get());
  auto no_user = repo.FindSnapshot("bob", "latest");
  ASSERT_CODE(no_user, StatusCode::kNotFound);
  EXPECT_NE(no_user.status().message().find("alice"), std::string::npos)
      << "lists the users there are: " << no_user.status().ToString();
  EXPECT_CODE(repo.FindSnapshot("alice", "2020-01-01_000000"), StatusCode::kNotFound);
  EXPECT_CODE(repo.FindSnapshot("alice", "yesterday"), StatusCode::kInvalidArgument);
  EXPECT_CODE(repo.FindSnapshot("Alice", "latest"), StatusCode::kInvalidArgument);
}

TEST_F(IngestTest, HardLinksShareContentAndLinkId) {
  AddFile("one", testing::RandomBytes(10000, 5));
  ASSERT_EQ(::link((src_ + "/one").c_str(), (src_ + "/two").c_str()), 0);
  files_["two"] = files_["one"];
  ASSERT_OK_AND_ASSIGN(SnapshotRecord rec, RunBackup());
  Repo repo(store_.get());
  ASSERT_OK_AND_ASSIGN(Entry one, repo.ResolvePath(rec, "one"));
  ASSERT_OK_AND_ASSIGN(Entry two, repo.ResolvePath(rec, "two"));
  EXPECT_NE(one.link_id, 0u);
  EXPECT_EQ(one.link_id, two.link_id);
  EXPECT_EQ(one.ref, two.ref);
  EXPECT_EQ(rec.stats.bytes_read, 10000u) << "a hard-linked file is read once";
  ExpectFilesMatch(rec);
  ASSERT_EQ(rec.links.size(), 1u) << "the record counts each hard-link group's names";
  EXPECT_EQ(rec.links[0], std::make_pair(one.link_id, uint64_t{2}));
  ASSERT_OK_AND_ASSIGN(SnapshotRecord stored, repo.FindSnapshot("alice", rec.name));
  EXPECT_EQ(stored.links, rec.links);
}

TEST_F(IngestTest, DirSizeCountsEverythingBelowIt) {
  BuildTree();
  ASSERT_OK_AND_ASSIGN(SnapshotRecord rec, RunBackup());
  Repo repo(store_.get());
  ASSERT_OK_AND_ASSIGN(Entry sub, repo.ResolvePath(rec, "sub"));
  EXPECT_EQ(sub.size, 4u) << "medium.bin, deep, deep/large.bin, deep/text.log";
  ASSERT_OK_AND_ASSIGN(Entry deep, repo.ResolvePath(rec, "sub/deep"));
  EXPECT_EQ(deep.size, 2u);
  ASSERT_OK_AND_ASSIGN(Entry empty, repo.ResolvePath(rec, "emptydir"));
  EXPECT_EQ(empty.size, 0u);
  EXPECT_EQ(EntrySpan(sub), 5u);
}

TEST_F(IngestTest, SnapshotsAndUsersGetDistinctNumbers) {
  AddFile("a", "x");
  ASSERT_OK_AND_ASSIGN(SnapshotRecord first, RunBackup(kTime));
  ASSERT_OK_AND_ASSIGN(SnapshotRecord second, RunBackup(kTime + 60));
  ASSERT_OK_AND_ASSIGN(std::optional<UserRecord> user, GetUser(*store_, "alice"));
  ASSERT_TRUE(user.has_value());
  EXPECT_GT(first.number, 0u);
  EXPECT_GT(second.number, first.number);
  EXPECT_NE(user->number, first.number);
  EXPECT_NE(user->number, second.number);
  Repo repo(store_.get());
  ASSERT_OK_AND_ASSIGN(SnapshotRecord stored, repo.FindSnapshot("alice", first.name));
  EXPECT_EQ(stored.number, first.number);
  // Numbers survive a reopen and are never handed out again.
  std::string dir = store_->dir();
  store_.reset();
  ASSERT_OK_AND_ASSIGN(store_, Store::Open(dir, OpenMode::kReadWrite));
  ASSERT_OK_AND_ASSIGN(uint64_t next, store_->AllocateNumber());
  EXPECT_GT(next, second.number);
  ASSERT_OK_AND_ASSIGN(UserRecord again, EnsureUser(store_.get(), "alice"));
  EXPECT_EQ(again.number, user->number) << "an existing user keeps its number";
}

TEST_F(IngestTest, SparseFileStoresOnlyItsData) {
  const uint64_t kSize = 64ull << 20, kAt = 10ull << 20;
  std::string data = testing::RandomBytes(8192, 6);
  std::string path = src_ + "/sparse";
  {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    ASSERT_TRUE(fd.valid());
    ASSERT_EQ(::ftruncate(fd.get(), static_cast<off_t>(kSize)), 0);
    ASSERT_OK(PwriteAll(fd.get(), data.data(), data.size(), kAt, path));
  }
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  if (static_cast<uint64_t>(st.st_blocks) * 512 >= kSize) {
    GTEST_SKIP() << "this file system does not keep the file sparse";
  }
  ASSERT_OK_AND_ASSIGN(SnapshotRecord rec, RunBackup());
  EXPECT_LT(rec.stats.bytes_read, 1u << 20) << "holes are not read";
  EXPECT_EQ(rec.stats.bytes_logical, kSize);
  Repo repo(store_.get());
  ASSERT_OK_AND_ASSIGN(Entry e, repo.ResolvePath(rec, "sparse"));
  EXPECT_EQ(e.size, kSize);
  ASSERT_OK_AND_ASSIGN(Content c, repo.GetContent(e.ref));
  EXPECT_FALSE(c.is_inline);
  EXPECT_EQ(c.size, kSize);
  bool has_hole = false;
  for (const ContentPart& p : c.parts) has_hole = has_hole || p.is_hole();
  EXPECT_TRUE(has_hole);
  EXPECT_GE(c.DataBytes(), data.size());
  EXPECT_LT(c.DataBytes(), 1u << 20);
  EXPECT_EQ(e.hole_bytes, kSize - c.DataBytes()) << "the entry knows its holes (st_blocks)";
  ASSERT_OK_AND_ASSIGN(SnapshotRecord again, RunBackup(kTime + 1));
  EXPECT_EQ(again.stats.files_cached, 1u);
  ASSERT_OK_AND_ASSIGN(Entry cached, repo.ResolvePath(again, "sparse"));
  EXPECT_EQ(cached.hole_bytes, e.hole_bytes) << "and keeps them through the files cache";
  ASSERT_OK_AND_ASSIGN(std::string back, ReadBack(rec, "sparse"));
  ASSERT_EQ(back.size(), kSize);
  EXPECT_EQ(back.substr(kAt, data.size()), data);
  EXPECT_TRUE(std::all_of(back.begin(), back.begin() + kAt, [](char ch) { return ch == '\0'; }));
  EXPECT_TRUE(std::all_of(back.begin() + kAt + data.size(), back.end(),
                          [](char ch) { return ch == '\0'; }));
}

TEST_F(IngestTest, AllHoleFileHasNoData) {
  std::string path = src_ + "/holes";
  {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    ASSERT_TRUE(fd.valid());
    ASSERT_EQ(::ftruncate(fd.get(), 16 << 20), 0);
  }
  ASSERT_OK_AND_ASSIGN(SnapshotRecord rec, RunBackup());
  Repo repo(store_.get());
  ASSERT_OK_AND_ASSIGN(Entry e, repo.ResolvePath(rec, "holes"));
  ASSERT_OK_AND_ASSIGN(Content c, repo.GetContent(e.ref));
  EXPECT_EQ(c.size, 16u << 20);
  EXPECT_EQ(c.DataBytes(), 0u);
  EXPECT_EQ(rec.stats.bytes_read, 0u);
  ASSERT_OK_AND_ASSIGN(std::string back, ReadBack(rec, "holes"));
  EXPECT_EQ(back, std::string(16 << 20, '\0'));
}

TEST_F(IngestTest, BackupRefusesBadInput) {
  AddFile("a", "1");
  BackupOptions o;
  o.user = "Not Valid";
  o.source = src_;
  EXPECT_CODE(Backup(store_.get(), o, nullptr), StatusCode::kInvalidArgument);
  o.user = "alice";
  o.source = tmp_.Join("no_such_source");
  EXPECT_CODE(Backup(store_.get(), o, nullptr), StatusCode::kNotFound);
  Repo repo(store_.get());
  ASSERT_OK_AND_ASSIGN(std::vector<SnapshotRecord> snaps, repo.ListSnapshots("alice"));
  EXPECT_TRUE(snaps.empty()) << "a failed backup leaves no snapshot";
  // A read-only store cannot take a backup.
  store_.reset();
  ASSERT_OK_AND_ASSIGN(store_, Store::Open(tmp_.Join("store"), OpenMode::kReadOnly));
  o.source = src_;
  EXPECT_FALSE(Backup(store_.get(), o, nullptr).ok());
}

TEST_F(IngestTest, ProgressCountersMatchTheRecord) {
  BuildTree();
  BackupProgress progress;
  BackupOptions o;
  o.user = "alice";
  o.source = src_;
  o.time_sec = kTime;
  ASSERT_OK_AND_ASSIGN(SnapshotRecord rec, Backup(store_.get(), o, &progress));
  EXPECT_EQ(progress.counters.files.load(), rec.stats.files);
  EXPECT_EQ(progress.counters.bytes_read.load(), rec.stats.bytes_read);
  EXPECT_EQ(progress.counters.dirs.load(), rec.stats.dirs);
}

TEST_F(IngestTest, SnapshotSurvivesReopen) {
  BuildTree();
  ASSERT_OK_AND_ASSIGN(SnapshotRecord rec, RunBackup());
  store_.reset();
  ASSERT_OK_AND_ASSIGN(store_, Store::Open(tmp_.Join("store"), OpenMode::kReadOnly));
  Repo repo(store_.get());
  ASSERT_OK_AND_ASSIGN(SnapshotRecord latest, repo.FindSnapshot("alice", "latest"));
  EXPECT_EQ(latest.root, rec.root);
  EXPECT_EQ(latest.stats.files, rec.stats.files);
  ExpectFilesMatch(latest);
}

}  // namespace
}  // namespace keepfs::snapshot
