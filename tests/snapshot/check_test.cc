// keepfs check on real damage: flipped bytes in a pack, a deleted pack, a
// truncated pack, a corrupted RocksDB value, a missing tree. Each time the
// check names the damaged object and exactly the users, snapshots and paths
// it affects, reports every other object once as ok, and a stopped check
// resumed covers every object exactly once. A rolling scrub verifies the
// packs verified longest ago first.
#include "snapshot/check.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <set>

#include "snapshot/accounting.h"
#include "snapshot/catalog.h"
#include "snapshot/repo.h"
#include "store/chunk_store.h"
#include "store/file_util.h"
#include "store/pack.h"
#include "tests/testing/backup_util.h"
#include "tests/testing/damage_util.h"
#include "tests/testing/test_util.h"

namespace keepfs::snapshot {
namespace {

constexpr int64_t kDay1 = 1790823600;  // 2026-10-01T03:00:00Z

using Paths = std::set<std::string>;  // "user/snapshot:path"

class CheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(store_, testing::InitAndOpen(tmp_.Join("store")));
    src_ = tmp_.Join("src");
    ASSERT_OK(MakeDirs(src_ + "/docs/deep"));
    ASSERT_OK(testing::WriteFile(src_ + "/docs/report.bin", testing::RandomBytes(300000, 1)));
    ASSERT_OK(testing::WriteFile(src_ + "/docs/deep/notes.bin", testing::RandomBytes(200000, 2)));
    ASSERT_OK(testing::WriteFile(src_ + "/photo.bin", testing::RandomBytes(400000, 3)));
    a1_ = testing::BackupOrFail(store_.get(), "alice", src_, kDay1);
    // Day 2: photo.bin changes; report and notes stay.
    ASSERT_OK(testing::WriteFile(src_ + "/photo.bin", testing::RandomBytes(400000, 4)));
    a2_ = testing::BackupOrFail(store_.get(), "alice", src_, kDay1 + 86400);
    b1_ = testing::BackupOrFail(store_.get(), "bob", src_, kDay1 + 86400);
  }

  struct Run {
    std::vector<CheckedObject> objects;
    CheckSummary summary;
    std::vector<CheckedObject> problems() const {
      std::vector<CheckedObject> out;
      for (const auto& o : objects) {
        if (!o.ok()) out.push_back(o);
      }
      return out;
    }
  };

  Run Check(CheckOptions o = {}) {
    Run r;
    auto s = CheckStore(store_.get(), o, [&](const CheckedObject& obj) { r.objects.push_back(obj); });
    EXPECT_OK(s);
    if (s.ok()) r.summary = *s;
    return r;
  }

  static Paths PathsOf(const CheckedObject& o) {
    Paths p;
    for (const auto& a : o.affects) p.insert(a.user + "/" + a.snapshot + ":" + a.path);
    return p;
  }

  ObjectId ContentOf(const SnapshotRecord& snap, const std::string& path) {
    return testing::ContentOfFile(store_.get(), snap, path);
  }
  ObjectId FirstChunk(const ObjectId& content) { return testing::FirstChunkOf(store_.get(), content); }
  ChunkLoc Where(const ObjectId& chunk) { return testing::LocationOf(store_.get(), chunk); }
  std::string PackPath(uint64_t pack) { return store_->dir() + "/" + PackRelPath(pack); }

  // Every report: the same users, snapshots and paths for report.bin.
  Paths ReportEverywhere() {
    return {"alice/" + a1_.name + ":docs/report.bin", "alice/" + a2_.name + ":docs/report.bin",
            "bob/" + b1_.name + ":docs/report.bin"};
  }

  testing::TempDir tmp_;
  std::string src_;
  std::unique_ptr<Store> store_;
  SnapshotRecord a1_, a2_, b1_;
};

TEST_F(CheckTest, ACleanStoreReportsEveryObjectOnceAsOk) {
  Run r = Check({.verify_data = true});
  EXPECT_EQ(r.summary.problems, 0u);
  EXPECT_TRUE(r.problems().empty());
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& o : r.objects) EXPECT_TRUE(seen.insert({o.kind, o.id}).second) << o.kind << " " << o.id;
  EXPECT_EQ(r.objects.size(), r.summary.packs + r.summary.chunks + r.summary.contents +
                                  r.summary.trees + r.summary.snapshots + r.summary.pins);
  EXPECT_EQ(r.summary.snapshots, 3u);
  EXPECT_GT(r.summary.bytes_verified, 900000u);
}

