// Ingest of files whose size lies, as /proc, /sys and FUSE file systems
// can: a SourceFs whose stat and reads disagree on purpose (issue 9, "Bad
// input at the edges"; the real /proc and /sys are in
// tests/tools/hostile_source_test.cc). Whatever a file claims, the backup
// ends, stores bytes the file gave at the offsets it gave them (never
// shifted, never invented) or lists an error, and lists every file whose
// reads and size disagreed.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <vector>

#include "snapshot/ingest.h"
#include "snapshot/repo.h"
#include "tests/testing/backup_util.h"
#include "tests/testing/test_util.h"

namespace keepfs::snapshot {
namespace {

std::string Or(const Result<std::string>& r, const std::string& fallback) {
  return r.ok() ? *r : fallback;
}

constexpr uint64_t kMiB = 1 << 20;

// One lying file: what stat says, and what reads give.
struct Liar {
  uint64_t stat_size = 0;
  uint64_t stat_blocks = 0;  // 512-byte units; fewer than the size: "sparse"
  // Data regions [start, start + bytes.size()); a read elsewhere before
  // `end` gives 0 bytes (end of file), past the last region too.
  std::map<uint64_t, std::string> regions;
  bool endless = false;  // reads always give data (a pattern), forever
  // What SEEK_DATA/SEEK_HOLE claim: extents [start, end); empty: NotSupported.
  std::vector<std::pair<uint64_t, uint64_t>> extents;
};

uint8_t PatternByte(uint64_t offset) { return static_cast<uint8_t>((offset * 2654435761u) >> 13); }

// The served bytes, shared by every handle, so the test can bound them.
struct Served {
  std::atomic<uint64_t> bytes{0};
};

class LiarFile final : public SourceFile {
 public:
  LiarFile(const Liar& l, Served* served) : l_(l), served_(served) {}
  Status Stat(struct stat* st) override {
    *st = {};
    st->st_mode = S_IFREG | 0644;
    st->st_nlink = 1;
    st->st_ino = 7;
    st->st_size = static_cast<off_t>(l_.stat_size);
    st->st_blocks = static_cast<blkcnt_t>(l_.stat_blocks);
    return Status::OK();
  }
  Result<size_t> ReadAt(uint64_t offset, void* buf, size_t n) override {
    // A guard for the test itself: a reader that never stops fails here
    // instead of running forever.
    if (served_->bytes.load() > (1ull << 30))
      return Status::FromErrno(EIO, "test: read past 1 GiB");
    uint8_t* out = static_cast<uint8_t*>(buf);
    if (l_.endless) {
      for (size_t i = 0; i < n; ++i) out[i] = PatternByte(offset + i);
      served_->bytes += n;
      return n;
    }
    auto it = l_.regions.upper_bound(offset);
    if (it == l_.regions.begin()) return size_t{0};
    --it;
    if (offset >= it->first + it->second.size()) return size_t{0};
    size_t got = std::min<size_t>(n, it->first + it->second.size() - offset);
    std::memcpy(out, it->second.data() + (offset - it->first), got);
    served_->bytes += got;
    return got;
  }
  Result<std::optional<uint64_t>> NextData(uint64_t offset) override {
    if (l_.extents.empty()) return Status::NotSupported("no SEEK_DATA");
    for (const auto& [s, e] : l_.extents) {
      if (offset < e) return std::optional<uint64_t>(std::max(s, offset));
    }
    return std::optional<uint64_t>();
  }
  Result<uint64_t> NextHole(uint64_t offset) override {
    for (const auto& [s, e] : l_.extents) {
      if (offset >= s && offset < e) return e;
    }
    return offset;
  }
  Result<std::vector<Xattr>> Xattrs() override { return std::vector<Xattr>(); }

 private:
  Liar l_;
  Served* served_;
};

class LiarDir final : public SourceDir {
 public:
  LiarDir(const std::map<std::string, Liar>* files, Served* served)
      : files_(files), served_(served) {}
  Status StatSelf(struct stat* st) override {
    *st = {};
    st->st_mode = S_IFDIR | 0755;
    st->st_nlink = 2;
    return Status::OK();
  }
  Result<std::vector<Xattr>> XattrsSelf() override { return std::vector<Xattr>(); }
  Result<std::vector<std::string>> List() override {
    std::vector<std::string> names;
    for (const auto& [name, l] : *files_) names.push_back(name);
    return names;
  }
  Status Stat(const std::string& name, struct stat* st) override {
    auto it = files_->find(name);
    if (it == files_->end()) return Status::FromErrno(ENOENT, "stat");
    return LiarFile(it->second, served_).Stat(st);
  }
  Result<std::vector<Xattr>> Xattrs(const std::string&) override { return std::vector<Xattr>(); }
  Result<std::string> ReadLink(const std::string&) override {
    return Status::FromErrno(EINVAL, "readlink");
  }
  Result<std::unique_ptr<SourceDir>> OpenDir(const std::string&) override {
    return Status::FromErrno(ENOTDIR, "opening directory");
  }
  Result<std::unique_ptr<SourceFile>> OpenFile(const std::string& name) override {
    auto it = files_->find(name);
    if (it == files_->end()) return Status::FromErrno(ENOENT, "opening");
    return std::unique_ptr<SourceFile>(new LiarFile(it->second, served_));
  }

 private:
  const std::map<std::string, Liar>* files_;
  Served* served_;
};

class LiarFs final : public SourceFs {
 public:
  std::map<std::string, Liar> files;
  Served served;
  Result<std::unique_ptr<SourceDir>> OpenRoot(const std::string&) override {
    return std::unique_ptr<SourceDir>(new LiarDir(&files, &served));
  }
};

class LyingSourceTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK_AND_ASSIGN(store_, testing::InitAndOpen(tmp_.Join("store"))); }

