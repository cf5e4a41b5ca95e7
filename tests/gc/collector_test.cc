// The garbage collector on a real store: it deletes exactly what nothing
// references, keeps what the undelete window, a running backup or an open
// file needs, keeps the pack counters exact, repacks without losing a byte,
// and leaves damaged packs alone. The forced races interleave a backup's
// "present, I will reuse it" with the collector's "dead, I will delete it"
// in both orders.
#include "gc/collector.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <thread>

#include "gc/prune.h"
#include "gc/report.h"
#include "snapshot/accounting.h"
#include "snapshot/catalog.h"
#include "snapshot/check.h"
#include "snapshot/content.h"
#include "snapshot/repo.h"
#include "store/file_util.h"
#include "store/pack.h"
#include "tests/testing/backup_util.h"
#include "tests/testing/check_util.h"
#include "tests/testing/gc_util.h"
#include "tests/testing/pack_oracle.h"
#include "tests/testing/refs_oracle.h"
#include "tests/testing/test_util.h"

namespace keepfs::gc {
namespace {

constexpr int64_t kDay = 86400;
constexpr int64_t kNov1 = 1793491200;  // 2026-11-01T00:00:00Z

class CollectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(store_, testing::InitAndOpen(tmp_.Join("store")));
    src_ = tmp_.Join("src");
    ASSERT_OK(MakeDirs(src_));
  }

  // Small packs are not merged unless a test asks (small_pack): the test
  // data makes nothing but small packs.
  GcResult Gc(int64_t now, int64_t window = 7 * kDay, bool dry_run = false,
              uint64_t small_pack = 0) {
    GcOptions o = testing::ReclaimOptions(now);
    o.dry_run = dry_run;
    o.config.undelete_window_sec = window;
    o.config.small_pack_bytes = small_pack;
    return testing::RunGc(store_.get(), o);
  }

  size_t Keys(const std::string& prefix) { return testing::CountKeys(store_.get(), prefix); }

  void Write(const std::string& name, size_t size, uint64_t seed) {
    ASSERT_OK(testing::WriteFile(src_ + "/" + name, testing::RandomBytes(size, seed)));
  }

  void ExpectReadsBack(const snapshot::SnapshotRecord& snap, const std::string& path,
                       const std::string& want) {
    auto got = testing::ReadSnapshotFile(store_.get(), snap, path);
    ASSERT_OK(got);
    EXPECT_TRUE(*got == want) << snap.user << " " << snap.name << " " << path;
  }

  void ExpectCheckClean() { testing::ExpectCheckClean(store_.get()); }

  testing::TempDir tmp_;
  std::string src_;
  std::unique_ptr<Store> store_;
};

TEST_F(CollectorTest, DeletesExactlyWhatNothingReferencesOnceTheWindowHasPassed) {
  const std::string a = testing::RandomBytes(1 << 20, 1), b = testing::RandomBytes(1 << 20, 2),
                    c = testing::RandomBytes(1 << 20, 3);
  ASSERT_OK(testing::WriteFile(src_ + "/a", a));
  ASSERT_OK(testing::WriteFile(src_ + "/b", b));
  auto first = testing::BackupOrFail(store_.get(), "alice", src_, kNov1 - 2 * kDay);
  ::unlink((src_ + "/a").c_str());
  ASSERT_OK(testing::WriteFile(src_ + "/c", c));
  auto second = testing::BackupOrFail(store_.get(), "alice", src_, kNov1 - kDay);
  auto bobs = testing::BackupOrFail(store_.get(), "bob", src_, kNov1 - kDay);

  GcResult nothing = Gc(kNov1);
  EXPECT_EQ(nothing.candidates, 0u) << "backups queue nothing";
  EXPECT_EQ(nothing.packs_condemned + nothing.packs_repacked, 0u);

  ASSERT_OK_AND_ASSIGN(Forgotten f, ForgetSnapshot(store_.get(), "alice", first.name, kNov1));
  EXPECT_GE(f.freed, a.size() * 99 / 100) << "only file a was alice's first snapshot's alone";
  GcResult kept = Gc(kNov1);
  EXPECT_GT(kept.kept_undelete, 0u);
  EXPECT_EQ(kept.trees + kept.contents + kept.chunks, 0u) << "inside the undelete window";
  EXPECT_EQ(kept.undeletable, 1u);

  GcResult r = Gc(kNov1 + 8 * kDay);
  EXPECT_EQ(r.expired_deleted, 1u);
  EXPECT_EQ(r.chunk_bytes, f.freed) << "the collector frees what forget said nobody holds";
  EXPECT_EQ(r.contents, 1u) << "file a";
  EXPECT_GE(r.trees, 1u) << "the first snapshot's root";
  EXPECT_EQ(Keys("Q"), 0u);
  EXPECT_EQ(Keys("d"), 0u);
  testing::ExpectRefsConsistent(store_.get());
  testing::ExpectPacksExact(store_.get());
  ExpectReadsBack(second, "b", b);
  ExpectReadsBack(second, "c", c);
  ExpectReadsBack(bobs, "c", c);
  ExpectCheckClean();

  // Everything goes: nothing is left behind, not even a pack file.
  ASSERT_OK(ForgetSnapshot(store_.get(), "alice", second.name, kNov1).status());
  ASSERT_OK(ForgetSnapshot(store_.get(), "bob", bobs.name, kNov1).status());
  GcResult all = Gc(kNov1, /*window=*/0);
  EXPECT_EQ(all.expired_deleted, 2u);
  for (const char* prefix : {"t", "o", "c", "p", "Q", "d", "h", "r"}) {
    EXPECT_EQ(Keys(prefix), 0u) << prefix;
  }
  EXPECT_TRUE(ListPackFiles(store_->dir()).empty());
  EXPECT_EQ(all.packs_after, 0u);
  EXPECT_EQ(all.bytes_after, 0u);
}

