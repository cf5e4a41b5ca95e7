// The sharing pass on a real store: a sparse and a dense copy of one file
// (different recipes, so ingest stores both) become one content; the
// collector then reclaims the copy's chunks; counts, holders, accounts,
// packs and check agree with a recount at every step; a fingerprint match
// with other bytes is never unified; readers and backups beside it lose
// nothing.
#include "gc/sharing.h"

#include <gtest/gtest.h>

#include "gc/audit.h"
#include "gc/collector.h"
#include "gc/prune.h"
#include "gc/report.h"
#include "snapshot/accounting.h"
#include "snapshot/catalog.h"
#include "snapshot/check.h"
#include "snapshot/content.h"
#include "snapshot/repo.h"
#include "store/file_fingerprint.h"
#include "store/file_util.h"
#include "tests/testing/backup_util.h"
#include "tests/testing/check_util.h"
#include "tests/testing/gc_util.h"
#include "tests/testing/pack_oracle.h"
#include "tests/testing/refs_oracle.h"
#include "tests/testing/test_util.h"

namespace keepfs::gc {
namespace {

constexpr int64_t kNov1 = 1793491200;  // 2026-11-01T00:00:00Z
constexpr uint64_t kMiB = 1 << 20;

TEST(FileFingerprintTest, IgnoresHowTheBytesArriveAndWhichZerosAreHoles) {
  std::string data = testing::RandomBytes(3 * kMiB + 12345, 1);
  std::memset(data.data() + kMiB + 100, 0, kMiB);  // a zero run, not block-aligned
  const auto whole = FileFingerprint::Of(data.data(), data.size());

  FileFingerprint pieces;  // odd-sized pieces, the zero run as a hole
  pieces.AddData(data.data(), 7);
  pieces.AddData(data.data() + 7, kMiB + 93);
  pieces.AddZeros(kMiB);
  pieces.AddData(data.data() + 2 * kMiB + 100, data.size() - 2 * kMiB - 100);
  EXPECT_EQ(pieces.Finish(), whole);

  std::string other = data;
  other[2 * kMiB + 5] ^= 1;
  EXPECT_NE(FileFingerprint::Of(other.data(), other.size()), whole);
  std::string longer = data + std::string(1, '\0');  // one more trailing zero
  EXPECT_NE(FileFingerprint::Of(longer.data(), longer.size()), whole);
  FileFingerprint reused;  // Reset drops what came before
  reused.AddData("junk", 4);
  reused.Reset();
  reused.AddData(data.data(), data.size());
  EXPECT_EQ(reused.Finish(), whole);
}

class SharingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(store_, testing::InitAndOpen(tmp_.Join("store")));
    alice_ = tmp_.Join("alice");
    bob_ = tmp_.Join("bob");
    ASSERT_OK(MakeDirs(alice_));
    ASSERT_OK(MakeDirs(bob_));
    // 12 MiB: random data, a 6 MiB hole, random data. Alice's copy is
    // sparse, Bob's dense: equal bytes, different recipes.
    bytes_ = testing::RandomBytes(12 * kMiB, 11);
    std::memset(bytes_.data() + 3 * kMiB, 0, 6 * kMiB);
    WriteSparse(alice_ + "/vm.img", 3 * kMiB, 9 * kMiB);
    ASSERT_OK(testing::WriteFile(bob_ + "/vm.img", bytes_));
  }

  // bytes_ with [hole_start, hole_end) left a hole (it holds zeros there).
  void WriteSparse(const std::string& path, uint64_t hole_start, uint64_t hole_end) {
    ASSERT_OK(testing::WriteFileWithHole(path, bytes_, hole_start, hole_end));
  }

  SharingResult Pass(bool dry_run = false) {
    SharingOptions o;
    o.dry_run = dry_run;
    o.before_unify_for_test = before_unify_;
    auto r = RunSharingPass(store_.get(), o);
    EXPECT_OK(r);
    return r.ok() ? *r : SharingResult{};
  }

