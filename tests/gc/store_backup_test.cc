// keepfs store-backup on a real store: a copy is a consistent store even
// when taken while backups, forgets and gc run; a second copy adds only new
// packs and drops the ones gc retired, after its manifest is in place; the
// manifest catches a damaged or missing file; a foreign DEST is refused.
#include "store/store_backup.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "gc/collector.h"
#include "gc/prune.h"
#include "snapshot/repo.h"
#include "store/file_util.h"
#include "store/pack.h"
#include "tests/testing/gc_util.h"
#include "tests/testing/store_copy_util.h"
#include "tests/testing/test_util.h"

namespace keepfs {
namespace {

namespace fs = std::filesystem;
using testing::kDay1;

gc::GcResult Gc(Store* store) {
  return testing::RunGc(store, testing::ReclaimOptions(kDay1 + 100 * 86400));
}

class StoreBackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(store_, testing::InitAndOpen(tmp_.Join("store")));
    src_ = tmp_.Join("src");
    ASSERT_OK(MakeDirs(src_));
  }
  snapshot::SnapshotRecord Day(int d) { return testing::BackupDay(store_.get(), "alice", src_, d); }
  StoreBackupResult Copy() {
    StoreBackupOptions o;
    o.dest = dest_;
    auto r = BackupStore(store_.get(), o);
    EXPECT_OK(r);
    return r.ok() ? *r : StoreBackupResult{};
  }
  // Opens the copy, laid out as a store, and checks that it is whole.
  void ExpectCopyIsWhole(const std::string& name) {
    std::string at = testing::AssembleStoreCopy(dest_, tmp_.Join(name));
    auto copy = Store::Open(at, OpenMode::kReadOnly);
    ASSERT_OK(copy);
    testing::ExpectDaysWhole(copy->get(), {"alice"}, name);
  }

  testing::TempDir tmp_;
  std::string src_, dest_ = tmp_.Join("copy");
  std::unique_ptr<Store> store_;
};

TEST_F(StoreBackupTest, ASecondCopyAddsNewPacksAndDropsRetiredOnesOnlyAfterItsManifest) {
  auto d1 = Day(1);
  auto d2 = Day(2);
  StoreBackupResult first = Copy();
  EXPECT_EQ(first.generation, 1u);
  EXPECT_EQ(first.packs_copied, first.packs);
  EXPECT_GT(first.meta_files, 0u);
  ExpectCopyIsWhole("a1");

  Day(3);
  StoreBackupResult second = Copy();
  EXPECT_EQ(second.generation, 2u);
  EXPECT_EQ(second.packs, first.packs + second.packs_copied);
  EXPECT_GE(second.packs_copied, 1u);
  EXPECT_LT(second.packs_copied, second.packs) << "the packs of the first copy are not copied again";
  EXPECT_FALSE(PathExists(dest_ + "/meta.1")) << "the previous generation goes after the manifest";
  ExpectCopyIsWhole("a2");

  ASSERT_OK(gc::ForgetSnapshots(store_.get(), "alice", {d1.name, d2.name}, kDay1).status());
  EXPECT_GT(Gc(store_.get()).packs_condemned, 0u);
  StoreBackupResult third = Copy();
  EXPECT_GT(third.packs_removed, 0u) << "packs gc removed leave the copy too";
  ASSERT_OK_AND_ASSIGN(auto packs, store_->chunks().ListPacks());
  EXPECT_EQ(third.packs, packs.size());
  EXPECT_EQ(ListPackFiles(dest_).size(), packs.size());
  ExpectCopyIsWhole("a3");
  ASSERT_OK_AND_ASSIGN(StoreBackupVerifyResult v, VerifyStoreBackup(dest_));
  EXPECT_TRUE(v.ok());
}