TEST_F(CollectorTest, UndeleteWorksInsideTheWindowAndSaysWhyAfterIt) {
  const std::string a = testing::RandomBytes(600000, 4);
  ASSERT_OK(testing::WriteFile(src_ + "/a", a));
  auto snap = testing::BackupOrFail(store_.get(), "alice", src_, kNov1 - kDay);
  ::unlink((src_ + "/a").c_str());
  testing::BackupOrFail(store_.get(), "alice", src_, kNov1);
  ASSERT_OK(ForgetSnapshot(store_.get(), "alice", snap.name, kNov1).status());
  Gc(kNov1 + 6 * kDay);  // inside the 7-day window
  ASSERT_OK(Undelete(store_.get(), "alice", snap.name));
  ExpectReadsBack(snap, "a", a);
  testing::ExpectRefsConsistent(store_.get());

  ASSERT_OK(ForgetSnapshot(store_.get(), "alice", snap.name, kNov1).status());
  GcResult r = Gc(kNov1 + 8 * kDay);
  EXPECT_EQ(r.expired_deleted, 1u);
  EXPECT_GT(r.chunks, 0u);
  Status s = Undelete(store_.get(), "alice", snap.name);
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s.ToString();
  testing::ExpectPacksExact(store_.get());
}

TEST_F(CollectorTest, ADryRunReportsWhatTheRealRunDoes) {
  for (int i = 0; i < 6; ++i) Write("f" + std::to_string(i), 700000, 10 + i);
  auto snap = testing::BackupOrFail(store_.get(), "alice", src_, kNov1 - kDay);
  for (int i = 0; i < 4; ++i) ::unlink((src_ + "/f" + std::to_string(i)).c_str());
  Write("new", 300000, 99);
  testing::BackupOrFail(store_.get(), "alice", src_, kNov1);
  ASSERT_OK(ForgetSnapshot(store_.get(), "alice", snap.name, kNov1).status());
  const size_t queued = Keys("Q");

  GcResult dry = Gc(kNov1, 0, /*dry_run=*/true);
  EXPECT_EQ(Keys("Q"), queued) << "a dry run changes nothing";
  EXPECT_EQ(Keys("d"), 1u);
  GcResult real = Gc(kNov1, 0);
  EXPECT_EQ(dry.candidates, real.candidates);
  EXPECT_EQ(dry.trees, real.trees);
  EXPECT_EQ(dry.contents, real.contents);
  EXPECT_EQ(dry.chunks, real.chunks);
  EXPECT_EQ(dry.chunk_bytes, real.chunk_bytes);
  EXPECT_EQ(dry.packs_condemned, real.packs_condemned);
  EXPECT_EQ(dry.packs_repacked, real.packs_repacked);
  EXPECT_EQ(dry.bytes_moved, real.bytes_moved);
  EXPECT_GT(real.packs_repacked, 0u) << "two thirds of the first pack died";
  testing::ExpectPacksExact(store_.get());
  EXPECT_EQ(real.dead_bytes_left, 0u);
  ExpectCheckClean();
}