  GcResult Gc() {
    GcOptions o = testing::ReclaimOptions(kNov1);
    o.config.small_pack_bytes = 0;
    return testing::RunGc(store_.get(), o);
  }

  size_t Keys(const std::string& prefix) { return testing::CountKeys(store_.get(), prefix); }

  ObjectId ContentOf(const snapshot::SnapshotRecord& snap, const std::string& path) {
    snapshot::Repo repo(store_.get());
    auto e = repo.ResolvePath(snap, path);
    EXPECT_OK(e);
    return e.ok() ? e->ref : ObjectId();
  }

  void ExpectReadsBack(const snapshot::SnapshotRecord& snap) {
    auto got = testing::ReadSnapshotFile(store_.get(), snap, "vm.img");
    ASSERT_OK(got);
    EXPECT_TRUE(*got == bytes_) << snap.user << " " << snap.name;
  }

  // Counts, holders and accounts equal a recount; pack counters are exact;
  // check (data too, and every alias's hash) is clean; the auditor agrees.
  void ExpectConsistent() {
    testing::ExpectRefsConsistent(store_.get());
    testing::ExpectPacksExact(store_.get());
    testing::ExpectCheckClean(store_.get());
    AuditOptions ao;
    ao.dry_run = true;
    auto audit = Audit(store_.get(), ao);
    ASSERT_OK(audit);
    EXPECT_TRUE(audit->clean()) << AuditText(*audit);
    EXPECT_EQ(audit->orphans, 0u) << "everything unreferenced is queued";
  }

  testing::TempDir tmp_;
  std::string alice_, bob_, bytes_;
  std::unique_ptr<Store> store_;
  std::function<void()> before_unify_;
};

TEST_F(SharingTest, UnifiesASparseAndADenseCopyAndGcReclaimsTheCopy) {
  auto a = testing::BackupOrFail(store_.get(), "alice", alice_, kNov1);
  auto b = testing::BackupOrFail(store_.get(), "bob", bob_, kNov1);
  const ObjectId sparse = ContentOf(a, "vm.img"), dense = ContentOf(b, "vm.img");
  ASSERT_NE(sparse, dense) << "ingest cannot see that they are one file";
  EXPECT_EQ(Keys("F"), 2u);
  ASSERT_OK_AND_ASSIGN(SharingReport before, ComputeSharing(store_.get()));

  SharingResult dry = Pass(/*dry_run=*/true);
  EXPECT_EQ(dry.unified, 1u);
  snapshot::Repo repo(store_.get());
  ASSERT_OK_AND_ASSIGN(snapshot::Content still, repo.GetContentRecord(dense));
  EXPECT_FALSE(still.is_alias()) << "a dry run writes nothing";
  ASSERT_OK_AND_ASSIGN(auto none, LastSharingPass(store_.get()));
  EXPECT_FALSE(none.has_value());

  SharingResult r = Pass();
  EXPECT_EQ(r.groups, 1u);
  EXPECT_EQ(r.hashed, 2u);
  EXPECT_EQ(r.unified, 1u);
  EXPECT_EQ(r.unified_bytes, bytes_.size());
  EXPECT_EQ(r.freed, dry.freed) << "the dry run said what the real one frees";
  EXPECT_GT(r.freed, 0u);
  EXPECT_TRUE(r.problems.empty());
  // The sparse copy stores no zeros: it is the canonical one.
  ASSERT_OK_AND_ASSIGN(snapshot::Content alias, repo.GetContentRecord(dense));
  ASSERT_TRUE(alias.is_alias());
  EXPECT_EQ(alias.alias_of, sparse);
  EXPECT_EQ(alias.file_hash, Sha256::Of(bytes_));
  ExpectReadsBack(a);
  ExpectReadsBack(b);
  ExpectConsistent();

  // Both users now hold the same chunks: the pair report and the accounts
  // say so, and the data is stored once.
  ASSERT_EQ(r.pairs.size(), 1u);
  EXPECT_EQ(r.pairs[0].a, "alice");
  EXPECT_EQ(r.pairs[0].b, "bob");
  ASSERT_OK_AND_ASSIGN(auto ha, snapshot::LoadHoldings(store_.get(), "alice"));
  ASSERT_OK_AND_ASSIGN(auto hb, snapshot::LoadHoldings(store_.get(), "bob"));
  EXPECT_EQ(ha.exclusive(), 0u);
  EXPECT_EQ(hb.exclusive(), 0u);
  EXPECT_EQ(ha.shared(), r.pairs[0].bytes);
  EXPECT_EQ(ha.charged(), ha.shared() / 2) << "each pays half";
  EXPECT_EQ(hb.charged(), hb.shared() / 2);
  ASSERT_OK_AND_ASSIGN(SharingReport after, ComputeSharing(store_.get()));
  EXPECT_EQ(after.with_sharing + r.freed, before.with_sharing);
  ASSERT_TRUE(after.last_pass.has_value());
  EXPECT_EQ(after.last_pass->unified, 1u);
  EXPECT_NE(SharingText(after).find("alice & bob both hold"), std::string::npos)
      << SharingText(after);

  GcResult g = Gc();
  EXPECT_EQ(g.contents, 0u) << "the alias stays: bob's tree names it";
  EXPECT_EQ(g.chunk_bytes, r.freed) << "gc reclaims exactly what the pass released";
  ExpectReadsBack(a);
  ExpectReadsBack(b);
  ExpectConsistent();

  // A second pass finds nothing more to do.
  SharingResult again = Pass();
  EXPECT_EQ(again.unified, 0u);
  EXPECT_EQ(again.hashed, 0u) << "one live recipe left in the group";
}