TEST_F(CheckTest, AFlippedByteInAPackNamesTheChunkAndEveryPathThatHoldsIt) {
  const ObjectId chunk = FirstChunk(ContentOf(a1_, "docs/report.bin"));
  const ChunkLoc loc = Where(chunk);
  store_.reset();
  ASSERT_OK(testing::FlipByte(tmp_.Join("store") + "/" + PackRelPath(loc.pack_id), loc.offset + 7));
  ASSERT_OK_AND_ASSIGN(store_, Store::Open(tmp_.Join("store"), OpenMode::kReadWrite));
  EXPECT_TRUE(Check().problems().empty()) << "structure alone cannot see a flipped data byte";
  Run r = Check({.verify_data = true});
  auto problems = r.problems();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].kind, "chunk");
  EXPECT_EQ(problems[0].id, chunk.ToHex());
  EXPECT_EQ(problems[0].state, "corrupt");
  EXPECT_EQ(PathsOf(problems[0]), ReportEverywhere());
  EXPECT_EQ(r.summary.affected_paths, 3u);
}

TEST_F(CheckTest, ADeletedPackIsMissingAndSoAreItsChunksWithTheirPaths) {
  const ChunkLoc loc = Where(FirstChunk(ContentOf(a1_, "docs/report.bin")));
  ASSERT_EQ(::unlink(PackPath(loc.pack_id).c_str()), 0);
  Run r = Check();
  std::map<std::string, CheckedObject> by;
  for (const auto& p : r.problems()) by[p.kind + " " + p.state] = p;
  ASSERT_TRUE(by.count("pack missing")) << r.problems().size();
  EXPECT_EQ(by["pack missing"].id, std::to_string(loc.pack_id));
  // Every file stored in that pack is affected, in every snapshot holding it.
  Paths from_pack = PathsOf(by["pack missing"]);
  for (const auto& p : ReportEverywhere()) EXPECT_TRUE(from_pack.count(p)) << p;
  for (const auto& p : r.problems()) {
    if (p.kind == "chunk") { EXPECT_EQ(p.state, "missing"); }
  }
  EXPECT_EQ(r.summary.problems, r.problems().size());
}

TEST_F(CheckTest, ATruncatedPackIsCorruptAndTheChunksPastTheCutAreMissing) {
  const ObjectId chunk = FirstChunk(ContentOf(a2_, "photo.bin"));
  const ChunkLoc loc = Where(chunk);
  ASSERT_EQ(::truncate(PackPath(loc.pack_id).c_str(), static_cast<off_t>(loc.offset + 10)), 0);
  Run r = Check();
  bool pack = false, chunk_missing = false;
  for (const auto& p : r.problems()) {
    if (p.kind == "pack") {
      pack = true;
      EXPECT_EQ(p.state, "corrupt");
    }
    if (p.kind == "chunk" && p.id == chunk.ToHex()) {
      chunk_missing = true;
      EXPECT_EQ(p.state, "missing");
      EXPECT_EQ(PathsOf(p), Paths({"alice/" + a2_.name + ":photo.bin", "bob/" + b1_.name + ":photo.bin"}));
    }
  }
  EXPECT_TRUE(pack);
  EXPECT_TRUE(chunk_missing);
}

TEST_F(CheckTest, ACorruptedRocksDbValueNamesTheContentAndItsPaths) {
  const ObjectId notes = ContentOf(a1_, "docs/deep/notes.bin");
  std::string v;
  ASSERT_OK_AND_ASSIGN(bool found, store_->kv().Get(ContentKey(notes), &v));
  ASSERT_TRUE(found);
  v[v.size() / 2] ^= 0x40;
  WriteBatch b;
  b.Put(ContentKey(notes), v);
  ASSERT_OK(store_->kv().Write(b, true));
  auto problems = Check().problems();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].kind, "content");
  EXPECT_EQ(problems[0].state, "corrupt");
  EXPECT_EQ(PathsOf(problems[0]),
            Paths({"alice/" + a1_.name + ":docs/deep/notes.bin", "alice/" + a2_.name + ":docs/deep/notes.bin",
                   "bob/" + b1_.name + ":docs/deep/notes.bin"}));
}

TEST_F(CheckTest, AMissingTreeAffectsItsFolderInEverySnapshot) {
  auto deep = Repo(store_.get()).ResolvePath(a1_, "docs/deep");
  ASSERT_OK(deep);
  WriteBatch b;
  b.Delete(TreeKey(deep->ref));
  ASSERT_OK(store_->kv().Write(b, true));
  auto problems = Check().problems();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].kind, "tree");
  EXPECT_EQ(problems[0].state, "missing");
  EXPECT_EQ(PathsOf(problems[0]), Paths({"alice/" + a1_.name + ":docs/deep", "alice/" + a2_.name + ":docs/deep",
                                         "bob/" + b1_.name + ":docs/deep"}));
}