  Result<SnapshotRecord> RunBackup() {
    BackupOptions o;
    o.user = "liar";
    o.source = "/liar";
    o.time_sec = 1790823600;
    o.workers = 2;
    o.source_fs = &fs_;
    return Backup(store_.get(), o, nullptr);
  }

  static std::string ErrorOf(const SnapshotRecord& r, const std::string& path) {
    for (const auto& e : r.errors) {
      if (e.path == path) return e.message;
    }
    return "";
  }

  testing::TempDir tmp_;
  std::unique_ptr<Store> store_;
  LiarFs fs_;
};

// stat says 0 bytes, reads give 10000 (/proc/self/status); stat says 1 MiB,
// reads give 100 (a sysfs attribute says 4096): what was read is stored, and
// the file is listed, saying that its size and its reads disagreed.
TEST_F(LyingSourceTest, WhatWasReadIsStoredAndTheDisagreementIsListed) {
  const std::string ten_k = testing::RandomBytes(10000, 1), hundred = testing::RandomBytes(100, 2);
  fs_.files["says-0"] = Liar{.stat_size = 0, .regions = {{0, ten_k}}};
  fs_.files["says-1mib"] = Liar{.stat_size = kMiB, .stat_blocks = 2048, .regions = {{0, hundred}}};
  fs_.files["honest"] = Liar{.stat_size = 5, .stat_blocks = 8, .regions = {{0, "12345"}}};
  ASSERT_OK_AND_ASSIGN(SnapshotRecord rec, RunBackup());
  EXPECT_EQ(Or(testing::ReadSnapshotFile(store_.get(), rec, "says-0"), ""), ten_k);
  EXPECT_EQ(Or(testing::ReadSnapshotFile(store_.get(), rec, "says-1mib"), ""), hundred);
  EXPECT_EQ(Or(testing::ReadSnapshotFile(store_.get(), rec, "honest"), ""), "12345");
  EXPECT_NE(ErrorOf(rec, "says-0").find("size"), std::string::npos) << ErrorOf(rec, "says-0");
  EXPECT_NE(ErrorOf(rec, "says-1mib").find("size"), std::string::npos) << ErrorOf(rec, "says-1mib");
  EXPECT_EQ(ErrorOf(rec, "honest"), "");
}

// Reads that never end (/proc/PID/pagemap says 0 and gives 256 GiB; a FUSE
// file can give data forever): the backup stops reading at a bound past
// the size it saw, stores that prefix and lists the file.
TEST_F(LyingSourceTest, AFileThatNeverEndsIsReadUpToABoundAndListed) {
  fs_.files["endless"] = Liar{.stat_size = 0, .endless = true};
  fs_.files["endless-1mib"] = Liar{.stat_size = kMiB, .stat_blocks = 2048, .endless = true};
  ASSERT_OK_AND_ASSIGN(SnapshotRecord rec, RunBackup());
  EXPECT_LT(fs_.served.bytes.load(), 200 * kMiB) << "read far past the sizes the files gave";
  for (const char* name : {"endless", "endless-1mib"}) {
    Result<std::string> got = testing::ReadSnapshotFile(store_.get(), rec, name);
    ASSERT_OK(got);
    EXPECT_GT(got->size(), 0u) << name;
    bool pattern = true;
    for (size_t i = 0; i < got->size() && pattern; ++i) {
      pattern = static_cast<uint8_t>((*got)[i]) == PatternByte(i);
    }
    EXPECT_TRUE(pattern) << name << ": stored bytes are not the file's";
    EXPECT_NE(ErrorOf(rec, name), "") << name << " is not listed";
  }
}

// A "sparse" file (fewer blocks than bytes) whose extents say data at
// [0, 1 MiB) and [2 MiB, 3 MiB) while reads give only 100 bytes of the first
// extent and all of the second. Every stored byte must be the file's byte
// at that offset: the second extent's data never moves up to fill the gap.
TEST_F(LyingSourceTest, ShortExtentsNeverShiftLaterDataToOtherOffsets) {
  const std::string head = testing::RandomBytes(100, 3), tail = testing::RandomBytes(kMiB, 4);
  fs_.files["short-extent"] = Liar{.stat_size = 3 * kMiB,
                                   .stat_blocks = 0,
                                   .regions = {{0, head}, {2 * kMiB, tail}},
                                   .extents = {{0, kMiB}, {2 * kMiB, 3 * kMiB}}};
  ASSERT_OK_AND_ASSIGN(SnapshotRecord rec, RunBackup());
  Result<std::string> got = testing::ReadSnapshotFile(store_.get(), rec, "short-extent");
  if (!got.ok()) {
    EXPECT_NE(ErrorOf(rec, "short-extent"), "");
    return;
  }
  auto truth = [&](uint64_t i) -> char {
    if (i < head.size()) return head[i];
    if (i >= 2 * kMiB && i < 3 * kMiB) return tail[i - 2 * kMiB];
    return 0;
  };
  uint64_t wrong = 0;
  for (uint64_t i = 0; i < got->size(); ++i) wrong += (*got)[i] != truth(i);
  EXPECT_EQ(wrong, 0u) << "of " << got->size() << " stored bytes";
  EXPECT_NE(ErrorOf(rec, "short-extent"), "") << "a short read is not listed";
}

}  // namespace
}  // namespace keepfs::snapshot