TEST_F(SharingTest, BackupsOfAnAliasedFileAndDeletionsOnEitherSideStayExact) {
  auto a = testing::BackupOrFail(store_.get(), "alice", alice_, kNov1);
  auto b = testing::BackupOrFail(store_.get(), "bob", bob_, kNov1);
  ASSERT_EQ(Pass().unified, 1u);
  Gc();

  // Bob backs up again: once from the files cache, once reading the file
  // (its recipe is the alias's id; the chunks it stores again for it are
  // queued at the commit, and gc takes them back).
  auto b2 = testing::BackupOrFail(store_.get(), "bob", bob_, kNov1 + 60);
  EXPECT_EQ(ContentOf(b2, "vm.img"), ContentOf(b, "vm.img"));
  snapshot::BackupOptions o;
  o.user = "bob";
  o.source = bob_;
  o.time_sec = kNov1 + 120;
  o.workers = 2;
  o.use_files_cache = false;
  ASSERT_OK_AND_ASSIGN(auto b3, snapshot::Backup(store_.get(), o, nullptr));
  EXPECT_EQ(ContentOf(b3, "vm.img"), ContentOf(b, "vm.img"));
  ExpectConsistent();
  GcResult g = Gc();
  EXPECT_GT(g.chunks, 0u) << "the dense chunks stored again were queued";
  ExpectReadsBack(b3);
  ExpectConsistent();

  // Alice forgets her copy: bob's alias keeps its target alive.
  ASSERT_OK(ForgetSnapshot(store_.get(), "alice", a.name, kNov1).status());
  g = Gc();
  EXPECT_EQ(g.contents, 0u);
  EXPECT_EQ(g.chunks, 0u);
  for (const auto& s : {b, b2, b3}) ExpectReadsBack(s);
  ExpectConsistent();

  // Bob forgets everything: alias, target and chunks all go, and the next
  // pass drops the fingerprints of the deleted contents.
  for (const auto& s : {b, b2, b3}) {
    ASSERT_OK(ForgetSnapshot(store_.get(), "bob", s.name, kNov1).status());
  }
  Gc();
  for (const char* prefix : {"t", "o", "c", "p", "Q", "h", "r"}) {
    EXPECT_EQ(Keys(prefix), 0u) << prefix;
  }
  SharingResult r = Pass();
  EXPECT_EQ(r.stale, 2u);
  EXPECT_EQ(Keys("F"), 0u);
  EXPECT_TRUE(r.pairs.empty());
}

