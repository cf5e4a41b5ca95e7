// Reference counts and usage accounts, checked against a recount from
// scratch after every backup, and the charging rule on data two users share.
#include "snapshot/accounting.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <thread>
#include <vector>

#include "snapshot/catalog.h"
#include "snapshot/content.h"
#include "snapshot/ingest.h"
#include "snapshot/repo.h"
#include "snapshot/tree.h"
#include "store/chunk_store.h"
#include "store/coding.h"
#include "store/file_util.h"
#include "tests/testing/backup_util.h"
#include "tests/testing/refs_oracle.h"
#include "tests/testing/test_util.h"

namespace keepfs::snapshot {
namespace {

constexpr int64_t kTime = 1790823600;  // 2026-10-01T03:00:00Z

class AccountingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(store_, testing::InitAndOpen(tmp_.Join("store")));
  }

  std::string Src(const std::string& name) {
    std::string d = tmp_.Join(name);
    EXPECT_OK(MakeDirs(d + "/sub"));
    return d;
  }

  std::map<std::string, uint64_t> StoredCounts() { return testing::StoredRefCounts(store_.get()); }
  std::map<std::string, UserHoldings> ExpectConsistent() {
    return testing::ExpectRefsConsistent(store_.get());
  }

  testing::TempDir tmp_;
  std::unique_ptr<Store> store_;
};

TEST_F(AccountingTest, SharedDataIsChargedOnceSplitBetweenItsHolders) {
  std::string a = Src("a"), b = Src("b");
  std::string shared = testing::RandomBytes(300000, 1);  // incompressible: stored = raw
  ASSERT_OK(testing::WriteFile(a + "/shared.bin", shared));
  ASSERT_OK(testing::WriteFile(b + "/sub/copy.bin", shared));
  ASSERT_OK(testing::WriteFile(a + "/mine.bin", testing::RandomBytes(200000, 2)));
  ASSERT_OK(testing::WriteFile(b + "/theirs.bin", testing::RandomBytes(100000, 3)));
  ASSERT_OK(testing::WriteFile(a + "/small.txt", "the same small file"));
  ASSERT_OK(testing::WriteFile(b + "/small.txt", "the same small file"));

  testing::BackupOrFail(store_.get(), "alice", a, kTime);
  auto alone = ExpectConsistent();
  EXPECT_EQ(alone["alice"].shared(), 0u);
  EXPECT_GE(alone["alice"].exclusive(), 500000u);

  testing::BackupOrFail(store_.get(), "bob", b, kTime);
  auto both = ExpectConsistent();
  ASSERT_OK_AND_ASSIGN(UserHoldings alice, LoadHoldings(store_.get(), "alice"));
  ASSERT_OK_AND_ASSIGN(UserHoldings bob, LoadHoldings(store_.get(), "bob"));
  // The shared file's chunk(s) and the shared inline file are held by two.
  EXPECT_EQ(alice.shared(), bob.shared());
  EXPECT_GE(alice.shared(), 300000u);
  EXPECT_EQ(alice.exclusive(), alone["alice"].exclusive() - alice.shared());
  EXPECT_EQ(alice.charged(), alice.exclusive() + alice.shared() / 2);
  EXPECT_EQ(bob.charged(), bob.exclusive() + bob.shared() / 2);
  // Never charged twice: the charges add up to what the two hold (less at
  // most one byte of rounding per holder count).
  uint64_t distinct = alice.exclusive() + bob.exclusive() + alice.shared();
  EXPECT_LE(alice.charged() + bob.charged(), distinct);
  EXPECT_GE(alice.charged() + bob.charged() + 2, distinct);

  // Removing bob's snapshot subtracts along the same edges: the counts match
  // a recount of what is left, and alice holds the shared data alone again.
  ASSERT_OK_AND_ASSIGN(auto bobs, Repo(store_.get()).ListSnapshots("bob"));
  ASSERT_EQ(bobs.size(), 1u);
  RefChanges changes(store_.get(), "bob");
  ASSERT_OK(changes.RemoveRoot(bobs[0].root));
  EXPECT_EQ(changes.freed(), bob.exclusive()) << "what only bob held";
  WriteBatch batch;
  changes.AddTo(&batch);
  batch.Delete(SnapshotKey("bob", bobs[0].name));
  ASSERT_OK(store_->kv().Write(batch, true));
  ExpectConsistent();
  ASSERT_OK_AND_ASSIGN(alice, LoadHoldings(store_.get(), "alice"));
  EXPECT_EQ(alice.bytes_by_holders, alone["alice"].bytes_by_holders);
  // A count can never go negative: removing the same root again is refused.
  RefChanges again(store_.get(), "bob");
  EXPECT_CODE(again.RemoveRoot(bobs[0].root), StatusCode::kCorruption);
}