// The example: two users share a 100 MiB file and alice also has a
// 50 MiB file of her own. Charges split the shared file; after bob deletes,
// alice is charged all of it, and the collector frees nothing she holds.
TEST_F(CollectorTest, SharedBytesAreChargedFairlyAndSurviveTheOtherUsersDeletion) {
  constexpr uint64_t kMiB = 1 << 20;
  const std::string shared = testing::RandomBytes(100 * kMiB, 7);
  std::string alice_src = tmp_.Join("alice"), bob_src = tmp_.Join("bob");
  ASSERT_OK(MakeDirs(alice_src));
  ASSERT_OK(MakeDirs(bob_src));
  ASSERT_OK(testing::WriteFile(alice_src + "/shared.bin", shared));
  ASSERT_OK(testing::WriteFile(bob_src + "/shared.bin", shared));
  ASSERT_OK(testing::WriteFile(alice_src + "/own.bin", testing::RandomBytes(50 * kMiB, 8)));
  auto alice = testing::BackupOrFail(store_.get(), "alice", alice_src, kNov1);
  auto bob = testing::BackupOrFail(store_.get(), "bob", bob_src, kNov1);
  ASSERT_OK_AND_ASSIGN(auto ha, snapshot::LoadHoldings(store_.get(), "alice"));
  ASSERT_OK_AND_ASSIGN(auto hb, snapshot::LoadHoldings(store_.get(), "bob"));
  // Random data does not compress: stored bytes are the file sizes plus a
  // little per chunk; allow 0.5%.
  auto near = [](uint64_t got, uint64_t want) { return got >= want && got <= want + want / 200; };
  EXPECT_TRUE(near(ha.charged(), 100 * kMiB)) << ha.charged();
  EXPECT_TRUE(near(hb.charged(), 50 * kMiB)) << hb.charged();
  EXPECT_TRUE(near(ha.exclusive(), 50 * kMiB));
  EXPECT_TRUE(near(ha.shared(), 100 * kMiB));
  EXPECT_LE(ha.charged() + hb.charged(), ha.exclusive() + hb.exclusive() + ha.shared())
      << "the charges add up to what is stored, never more";
  ASSERT_OK_AND_ASSIGN(SharingReport sharing, ComputeSharing(store_.get()));
  EXPECT_EQ(sharing.without_sharing, ha.exclusive() + ha.shared() + hb.exclusive() + hb.shared());
  EXPECT_EQ(sharing.with_sharing, ha.exclusive() + ha.shared() + hb.exclusive())
      << "the shared file is stored once";
  EXPECT_TRUE(near(sharing.saved(), 100 * kMiB)) << sharing.saved();
  EXPECT_NE(SharingText(sharing).find("with 1 other"), std::string::npos) << SharingText(sharing);

  ASSERT_OK(ForgetSnapshot(store_.get(), "bob", bob.name, kNov1).status());
  GcResult r = Gc(kNov1, 0);
  EXPECT_EQ(r.chunks, 0u) << "alice still holds every chunk bob had";
  ASSERT_OK_AND_ASSIGN(ha, snapshot::LoadHoldings(store_.get(), "alice"));
  EXPECT_TRUE(near(ha.charged(), 150 * kMiB)) << ha.charged();
  EXPECT_EQ(ha.shared(), 0u);
  ExpectReadsBack(alice, "shared.bin", shared);
  testing::ExpectRefsConsistent(store_.get());
  testing::ExpectPacksExact(store_.get());
}

