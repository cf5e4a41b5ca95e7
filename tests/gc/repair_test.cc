// keepfs repair on real damage: a flipped byte in a pack, a deleted pack, a
// truncated pack, a corrupted RocksDB value and a missing tree node, each
// mended from a store-backup copy of the store; chunks found again in a
// source tree; what cannot be mended quarantined (reads keep failing, the
// snapshot is marked) until a copy that has it is given. After every repair
// the check is clean, every file reads back byte-identical, the pack records
// and reference counts are exact, and a second repair finds nothing to do.
#include "gc/repair.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <set>

#include "snapshot/accounting.h"
#include "snapshot/catalog.h"
#include "snapshot/quarantine.h"
#include "snapshot/repo.h"
#include "store/chunk_store.h"
#include "store/file_util.h"
#include "store/pack.h"
#include "store/store_backup.h"
#include "tests/testing/backup_util.h"
#include "tests/testing/damage_util.h"
#include "tests/testing/check_util.h"
#include "tests/testing/pack_oracle.h"
#include "tests/testing/refs_oracle.h"
#include "tests/testing/test_util.h"

namespace keepfs::gc {
namespace {

using snapshot::SnapshotRecord;

constexpr int64_t kDay1 = 1790823600;  // 2026-10-01T03:00:00Z

class RepairTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(store_, testing::InitAndOpen(tmp_.Join("store")));
    src_ = tmp_.Join("src");
    ASSERT_OK(MakeDirs(src_ + "/docs/deep"));
    Write("docs/report.bin", 300000, 1);
    Write("docs/deep/notes.bin", 200000, 2);
    Write("photo.bin", 400000, 3);
    a1_ = testing::BackupOrFail(store_.get(), "alice", src_, kDay1);
    Write("photo.bin", 400000, 4);  // day 2: photo.bin changes
    a2_ = testing::BackupOrFail(store_.get(), "alice", src_, kDay1 + 86400);
    b1_ = testing::BackupOrFail(store_.get(), "bob", src_, kDay1 + 86400);
    StoreBackupOptions o;
    o.dest = copy_;
    ASSERT_OK(BackupStore(store_.get(), o));
    // On one filesystem the copy hard-links the store's packs (same disk
    // blocks); as a copy on another disk, it must not share the damage.
    ASSERT_OK(testing::UnshareFiles(copy_ + "/packs"));
  }

  void Write(const std::string& rel, size_t size, uint64_t seed) {
    ASSERT_OK(testing::WriteFile(src_ + "/" + rel, testing::RandomBytes(size, seed)));
    bytes_[rel + "@" + std::to_string(seed)] = testing::RandomBytes(size, seed);
  }

  struct Outcome {
    RepairSummary summary;
    std::map<std::string, RepairedObject> objects;  // "kind id"
  };
  Outcome Repair(RepairOptions o) {
    Outcome out;
    auto s = RepairStore(store_.get(), o, [&](const RepairedObject& r) {
      out.objects[r.found.kind + " " + r.found.id] = r;
    });
    EXPECT_OK(s);
    if (s.ok()) out.summary = *s;
    return out;
  }
  RepairOptions FromCopy() {
    RepairOptions o;
    o.mirrors = {copy_};
    return o;
  }

  snapshot::Repo repo() { return snapshot::Repo(store_.get()); }
  ObjectId ContentOf(const SnapshotRecord& snap, const std::string& path) {
    return testing::ContentOfFile(store_.get(), snap, path);
  }
  ObjectId FirstChunk(const ObjectId& content) { return testing::FirstChunkOf(store_.get(), content); }
  ChunkLoc Where(const ObjectId& chunk) { return testing::LocationOf(store_.get(), chunk); }
  std::string PackPath(uint64_t pack) { return store_->dir() + "/" + PackRelPath(pack); }

  // Every file of every snapshot reads back as it was written.
  void ExpectAllFilesIntact() {
    const std::vector<std::pair<SnapshotRecord, std::vector<std::pair<std::string, std::string>>>> want = {
        {a1_, {{"docs/report.bin", "docs/report.bin@1"}, {"docs/deep/notes.bin", "docs/deep/notes.bin@2"},
               {"photo.bin", "photo.bin@3"}}},
        {a2_, {{"docs/report.bin", "docs/report.bin@1"}, {"photo.bin", "photo.bin@4"}}},
        {b1_, {{"docs/deep/notes.bin", "docs/deep/notes.bin@2"}, {"photo.bin", "photo.bin@4"}}}};
    for (const auto& [snap, files] : want) {
      for (const auto& [path, key] : files) {
        auto got = testing::ReadSnapshotFile(store_.get(), snap, path);
        ASSERT_OK(got) << snap.user << "/" << snap.name << ":" << path;
        EXPECT_TRUE(*got == bytes_[key]) << snap.user << "/" << snap.name << ":" << path;
      }
    }
  }