TEST_F(SharingTest, AFingerprintMatchWithOtherBytesIsNeverUnified) {
  // Two different files; then Bob's content is given Alice's fingerprint,
  // as a collision would.
  ASSERT_OK(testing::WriteFile(bob_ + "/vm.img", testing::RandomBytes(bytes_.size(), 99)));
  auto a = testing::BackupOrFail(store_.get(), "alice", alice_, kNov1);
  auto b = testing::BackupOrFail(store_.get(), "bob", bob_, kNov1);
  std::string fp_of_a;
  for (auto it = store_->kv().NewIterator("F"); it->Valid(); it->Next()) {
    if (it->key().substr(17) == ContentOf(a, "vm.img").AsBytes()) fp_of_a = it->key().substr(1, 16);
  }
  ASSERT_EQ(fp_of_a.size(), 16u);
  std::array<uint8_t, 16> fp;
  std::copy(fp_of_a.begin(), fp_of_a.end(), reinterpret_cast<char*>(fp.data()));
  WriteBatch batch;
  batch.Put(snapshot::FingerprintKey(fp, ContentOf(b, "vm.img")), "");
  ASSERT_OK(store_->kv().Write(batch, true));

  SharingResult r = Pass();
  EXPECT_EQ(r.hashed, 2u);
  EXPECT_EQ(r.differ, 1u);
  EXPECT_EQ(r.unified, 0u);
  snapshot::Repo repo(store_.get());
  ASSERT_OK_AND_ASSIGN(snapshot::Content c, repo.GetContentRecord(ContentOf(b, "vm.img")));
  EXPECT_FALSE(c.is_alias());
  EXPECT_TRUE(r.pairs.empty()) << "nothing is shared";
}

TEST_F(SharingTest, AnOpenReaderAndAForgetBesideThePassLoseNothing) {
  auto a = testing::BackupOrFail(store_.get(), "alice", alice_, kNov1);
  auto b = testing::BackupOrFail(store_.get(), "bob", bob_, kNov1);
  // A reader opened bob's dense copy before the pass: it reads the old
  // recipe to the end after the pass released it and gc ran.
  snapshot::Repo repo(store_.get());
  std::unique_ptr<ObjectGuard::Hold> hold;
  ASSERT_OK_AND_ASSIGN(snapshot::Content open,
                       repo.GetContentHeld(ContentOf(b, "vm.img"), &hold));
  ASSERT_EQ(Pass().unified, 1u);
  GcResult g = Gc();
  EXPECT_GT(g.kept_in_flight, 0u) << "the open file's chunks were held";
  std::string got(open.size, '\0');
  ASSERT_OK(repo.ReadContent(open, [&](uint64_t off, std::string_view d) {
    std::memcpy(got.data() + off, d.data(), d.size());
    return Status::OK();
  }));
  EXPECT_TRUE(got == bytes_);
  hold.reset();
  EXPECT_GT(Gc().chunks, 0u) << "closed: now they go";
  ExpectConsistent();

  // Between the pass's hashing and its write, the only holder of a third
  // recipe of the same bytes (another hole layout) forgets it: the pass
  // re-checks under the commit lock and leaves it alone.
  WriteSparse(bob_ + "/copy.img", 4 * kMiB, 8 * kMiB);
  auto b2 = testing::BackupOrFail(store_.get(), "bob", bob_, kNov1 + 60);
  ASSERT_NE(ContentOf(b2, "copy.img"), ContentOf(a, "vm.img"));
  ASSERT_NE(ContentOf(b2, "copy.img"), ContentOf(b, "vm.img"));
  before_unify_ = [&] {
    ASSERT_OK(ForgetSnapshot(store_.get(), "bob", b2.name, kNov1).status());
  };
  SharingResult r = Pass();
  EXPECT_EQ(r.hashed, 2u) << "the canonical and the new recipe";
  EXPECT_EQ(r.unified, 0u);
  EXPECT_EQ(r.skipped, 1u);
  before_unify_ = nullptr;
  ExpectReadsBack(a);
  ExpectReadsBack(b);
  ExpectConsistent();
}

}  // namespace
}  // namespace keepfs::gc