TEST_F(CollectorTest, ADamagedPackIsLeftAloneAndNoWrongByteIsCopied) {
  const std::string keep = testing::RandomBytes(200000, 21);
  ASSERT_OK(testing::WriteFile(src_ + "/keep", keep));
  Write("drop", 900000, 22);
  auto snap = testing::BackupOrFail(store_.get(), "alice", src_, kNov1 - kDay);
  ::unlink((src_ + "/drop").c_str());
  auto after = testing::BackupOrFail(store_.get(), "alice", src_, kNov1);
  ASSERT_OK(ForgetSnapshot(store_.get(), "alice", snap.name, kNov1).status());
  // Damage the first stored byte of one of keep's chunks.
  ASSERT_OK_AND_ASSIGN(auto e, snapshot::Repo(store_.get()).ResolvePath(after, "keep"));
  ASSERT_OK_AND_ASSIGN(auto content, snapshot::Repo(store_.get()).GetContent(e.ref));
  ASSERT_OK_AND_ASSIGN(auto loc, store_->chunks().Lookup(content.parts[0].chunk));
  ASSERT_TRUE(loc.has_value());
  std::string pack = store_->dir() + "/" + PackRelPath(loc->pack_id);
  ASSERT_OK(testing::FlipByte(pack, loc->offset));

  GcResult r = Gc(kNov1, 0);
  EXPECT_GT(r.chunks, 0u) << "drop's chunks are deleted from the index";
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].find("checksum"), std::string::npos) << r.problems[0];
  EXPECT_TRUE(PathExists(pack)) << "the damaged pack stays for repair";
  auto read = testing::ReadSnapshotFile(store_.get(), after, "keep");
  EXPECT_TRUE(read.status().IsCorruption()) << "damaged bytes are an error, never data";
  testing::ExpectPacksExact(store_.get());
}

// A backup that reuses a file through the files cache while the collector
// wants to delete its content and chunks (they became unreferenced when the
// only snapshot holding them was forgotten). The collector runs after the
// backup's walk and before its commit: it must skip what the backup holds.
// Without holds it deletes them and the commit finds them gone.
TEST_F(CollectorTest, ForcedRaceABackupReusingAFileBeatsTheCollector) {
  const std::string data = testing::RandomBytes(800000, 31);
  ASSERT_OK(testing::WriteFile(src_ + "/f", data));
  auto snap = testing::BackupOrFail(store_.get(), "alice", src_, kNov1 - kDay);
  ASSERT_OK(ForgetSnapshot(store_.get(), "alice", snap.name, kNov1).status());

  GcResult during;
  snapshot::BackupOptions o;
  o.user = "alice";
  o.source = src_;
  o.time_sec = kNov1;
  o.before_commit_for_test = [&] { during = Gc(kNov1, 0); };
  auto again = snapshot::Backup(store_.get(), o, nullptr);
  ASSERT_OK(again);
  EXPECT_EQ(again->stats.files_cached, 1u) << "the file was reused, not read";
  EXPECT_GT(during.kept_in_flight, 0u);
  EXPECT_EQ(during.contents, 0u);
  EXPECT_EQ(during.chunks, 0u);
  ExpectReadsBack(*again, "f", data);
  GcResult after = Gc(kNov1, 0);
  EXPECT_EQ(after.chunks, 0u) << "committed: referenced again";
  testing::ExpectRefsConsistent(store_.get());
  testing::ExpectPacksExact(store_.get());
  ExpectCheckClean();
}

// The other order: the collector deletes first; the backup's files-cache
// entry is then stale (the generation moved), so it reads the file again
// and stores its chunks anew.
TEST_F(CollectorTest, ForcedRaceTheCollectorFirstMakesTheBackupStoreAgain) {
  const std::string data = testing::RandomBytes(800000, 32);
  ASSERT_OK(testing::WriteFile(src_ + "/f", data));
  auto snap = testing::BackupOrFail(store_.get(), "alice", src_, kNov1 - kDay);
  ASSERT_OK(ForgetSnapshot(store_.get(), "alice", snap.name, kNov1).status());
  GcResult r = Gc(kNov1, 0);
  EXPECT_GT(r.chunks, 0u);
  auto again = testing::BackupOrFail(store_.get(), "alice", src_, kNov1);
  EXPECT_EQ(again.stats.files_cached, 0u);
  EXPECT_GE(again.stats.bytes_new, data.size());
  ExpectReadsBack(again, "f", data);
  testing::ExpectRefsConsistent(store_.get());
  testing::ExpectPacksExact(store_.get());
}