  // The state a repair must leave: clean, exact, readable, and nothing left
  // for the next repair to do.
  void ExpectMended() {
    testing::ExpectCheckClean(store_.get());
    testing::ExpectPacksExact(store_.get());
    testing::ExpectRefsConsistent(store_.get());
    ExpectAllFilesIntact();
    ASSERT_OK_AND_ASSIGN(auto q, snapshot::ListQuarantine(store_.get(), ""));
    EXPECT_TRUE(q.empty());
    ASSERT_OK_AND_ASSIGN(auto packs, store_->chunks().ListPacks());
    Outcome again = Repair(FromCopy());
    EXPECT_EQ(again.summary.problems, 0u);
    EXPECT_TRUE(again.summary.clean());
    ASSERT_OK_AND_ASSIGN(auto after, store_->chunks().ListPacks());
    EXPECT_EQ(after.size(), packs.size()) << "a second repair writes nothing";
  }

  testing::TempDir tmp_;
  std::string src_, copy_ = tmp_.Join("copy");
  std::unique_ptr<Store> store_;
  SnapshotRecord a1_, a2_, b1_;
  std::map<std::string, std::string> bytes_;
};

TEST_F(RepairTest, AFlippedByteIsMendedFromAStoreBackupAndTheDamagedPackRetired) {
  const ObjectId chunk = FirstChunk(ContentOf(a1_, "docs/report.bin"));
  const ChunkLoc loc = Where(chunk);
  ASSERT_OK(testing::FlipByte(PackPath(loc.pack_id), loc.offset + 7));
  EXPECT_FALSE(testing::ReadSnapshotFile(store_.get(), a1_, "docs/report.bin").ok());
  Outcome r = Repair(FromCopy());
  ASSERT_TRUE(r.objects.count("chunk " + chunk.ToHex()));
  EXPECT_EQ(r.objects["chunk " + chunk.ToHex()].outcome, "repaired");
  EXPECT_EQ(r.objects["chunk " + chunk.ToHex()].source, "mirror " + copy_);
  EXPECT_EQ(r.summary.unrepaired, 0u);
  EXPECT_EQ(r.summary.chunks_fetched, 1u);
  EXPECT_GT(r.summary.chunks_moved, 0u) << "the pack's intact chunks move out with it";
  EXPECT_EQ(r.summary.packs_retired, 1u);
  EXPECT_FALSE(PathExists(PackPath(loc.pack_id))) << "the damaged pack is gone";
  ExpectMended();
}

TEST_F(RepairTest, ADeletedPackIsRefetchedWhole) {
  const ChunkLoc loc = Where(FirstChunk(ContentOf(a1_, "docs/report.bin")));
  ASSERT_EQ(::unlink(PackPath(loc.pack_id).c_str()), 0);
  Outcome r = Repair(FromCopy());
  EXPECT_EQ(r.summary.unrepaired, 0u);
  EXPECT_EQ(r.objects["pack " + std::to_string(loc.pack_id)].outcome, "repaired");
  EXPECT_GE(r.summary.chunks_fetched, 3u);
  EXPECT_EQ(r.summary.packs_retired, 1u);
  ExpectMended();
}

TEST_F(RepairTest, ATruncatedPackIsMendedAndItsIntactChunksMoved) {
  const ObjectId chunk = FirstChunk(ContentOf(a2_, "photo.bin"));
  const ChunkLoc loc = Where(chunk);
  ASSERT_EQ(::truncate(PackPath(loc.pack_id).c_str(), static_cast<off_t>(loc.offset + 10)), 0);
  Outcome r = Repair(FromCopy());
  EXPECT_EQ(r.summary.unrepaired, 0u);
  EXPECT_EQ(r.objects["chunk " + chunk.ToHex()].outcome, "repaired");
  ExpectMended();
}

TEST_F(RepairTest, ACorruptedContentRecordIsRestoredFromTheCopy) {
  const ObjectId notes = ContentOf(a1_, "docs/deep/notes.bin");
  std::string good, v;
  ASSERT_OK_AND_ASSIGN(bool found, store_->kv().Get(snapshot::ContentKey(notes), &good));
  ASSERT_TRUE(found);
  v = good;
  v[v.size() / 2] ^= 0x40;
  WriteBatch b;
  b.Put(snapshot::ContentKey(notes), v);
  ASSERT_OK(store_->kv().Write(b, true));
  Outcome r = Repair(FromCopy());
  EXPECT_EQ(r.objects["content " + notes.ToHex()].outcome, "repaired");
  EXPECT_EQ(r.summary.records_fetched, 1u);
  ASSERT_OK_AND_ASSIGN(found, store_->kv().Get(snapshot::ContentKey(notes), &v));
  EXPECT_TRUE(v == good);
  ExpectMended();
}