TEST_F(StoreBackupTest, TheManifestCatchesADamagedOrMissingFile) {
  Day(1);
  Copy();
  ASSERT_OK_AND_ASSIGN(StoreBackupVerifyResult clean, VerifyStoreBackup(dest_));
  EXPECT_TRUE(clean.ok());
  EXPECT_GT(clean.files, 2u);
  const uint64_t pack = ListPackFiles(dest_).front();
  // On the store's filesystem the copy's packs are hard links of the
  // store's: break the link before damaging the copy's.
  const std::string path = dest_ + "/" + PackRelPath(pack);
  ASSERT_OK_AND_ASSIGN(std::string bytes, testing::ReadFile(path));
  ASSERT_EQ(::unlink(path.c_str()), 0);
  ASSERT_OK(testing::WriteFile(path, bytes));
  ASSERT_OK(testing::FlipByte(path, 100));
  fs::remove(fs::directory_iterator(dest_ + "/meta.1")->path());
  ASSERT_OK_AND_ASSIGN(StoreBackupVerifyResult bad, VerifyStoreBackup(dest_));
  ASSERT_EQ(bad.problems.size(), 2u);
  std::string all = bad.problems[0] + "\n" + bad.problems[1];
  EXPECT_NE(all.find("SHA-256 differs"), std::string::npos) << all;
  EXPECT_NE(all.find("missing"), std::string::npos) << all;
}

TEST_F(StoreBackupTest, AForeignOrNonEmptyDestinationIsRefusedAndTouched) {
  Day(1);
  Copy();
  ASSERT_OK_AND_ASSIGN(auto other, testing::InitAndOpen(tmp_.Join("other")));
  StoreBackupOptions o;
  o.dest = dest_;
  auto r = BackupStore(other.get(), o);
  EXPECT_CODE(r.status(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("another store"), std::string::npos);
  ASSERT_OK_AND_ASSIGN(StoreBackupVerifyResult v, VerifyStoreBackup(dest_));
  EXPECT_TRUE(v.ok()) << "the refused run changed nothing";
  ASSERT_OK(MakeDirs(tmp_.Join("busy")));
  ASSERT_OK(testing::WriteFile(tmp_.Join("busy") + "/notes.txt", "mine"));
  o.dest = tmp_.Join("busy");
  EXPECT_CODE(BackupStore(store_.get(), o).status(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(PathExists(tmp_.Join("busy") + "/packs")) << "nothing was written into it";
}

// A first run killed inside one of its atomic writes leaves that write's
// temporary next to the layout; the next run takes it as its own and
// finishes the copy.
TEST_F(StoreBackupTest, AFirstRunStoppedInsideAnAtomicWriteIsTakenUpAgain) {
  Day(1);
  for (const char* leftover : {"STARTED.tmp", "MANIFEST.tmp"}) {
    SCOPED_TRACE(leftover);
    std::filesystem::remove_all(dest_);
    ASSERT_OK(MakeDirs(dest_ + "/packs"));
    ASSERT_OK(testing::WriteFile(dest_ + "/" + leftover, "half"));
    Copy();
    ASSERT_OK_AND_ASSIGN(StoreBackupVerifyResult v, VerifyStoreBackup(dest_));
    EXPECT_TRUE(v.ok());
    ExpectCopyIsWhole(std::string("whole-after-") + leftover);
  }
}

TEST_F(StoreBackupTest, ACopyTakenWhileBackupsForgetsAndGcRunIsAWholeStore) {
  Day(1);
  std::atomic<bool> stop{false};
  std::atomic<int> rounds{0};
  std::thread churn([&] {
    for (int d = 2; !stop && d < 400; ++d) {
      auto s = Day(d);
      auto snaps = snapshot::Repo(store_.get()).ListSnapshots("alice");
      if (snaps.ok() && snaps->size() > 3) {
        EXPECT_OK(gc::ForgetSnapshot(store_.get(), "alice", snaps->front().name, kDay1).status());
      }
      Gc(store_.get());
      ++rounds;
    }
  });
  for (int i = 0; i < 4; ++i) {
    Copy();
    ExpectCopyIsWhole("live" + std::to_string(i));
  }
  stop = true;
  churn.join();
  EXPECT_GT(rounds.load(), 0);
  ASSERT_OK_AND_ASSIGN(StoreBackupVerifyResult v, VerifyStoreBackup(dest_));
  EXPECT_TRUE(v.ok());
}

}  // namespace
}  // namespace keepfs