// The same race at the level of one chunk: Put found the chunk present and
// holds it; a collector that runs before the put returns keeps it.
TEST_F(CollectorTest, ForcedRaceChunkLookupAgainstDelete) {
  const std::string data = testing::RandomBytes(100000, 33);
  ASSERT_OK(testing::WriteFile(src_ + "/f", data));
  auto snap = testing::BackupOrFail(store_.get(), "alice", src_, kNov1 - kDay);
  ASSERT_OK_AND_ASSIGN(auto e, snapshot::Repo(store_.get()).ResolvePath(snap, "f"));
  ASSERT_OK_AND_ASSIGN(auto content, snapshot::Repo(store_.get()).GetContent(e.ref));
  const ObjectId chunk = content.parts[0].chunk;
  const std::string raw = data.substr(0, content.parts[0].length);
  ASSERT_OK(ForgetSnapshot(store_.get(), "alice", snap.name, kNov1).status());

  auto hold = store_->guard().NewBackupHold();
  std::atomic<bool> in_put{false};
  store_->guard().SetAddHookForTest([&](char kind, const ObjectId& id) {
    if (kind != 'c' || id != chunk) return;
    in_put = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  });
  GcResult during;
  std::thread collector([&] {
    while (!in_put) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    during = Gc(kNov1, 0);
  });
  Compressor c(1);
  ASSERT_OK_AND_ASSIGN(ChunkPutResult put, store_->chunks().Put(chunk, raw, c, hold.get()));
  collector.join();
  store_->guard().SetAddHookForTest(nullptr);
  EXPECT_FALSE(put.is_new) << "it was present when looked up";
  EXPECT_GE(during.kept_in_flight, 1u);
  std::string back;
  ASSERT_OK(store_->chunks().Read(chunk, &back)) << "still stored: the hold kept it";
  EXPECT_TRUE(back == raw);
  hold.reset();
  GcResult later = Gc(kNov1, 0);
  EXPECT_EQ(later.chunks, 1u) << "once the hold is gone, it is collected";
  testing::ExpectPacksExact(store_.get());
}

TEST_F(CollectorTest, SmallPacksAreMergedWithinTheBudget) {
  std::vector<snapshot::SnapshotRecord> snaps;
  std::vector<std::string> files;
  for (int i = 0; i < 4; ++i) {  // each backup seals one small pack
    files.push_back(testing::RandomBytes(300000, 40 + i));
    ASSERT_OK(testing::WriteFile(src_ + "/f" + std::to_string(i), files.back()));
    snaps.push_back(testing::BackupOrFail(store_.get(), "alice", src_, kNov1 + i));
  }
  ASSERT_EQ(ListPackFiles(store_->dir()).size(), 4u);
  GcOptions o;
  o.now_unix = kNov1;
  o.config.min_free_bytes = 0;
  o.config.max_repack_bytes = 700000;  // room for two of the four
  ASSERT_OK_AND_ASSIGN(GcResult r, CollectGarbage(store_.get(), o));
  EXPECT_EQ(r.packs_repacked, 2u);
  EXPECT_EQ(r.packs_written, 1u);
  EXPECT_TRUE(r.budget_exhausted);
  EXPECT_EQ(ListPackFiles(store_->dir()).size(), 3u);
  o.config.max_repack_bytes = 8ull << 30;
  ASSERT_OK_AND_ASSIGN(r, CollectGarbage(store_.get(), o));
  EXPECT_EQ(ListPackFiles(store_->dir()).size(), 1u);
  EXPECT_FALSE(r.budget_exhausted);
  for (int i = 0; i < 4; ++i) ExpectReadsBack(snaps.back(), "f" + std::to_string(i), files[i]);
  testing::ExpectPacksExact(store_.get());
  ExpectCheckClean();
  // Delete-only: below gc.min_free nothing is repacked.
  o.config.min_free_bytes = UINT64_MAX;
  Write("f9", 300000, 49);
  testing::BackupOrFail(store_.get(), "alice", src_, kNov1 + 9);
  ASSERT_OK_AND_ASSIGN(r, CollectGarbage(store_.get(), o));
  EXPECT_TRUE(r.delete_only);
  EXPECT_EQ(r.packs_repacked, 0u);
}