TEST_F(RepairTest, AMissingTreeNodeIsRestoredFromTheCopy) {
  auto deep = repo().ResolvePath(a1_, "docs/deep");
  ASSERT_OK(deep);
  WriteBatch b;
  b.Delete(snapshot::TreeKey(deep->ref));
  ASSERT_OK(store_->kv().Write(b, true));
  Outcome r = Repair(FromCopy());
  EXPECT_EQ(r.objects["tree " + deep->ref.ToHex()].outcome, "repaired");
  ExpectMended();
}

TEST_F(RepairTest, ALostRecordAndTheChunksItNamesComeBackTogether) {
  // The content record and its only chunk are both gone: the record from
  // the copy names the chunk, which is then fetched too.
  const ObjectId notes = ContentOf(a1_, "docs/deep/notes.bin");
  const ObjectId chunk = FirstChunk(notes);
  WriteBatch b;
  b.Delete(snapshot::ContentKey(notes));
  b.Delete(ChunkStore::ChunkKey(chunk));
  ASSERT_OK(store_->kv().Write(b, true));
  Outcome r = Repair(FromCopy());
  EXPECT_EQ(r.summary.unrepaired, 0u);
  EXPECT_EQ(r.summary.records_fetched, 1u);
  EXPECT_GE(r.summary.chunks_fetched, 1u);
  testing::ExpectCheckClean(store_.get());
  ExpectAllFilesIntact();
}

TEST_F(RepairTest, ChunksAreFoundAgainInASourceTree) {
  // report.bin is unchanged in the source; photo.bin of day 1 is not there
  // any more (day 2 overwrote it).
  const ObjectId report = FirstChunk(ContentOf(a1_, "docs/report.bin"));
  const ObjectId old_photo = FirstChunk(ContentOf(a1_, "photo.bin"));
  for (const ObjectId& c : {report, old_photo}) {
    const ChunkLoc loc = Where(c);
    ASSERT_OK(testing::FlipByte(PackPath(loc.pack_id), loc.offset + 5));
  }
  RepairOptions o;
  o.source_dirs = {src_};
  Outcome r = Repair(o);
  EXPECT_EQ(r.objects["chunk " + report.ToHex()].outcome, "repaired");
  EXPECT_EQ(r.objects["chunk " + report.ToHex()].source, "source " + src_ + "/docs/report.bin");
  EXPECT_EQ(r.summary.packs_retired, 0u) << "the pack still holds unmended damage";
  const RepairedObject& left = r.objects["chunk " + old_photo.ToHex()];
  EXPECT_EQ(left.outcome, "unrepaired");
  std::set<std::string> paths;
  for (const auto& a : left.found.affects) paths.insert(a.user + "/" + a.snapshot + ":" + a.path);
  EXPECT_EQ(paths, std::set<std::string>({"alice/" + a1_.name + ":photo.bin"}));
  EXPECT_FALSE(r.summary.clean());

  // Quarantined: the snapshot is marked with the path, the file keeps
  // failing (never zeros), the rest reads back.
  ASSERT_OK_AND_ASSIGN(auto q, snapshot::ListQuarantine(store_.get(), "alice"));
  ASSERT_EQ(q.size(), 1u);
  const auto& rec = q.begin()->second;
  EXPECT_EQ(rec.snapshot, a1_.name);
  ASSERT_EQ(rec.paths.size(), 1u);
  EXPECT_EQ(rec.paths[0].path, "photo.bin");
  EXPECT_NE(rec.paths[0].why.find(old_photo.ToHex()), std::string::npos);
  EXPECT_FALSE(testing::ReadSnapshotFile(store_.get(), a1_, "photo.bin").ok());
  ASSERT_OK_AND_ASSIGN(std::string got, testing::ReadSnapshotFile(store_.get(), a1_, "docs/report.bin"));
  EXPECT_TRUE(got == bytes_["docs/report.bin@1"]);

  // Idempotent: the same repair again mends nothing more and keeps the mark.
  Outcome again = Repair(o);
  EXPECT_EQ(again.summary.problems, 1u);
  EXPECT_EQ(again.summary.unrepaired, 1u);
  ASSERT_OK_AND_ASSIGN(auto q2, snapshot::ListQuarantine(store_.get(), "alice"));
  ASSERT_EQ(q2.size(), 1u);
  EXPECT_EQ(q2.begin()->second.since_unix, rec.since_unix) << "quarantined since the first run";

  // A copy that has it mends it and lifts the quarantine.
  Outcome mended = Repair(FromCopy());
  EXPECT_EQ(mended.objects["chunk " + old_photo.ToHex()].outcome, "repaired");
  ExpectMended();
}