TEST_F(CheckTest, AChunkUsersReachButAreNotCountedAsHoldingIsReportedWithItsPaths) {
  // The collector deletes what nobody holds: a lost holder record would let
  // it take a chunk three snapshots need.
  const ObjectId chunk = FirstChunk(ContentOf(a1_, "docs/report.bin"));
  WriteBatch b;
  b.Delete(HolderKey('c', chunk));
  ASSERT_OK(store_->kv().Write(b, true));
  auto problems = Check().problems();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].kind, "chunk");
  EXPECT_EQ(problems[0].id, chunk.ToHex());
  EXPECT_EQ(problems[0].state, "uncounted");
  EXPECT_NE(problems[0].message.find("keepfs audit"), std::string::npos) << problems[0].message;
  EXPECT_EQ(PathsOf(problems[0]), ReportEverywhere());
}

TEST_F(CheckTest, ASnapshotRootItsUserDoesNotHoldIsReported) {
  WriteBatch b;
  b.Put(HolderKey('t', b1_.root), EncodeHolders({"alice"}));  // bob's own root, without bob
  ASSERT_OK(store_->kv().Write(b, true));
  auto problems = Check().problems();
  ASSERT_FALSE(problems.empty());
  bool root = false;
  for (const auto& p : problems) {
    EXPECT_EQ(p.state, "uncounted") << p.kind << " " << p.id;
    if (p.kind == "tree" && p.id == b1_.root.ToHex()) root = true;
  }
  EXPECT_TRUE(root);
}

TEST_F(CheckTest, AStoppedCheckResumedCoversEveryObjectExactlyOnce) {
  // Damage first, so the resumed run also has a problem found before the stop.
  const ObjectId chunk = FirstChunk(ContentOf(a1_, "docs/report.bin"));
  const ChunkLoc loc = Where(chunk);
  ASSERT_OK(testing::FlipByte(PackPath(loc.pack_id), loc.offset + 3));
  Run whole = Check({.verify_data = true});
  for (int stop_after : {1, 5, 9, 14}) {
    std::atomic<bool> cancel{false};
    CheckOptions o{.verify_data = true};
    o.cancel = &cancel;
    std::vector<CheckedObject> seen;
    int n = 0;
    auto first = CheckStore(store_.get(), o, [&](const CheckedObject& obj) {
      seen.push_back(obj);
      if (++n == stop_after) cancel = true;
    });
    ASSERT_OK(first);
    ASSERT_TRUE(first->cancelled);
    CheckOptions again{.verify_data = true};
    again.resume = true;
    auto second = CheckStore(store_.get(), again, [&](const CheckedObject& obj) { seen.push_back(obj); });
    ASSERT_OK(second);
    EXPECT_TRUE(second->resumed);
    EXPECT_FALSE(second->cancelled);
    std::multiset<std::string> got, want;
    for (const auto& x : seen) got.insert(x.kind + " " + x.id + " " + x.state);
    for (const auto& x : whole.objects) want.insert(x.kind + " " + x.id + " " + x.state);
    EXPECT_EQ(got, want) << "stopped after " << stop_after;
    EXPECT_EQ(second->problems, 1u);
  }
  CheckOptions none;
  none.resume = true;
  EXPECT_CODE(CheckStore(store_.get(), none, [](const CheckedObject&) {}).status(),
              StatusCode::kNotFound);
}

TEST_F(CheckTest, ARollingScrubVerifiesThePacksVerifiedLongestAgoFirst) {
  ASSERT_OK_AND_ASSIGN(auto packs, store_->chunks().ListPacks());
  ASSERT_GE(packs.size(), 2u);
  CheckOptions half{.verify_data = true, .verify_percent = 50};
  half.now_unix = kDay1 + 10 * 86400;
  Run first = Check(half);
  EXPECT_GT(first.summary.packs_verified, 0u);
  EXPECT_LT(first.summary.packs_verified, packs.size()) << "half is not all";
  EXPECT_EQ(testing::CountKeys(store_.get(), "v"), first.summary.packs_verified);
  // The next run takes the packs never verified first: after it, all were.
  half.now_unix += 86400;
  Run second = Check(half);
  EXPECT_EQ(testing::CountKeys(store_.get(), "v"), packs.size());
  EXPECT_GE(first.summary.packs_verified + second.summary.packs_verified, packs.size());
  // Everything was verified within the last two days: --since 3d skips it all,
  // --since 1h verifies it all again.
  CheckOptions recent{.verify_data = true, .verified_within_sec = 3 * 86400};
  recent.now_unix = half.now_unix + 3600;
  EXPECT_EQ(Check(recent).summary.packs_verified, 0u);
  recent.verified_within_sec = 1800;
  EXPECT_EQ(Check(recent).summary.packs_verified, packs.size());
}

}  // namespace
}  // namespace keepfs::snapshot
