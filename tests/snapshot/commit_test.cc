// CommitSnapshot on trees built without a walk (as tools/bench/make_history
// builds them): the snapshots are named, counted and checkable, an unchanged
// folder is reused by id, and a cancelled commit leaves nothing.
#include "snapshot/commit.h"

#include <gtest/gtest.h>

#include "snapshot/catalog.h"
#include "snapshot/file_ingester.h"
#include "snapshot/repo.h"
#include "tests/testing/backup_util.h"
#include "tests/testing/check_util.h"
#include "tests/testing/fake_source_fs.h"
#include "tests/testing/test_util.h"

namespace keepfs::snapshot {
namespace {

constexpr int64_t kDay1 = 1790823600;  // 2026-10-01T03:00:00Z

// What one commit stores: like a backup's walker, without the walk.
struct Pass {
  explicit Pass(Store* store)
      : store(store), meta(store, 1 << 20), hold(store->guard().NewBackupHold()),
        commits_at_start(store->backup_commits()) {}

  // A file entry whose content the real FileIngester stored.
  Entry File(testing::FakeSourceFs& fs, const std::string& name) {
    auto dir = fs.OpenRoot("");
    EXPECT_OK(dir.status());
    FileIngester ingester(store, &meta, &counters, &chunk_pool, &fresh, hold.get());
    auto r = ingester.Ingest(**dir, name);
    EXPECT_OK(r.status());
    Entry e;
    e.name = name;
    e.mode = 0644;
    e.size = r->size;
    e.ref = r->content_id;
    return e;
  }
  Entry Dir(const std::string& name, std::vector<Entry> entries) {
    Entry e;
    e.name = name;
    e.type = EntryType::kDir;
    e.mode = 0755;
    for (const Entry& c : entries) e.size += EntrySpan(c);
    e.ref = Tree(std::move(entries));
    return e;
  }
  ObjectId Tree(std::vector<Entry> entries) {
    auto id = WriteTree(std::move(entries), [&](std::string encoded) -> Result<ObjectId> {
      ObjectId id = Sha256::Of(encoded);
      hold->Add('t', id);
      KEEPFS_ASSIGN_OR_RETURN(bool exists, store->kv().Contains(TreeKey(id)));
      if (!exists) {
        meta.Put(TreeKey(id), std::move(encoded));
        fresh.AddTree(id);
      }
      return id;
    });
    EXPECT_OK(id.status());
    return id.ok() ? *id : ObjectId();
  }
  Result<SnapshotRecord> Commit(const ObjectId& root, int64_t time,
                                const std::atomic<bool>* cancel = nullptr) {
    SnapshotRecord rec;
    rec.user = "alice";
    rec.root = root;
    rec.time_sec = time;
    CommitOptions o;
    o.fresh = &fresh;
    o.commits_at_start = commits_at_start;
    o.cancel = cancel;
    return CommitSnapshot(store, &meta, std::move(rec), o);
  }

  Store* store;
  MetaBuffer meta;
  NewObjects fresh;
  std::unique_ptr<ObjectGuard::Hold> hold;
  uint64_t commits_at_start;
  IngestCounters counters;
  ThreadPool chunk_pool{2, 8};
};

class CommitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(store_, testing::InitAndOpen(tmp_.Join("store")));
    fs_.AddFile("report.txt", "first\n");
    fs_.AddFile("big.bin", testing::RandomBytes(300 * 1024, 3));
  }
  testing::TempDir tmp_;
  std::unique_ptr<Store> store_;
  testing::FakeSourceFs fs_;
};

TEST_F(CommitTest, TreesBuiltDirectlyCommitAndCheckClean) {
  ObjectId kept;
  {
    Pass p(store_.get());
    Entry kept_dir = p.Dir("kept", {p.File(fs_, "big.bin")});
    kept = kept_dir.ref;
    Entry docs = p.Dir("docs", {p.File(fs_, "report.txt")});
    ASSERT_OK_AND_ASSIGN(SnapshotRecord rec, p.Commit(p.Tree({docs, kept_dir}), kDay1));
    EXPECT_EQ(rec.name, "2026-10-01_030000");
    EXPECT_NE(rec.number, 0u);
  }
  {
    // The next day only docs/ changes; kept/ is the same tree, stored once.
    fs_.Modify("report.txt", "second\n");
    Pass p(store_.get());
    Entry kept_dir = p.Dir("kept", {p.File(fs_, "big.bin")});
    EXPECT_EQ(kept_dir.ref, kept);
    EXPECT_FALSE(p.fresh.Has('t', kept));
    Entry docs = p.Dir("docs", {p.File(fs_, "report.txt")});
    ASSERT_OK(p.Commit(p.Tree({docs, kept_dir}), kDay1 + 86400).status());
  }
  Repo repo(store_.get());
  ASSERT_OK_AND_ASSIGN(auto snaps, repo.ListSnapshots("alice"));
  ASSERT_EQ(snaps.size(), 2u);
  ASSERT_OK_AND_ASSIGN(std::string day2, testing::ReadSnapshotFile(store_.get(), snaps[1], "docs/report.txt"));
  EXPECT_EQ(day2, "second\n");
  testing::ExpectCheckClean(store_.get());
}

TEST_F(CommitTest, ACancelledCommitLeavesNoSnapshot) {
  Pass p(store_.get());
  Entry docs = p.Dir("docs", {p.File(fs_, "report.txt")});
  std::atomic<bool> cancel{true};
  auto r = p.Commit(p.Tree({docs}), kDay1, &cancel);
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled);
  ASSERT_OK_AND_ASSIGN(auto snaps, Repo(store_.get()).ListSnapshots("alice"));
  EXPECT_TRUE(snaps.empty());
}

}  // namespace
}  // namespace keepfs::snapshot