TEST_F(RepairTest, ALostHolderRecordIsRaisedAgainByTheRecount) {
  const ObjectId chunk = FirstChunk(ContentOf(a1_, "docs/report.bin"));
  WriteBatch b;
  b.Delete(snapshot::HolderKey('c', chunk));
  ASSERT_OK(store_->kv().Write(b, true));
  Outcome r = Repair({});
  const RepairedObject& o = r.objects["chunk " + chunk.ToHex()];
  EXPECT_EQ(o.found.state, "uncounted");
  EXPECT_EQ(o.outcome, "repaired");
  EXPECT_EQ(o.source, "recount");
  ExpectMended();
}

TEST_F(RepairTest, ADryRunSaysWhatItWouldMendAndChangesNothing) {
  const ObjectId chunk = FirstChunk(ContentOf(a1_, "docs/report.bin"));
  const ChunkLoc loc = Where(chunk);
  ASSERT_OK(testing::FlipByte(PackPath(loc.pack_id), loc.offset + 7));
  ASSERT_OK_AND_ASSIGN(auto packs, store_->chunks().ListPacks());
  RepairOptions o = FromCopy();
  o.dry_run = true;
  Outcome r = Repair(o);
  EXPECT_EQ(r.objects["chunk " + chunk.ToHex()].outcome, "would repair");
  EXPECT_EQ(r.summary.unrepaired, 0u);
  ASSERT_OK_AND_ASSIGN(auto after, store_->chunks().ListPacks());
  EXPECT_EQ(after.size(), packs.size());
  EXPECT_TRUE(PathExists(PackPath(loc.pack_id)));
  EXPECT_FALSE(testing::ReadSnapshotFile(store_.get(), a1_, "docs/report.bin").ok());
}

TEST_F(RepairTest, WithoutACopyDamageIsQuarantinedNeverZeroed) {
  const ObjectId chunk = FirstChunk(ContentOf(a1_, "docs/report.bin"));
  const ChunkLoc loc = Where(chunk);
  ASSERT_OK(testing::FlipByte(PackPath(loc.pack_id), loc.offset + 7));
  Outcome r = Repair({});
  EXPECT_EQ(r.objects["chunk " + chunk.ToHex()].outcome, "unrepaired");
  EXPECT_EQ(r.summary.quarantined_snapshots, 3u) << "alice's two and bob's snapshot hold report.bin";
  EXPECT_EQ(r.summary.packs_retired, 0u) << "a pack with unmended damage stays";
  EXPECT_TRUE(PathExists(PackPath(loc.pack_id)));
  EXPECT_FALSE(testing::ReadSnapshotFile(store_.get(), a1_, "docs/report.bin").ok());
  ASSERT_OK_AND_ASSIGN(auto q, snapshot::ListQuarantine(store_.get(), ""));
  EXPECT_EQ(q.size(), 3u);
  testing::ExpectPacksExact(store_.get());
}

TEST_F(RepairTest, ACleanStoreNeedsNothing) {
  Outcome r = Repair(FromCopy());
  EXPECT_EQ(r.summary.problems, 0u);
  EXPECT_TRUE(r.summary.clean());
  EXPECT_TRUE(r.objects.empty());
}

TEST_F(RepairTest, AMirrorThatIsNeitherStoreNorCopyIsRefusedBeforeAnythingChanges) {
  RepairOptions o;
  o.mirrors = {src_};
  auto s = RepairStore(store_.get(), o, [](const RepairedObject&) {});
  EXPECT_CODE(s.status(), StatusCode::kNotFound);
}

TEST_F(RepairTest, AChunkStoredAgainMeanwhileKeepsItsEntryAndTheCopyCountsDead) {
  const ObjectId chunk = FirstChunk(ContentOf(a1_, "docs/report.bin"));
  std::string raw;
  ASSERT_OK(store_->chunks().Read(chunk, &raw));
  ChunkStore::Replacement r;
  r.id = chunk;
  r.raw = raw;
  r.was = std::string("stale");  // not what the index holds now
  ASSERT_OK_AND_ASSIGN(auto res, store_->chunks().ReplaceChunks({r}, 3));
  EXPECT_EQ(res.chunks_replaced, 0u);
  EXPECT_EQ(res.chunks_skipped, 1u);
  testing::ExpectPacksExact(store_.get());
  r.raw[0] ^= 1;  // bytes that are not the chunk are refused
  EXPECT_FALSE(store_->chunks().ReplaceChunks({r}, 3).ok());
}

}  // namespace
}  // namespace keepfs::gc
