// The auditor on a real store: clean after ordinary work; a count or holder
// that a bug lost is raised back before the collector can delete what it
// protects; an excess is reported and kept; orphans that an interrupted
// backup would leave are queued and then collected.
#include "gc/audit.h"

#include <gtest/gtest.h>

#include "gc/collector.h"
#include "gc/prune.h"
#include "snapshot/accounting.h"
#include "snapshot/catalog.h"
#include "snapshot/content.h"
#include "snapshot/repo.h"
#include "store/coding.h"
#include "store/file_util.h"
#include "tests/testing/backup_util.h"
#include "tests/testing/pack_oracle.h"
#include "tests/testing/gc_util.h"
#include "tests/testing/refs_oracle.h"
#include "tests/testing/test_util.h"

namespace keepfs::gc {
namespace {

constexpr int64_t kNov1 = 1793491200;  // 2026-11-01T00:00:00Z

class AuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(store_, testing::InitAndOpen(tmp_.Join("store")));
    src_ = tmp_.Join("src");
    ASSERT_OK(MakeDirs(src_));
    data_ = testing::RandomBytes(300000, 5);
    ASSERT_OK(testing::WriteFile(src_ + "/f", data_));
    ASSERT_OK(testing::WriteFile(src_ + "/small", "tiny"));
    snap_ = testing::BackupOrFail(store_.get(), "alice", src_, kNov1);
    testing::BackupOrFail(store_.get(), "bob", src_, kNov1);
    ASSERT_OK_AND_ASSIGN(auto e, snapshot::Repo(store_.get()).ResolvePath(snap_, "f"));
    ASSERT_OK_AND_ASSIGN(auto c, snapshot::Repo(store_.get()).GetContent(e.ref));
    chunk_ = c.parts[0].chunk;
  }

  AuditResult Run(bool dry_run) {
    AuditOptions o;
    o.dry_run = dry_run;
    auto r = Audit(store_.get(), o);
    EXPECT_OK(r);
    return r.ok() ? *r : AuditResult{};
  }

  GcResult Collect() { return testing::RunGc(store_.get(), testing::ReclaimOptions()); }

  void Delete(const std::string& key) {
    WriteBatch b;
    b.Delete(key);
    ASSERT_OK(store_->kv().Write(b, true));
  }

  testing::TempDir tmp_;
  std::string src_, data_;
  snapshot::SnapshotRecord snap_;
  ObjectId chunk_;
  std::unique_ptr<Store> store_;
};

TEST_F(AuditTest, OrdinaryWorkIsClean) {
  ASSERT_OK(ForgetSnapshot(store_.get(), "bob", "latest", kNov1).status());
  AuditResult r = Run(false);
  EXPECT_TRUE(r.clean()) << AuditText(r);
  EXPECT_EQ(r.users, 2u);
  EXPECT_GT(r.references, 3u);
  EXPECT_EQ(r.orphans, 0u) << "forgotten objects are queued already";
  EXPECT_GT(r.records_swept, 0u);
}

TEST_F(AuditTest, LostHoldersAndCountsAreRaisedBeforeTheCollectorCanDeleteData) {
  // A bug lost the chunk's holder list and alice's count of it.
  Delete(snapshot::HolderKey('c', chunk_));
  Delete(snapshot::RefKey("alice", 'c', chunk_));
  {
    // What the bug would let happen: with the chunk queued, the collector
    // finds no holder. The auditor runs first.
    WriteBatch b;
    b.Put(snapshot::CandidateKey(std::string(1, 'c') + std::string(chunk_.AsBytes())), "");
    ASSERT_OK(store_->kv().Write(b, true));
  }
  AuditResult dry = Run(true);
  EXPECT_EQ(dry.raised, 1u);
  EXPECT_EQ(dry.holders_added, 2u) << "the lost record listed both users";
  EXPECT_FALSE(dry.clean());
  EXPECT_FALSE(store_->kv().Contains(snapshot::HolderKey('c', chunk_)).value()) << "dry run";

  AuditResult r = Run(false);
  EXPECT_EQ(r.raised, 1u);
  EXPECT_GE(r.findings.size(), 2u);
  EXPECT_NE(AuditText(r).find("bug in keepfs"), std::string::npos);
  testing::ExpectRefsConsistent(store_.get());
  GcResult g = Collect();
  EXPECT_EQ(g.chunks, 0u) << "the holder is back: nothing reachable is deleted";
  auto got = testing::ReadSnapshotFile(store_.get(), snap_, "f");
  ASSERT_OK(got);
  EXPECT_TRUE(*got == data_);
  EXPECT_TRUE(Run(false).clean());
}

TEST_F(AuditTest, AnExcessIsReportedAndKept) {
  std::string v;
  Encoder(&v).PutVarint(7);
  WriteBatch b;
  b.Put(snapshot::RefKey("alice", 'c', chunk_), v);
  ASSERT_OK(store_->kv().Write(b, true));
  AuditResult r = Run(false);
  EXPECT_EQ(r.over, 1u);
  EXPECT_EQ(r.raised, 0u);
  std::string now;
  ASSERT_TRUE(store_->kv().Get(snapshot::RefKey("alice", 'c', chunk_), &now).value());
  EXPECT_EQ(now, v) << "an auditor never lowers a count";
}

TEST_F(AuditTest, OrphansOfAnInterruptedBackupAreQueuedAndCollected) {
  // What a backup killed after writing its records but before its commit
  // leaves: a chunk in a sealed pack and a content record nobody references.
  const std::string orphan = testing::RandomBytes(50000, 77);
  const ObjectId chunk = Sha256::Of(orphan);
  Compressor c(1);
  ASSERT_OK(store_->chunks().Put(chunk, orphan, c).status());
  ASSERT_OK(store_->chunks().Flush());
  snapshot::Content content;
  content.size = orphan.size();
  content.parts.push_back({chunk, orphan.size()});
  const ObjectId cid = snapshot::ContentId(content);
  WriteBatch b;
  b.Put(snapshot::ContentKey(cid), snapshot::EncodeContent(content, &c));
  ASSERT_OK(store_->kv().Write(b, true));

  GcResult before = Collect();
  EXPECT_EQ(before.chunks, 0u) << "nothing queues an orphan but the auditor";
  AuditResult r = Run(false);
  EXPECT_TRUE(r.clean()) << "orphans are not disagreements: " << AuditText(r);
  EXPECT_EQ(r.orphans, 2u);
  GcResult g = Collect();
  EXPECT_EQ(g.contents, 1u);
  EXPECT_EQ(g.chunks, 1u);
  EXPECT_FALSE(store_->chunks().Lookup(chunk).value().has_value());
  testing::ExpectRefsConsistent(store_.get());
  testing::ExpectPacksExact(store_.get());
  EXPECT_EQ(Run(false).orphans, 0u);
}

}  // namespace
}  // namespace keepfs::gc