// A bounded race: backups of two users with a forget after each (one
// writer at a time, as in the mount process), a collector looping beside
// them, and a reader reading files of whatever snapshots are listed. A read
// may fail only for a snapshot that is gone by then. At the end the counts
// equal a recount, the pack counters are exact, check is clean, every
// remaining snapshot reads back byte-identical, and after a final
// collection the store holds no dead bytes.
TEST_F(CollectorTest, BoundedRaceOfBackupsForgetsCollectorAndReaders) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(4);
  std::mutex expected_mu;
  std::map<std::string, std::map<std::string, std::string>> expected;  // user/snapshot -> files
  std::atomic<bool> done{false};
  std::atomic<int> collections{0}, reads{0}, backups{0};
  std::thread collector([&] {
    while (!done) {
      GcOptions o;
      o.config.undelete_window_sec = 0;
      o.config.min_free_bytes = 0;
      auto r = CollectGarbage(store_.get(), o);
      EXPECT_OK(r);
      ++collections;
    }
  });
  std::thread reader([&] {
    testing::Rng rng(5);
    snapshot::Repo repo(store_.get());
    while (!done) {
      std::string user = rng.Uniform(2) ? "alice" : "bob";
      auto snaps = repo.ListSnapshots(user);
      if (!snaps.ok() || snaps->empty()) continue;
      const auto& snap = (*snaps)[rng.Uniform(snaps->size())];
      std::map<std::string, std::string> files;
      {
        std::lock_guard<std::mutex> lock(expected_mu);
        files = expected[user + "/" + snap.name];
      }
      for (const auto& [name, bytes] : files) {
        auto got = testing::ReadSnapshotFile(store_.get(), snap, name);
        if (got.ok()) {
          EXPECT_TRUE(*got == bytes) << "wrong bytes: " << user << " " << snap.name << " " << name;
          ++reads;
          continue;
        }
        auto still = repo.FindSnapshot(user, snap.name);
        EXPECT_FALSE(still.ok()) << "a listed snapshot failed to read: " << got.status().ToString();
      }
    }
  });
  testing::Rng rng(9);
  std::map<std::string, std::map<std::string, std::string>> current;  // user -> files now
  int64_t t = kNov1;
  while (std::chrono::steady_clock::now() < deadline || backups < 6) {
    std::string user = backups % 2 ? "bob" : "alice";
    std::string dir = tmp_.Join("src-" + user);
    ASSERT_OK(MakeDirs(dir));
    std::string name = "f" + std::to_string(rng.Uniform(4));
    current[user][name] = testing::RandomBytes(20000 + rng.Uniform(300000), rng.Next());
    ASSERT_OK(testing::WriteFile(dir + "/" + name, current[user][name]));
    // Some data both users share.
    if (rng.Uniform(3) == 0) {
      current[user]["common"] = testing::RandomBytes(200000, 1000 + rng.Uniform(3));
      ASSERT_OK(testing::WriteFile(dir + "/common", current[user]["common"]));
    }
    auto snap = testing::BackupOrFail(store_.get(), user, dir, ++t);
    ASSERT_FALSE(snap.name.empty());
    {
      std::lock_guard<std::mutex> lock(expected_mu);
      expected[user + "/" + snap.name] = current[user];
    }
    ++backups;
    auto snaps = snapshot::Repo(store_.get()).ListSnapshots(user);
    ASSERT_OK(snaps);
    if (snaps->size() > 3) {
      ASSERT_OK(ForgetSnapshot(store_.get(), user, snaps->front().name, t).status());
    }
  }
  done = true;
  collector.join();
  reader.join();
  EXPECT_GT(collections.load(), 1);
  EXPECT_GT(reads.load(), 0);
  Gc(t, 0);
  testing::ExpectRefsConsistent(store_.get());
  testing::ExpectPacksExact(store_.get());
  ExpectCheckClean();
  for (const char* user : {"alice", "bob"}) {
    ASSERT_OK_AND_ASSIGN(auto snaps, snapshot::Repo(store_.get()).ListSnapshots(user));
    EXPECT_EQ(snaps.size(), 3u);
    for (const auto& snap : snaps) {
      for (const auto& [name, bytes] : expected[std::string(user) + "/" + snap.name]) {
        ExpectReadsBack(snap, name, bytes);
      }
    }
  }
  // Once no backup is in flight, the store holds no more dead bytes than the
  // repack threshold allows (set to 1% here).
  GcOptions o;
  o.config.undelete_window_sec = 0;
  o.config.min_free_bytes = 0;
  o.config.repack_dead_percent = 1;
  o.config.repack_low_percent = 1;
  ASSERT_OK_AND_ASSIGN(GcResult last, CollectGarbage(store_.get(), o));
  EXPECT_LE(last.dead_bytes_left * 100, last.bytes_after) << GcText(last);
  EXPECT_EQ(Keys("Q"), 0u);
}

TEST_F(CollectorTest, OnlyOneRunAtATime) {
  std::lock_guard<std::mutex> running(store_->gc_mu());
  GcOptions o;
  EXPECT_EQ(CollectGarbage(store_.get(), o).status().code(), StatusCode::kBusy);
}

}  // namespace
}  // namespace keepfs::gc