TEST_F(AccountingTest, AnUnchangedTreeCostsOneIncrement) {
  std::string a = Src("a");
  for (int i = 0; i < 50; ++i) {
    ASSERT_OK(testing::WriteFile(a + "/sub/f" + std::to_string(i), testing::RandomBytes(9000, i)));
  }
  auto first = testing::BackupOrFail(store_.get(), "alice", a, kTime);
  size_t keys_after_first = StoredCounts().size();
  EXPECT_GT(keys_after_first, 100u);  // trees, 50 contents, 50 chunks
  // The next snapshot of the same tree: only the root's count changes (the
  // user's account is rewritten as it was).
  ASSERT_OK_AND_ASSIGN(auto records, AddSnapshotRefs(store_.get(), "alice", first.root));
  std::map<std::string, std::string> by_key(records.begin(), records.end());
  ASSERT_EQ(by_key.size(), 2u);
  EXPECT_EQ(by_key.count(RefKey("alice", 't', first.root)), 1u);
  std::string account;
  ASSERT_OK_AND_ASSIGN(bool found, store_->kv().Get(AccountKey("alice"), &account));
  ASSERT_TRUE(found);
  EXPECT_EQ(by_key[AccountKey("alice")], account);
  auto second = testing::BackupOrFail(store_.get(), "alice", a, kTime + 86400);
  EXPECT_EQ(second.root, first.root);
  EXPECT_EQ(StoredCounts().size(), keys_after_first);
  EXPECT_EQ(StoredCounts()[RefKey("alice", 't', first.root)], 2u);
  ExpectConsistent();

  // One changed file: the path to it and its new data, not the whole tree.
  ASSERT_OK(testing::WriteFile(a + "/sub/f7", testing::RandomBytes(9000, 777)));
  testing::BackupOrFail(store_.get(), "alice", a, kTime + 2 * 86400);
  EXPECT_LE(StoredCounts().size(), keys_after_first + 6);
  ExpectConsistent();
}

// A first commit looks no counts up (the user has no account yet); the
// account is written even when the user holds nothing, so a second commit of
// a tree without files does look them up.
TEST_F(AccountingTest, AUserWithoutFilesIsCountedRightFromTheSecondCommit) {
  std::string empty = Src("empty");
  auto first = testing::BackupOrFail(store_.get(), "dora", empty, kTime);
  testing::BackupOrFail(store_.get(), "dora", empty, kTime + 60);
  EXPECT_EQ(StoredCounts()[RefKey("dora", 't', first.root)], 2u);
  ExpectConsistent();
}

TEST_F(AccountingTest, HoldingsRecordsRoundTripAndRejectDamage) {
  UserHoldings h;
  h.bytes_by_holders = {{1, 1000}, {2, 500}, {3, 300}};
  ASSERT_OK_AND_ASSIGN(UserHoldings back, DecodeHoldings(EncodeHoldings(h)));
  EXPECT_EQ(back.bytes_by_holders, h.bytes_by_holders);
  EXPECT_EQ(h.exclusive(), 1000u);
  EXPECT_EQ(h.shared(), 800u);
  EXPECT_EQ(h.charged(), 1000u + 250 + 100);
  std::string enc = EncodeHoldings(h);
  EXPECT_CODE(DecodeHoldings(enc.substr(0, enc.size() - 1)), StatusCode::kCorruption);
  EXPECT_CODE(DecodeHoldings(enc + "x"), StatusCode::kCorruption);
  EXPECT_CODE(DecodeHoldings(std::string("\x01\x00\x05", 3)), StatusCode::kCorruption)
      << "zero holders";
}

// keepfs serve ingests pushes of different users side by side: their
// backups share chunks, contents and trees, write them at the same time,
// and commit one after the other under the commit lock. Every count and
// account stays exact and every file reads back.
TEST_F(AccountingTest, BackupsOfSeveralUsersAtOnceKeepExactCounts) {
  const std::vector<std::string> users = {"alice", "bob", "carol"};
  const std::string common = testing::RandomBytes(700000, 50);
  std::map<std::string, std::string> src;
  for (size_t u = 0; u < users.size(); ++u) {
    src[users[u]] = Src(users[u]);
    ASSERT_OK(testing::WriteFile(src[users[u]] + "/common.bin", common));
    ASSERT_OK(testing::WriteFile(src[users[u]] + "/sub/same.txt", "one small file for all"));
  }
  for (int round = 0; round < 4; ++round) {
    for (size_t u = 0; u < users.size(); ++u) {
      // Each round: a file of the user's own, and one the next user also gets.
      ASSERT_OK(testing::WriteFile(src[users[u]] + "/own" + std::to_string(round),
                                   testing::RandomBytes(150000, 100 * round + u)));
      ASSERT_OK(testing::WriteFile(src[users[(u + 1) % users.size()]] + "/sub/from-" + users[u],
                                   testing::RandomBytes(90000, 1000 * round + u)));
    }
    std::vector<std::thread> threads;
    std::vector<Status> results(users.size());
    for (size_t u = 0; u < users.size(); ++u) {
      threads.emplace_back([&, u] {
        BackupOptions o;
        o.user = users[u];
        o.source = src[users[u]];
        o.time_sec = kTime + round * 86400;
        o.workers = 2;
        results[u] = Backup(store_.get(), o, nullptr).status();
      });
    }
    for (auto& t : threads) t.join();
    for (size_t u = 0; u < users.size(); ++u) ASSERT_OK(results[u]) << users[u];
    ExpectConsistent();
  }
  Repo repo(store_.get());
  for (const auto& user : users) {
    ASSERT_OK_AND_ASSIGN(auto snaps, repo.ListSnapshots(user));
    ASSERT_EQ(snaps.size(), 4u) << user;
    ASSERT_OK_AND_ASSIGN(std::string got, testing::ReadSnapshotFile(store_.get(), snaps.back(), "common.bin"));
    EXPECT_TRUE(got == common) << user;
    ASSERT_OK_AND_ASSIGN(std::string own, testing::ReadSnapshotFile(store_.get(), snaps.back(), "own3"));
    EXPECT_EQ(own.size(), 150000u);
  }
}

}  // namespace
}  // namespace keepfs::snapshot
