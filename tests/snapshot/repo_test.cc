// Repo::ResolvePath with a lookup memo: one memo kept while resolving paths
// across many snapshots that share folders answers exactly what a resolve
// without one answers for each, found or not.
#include "snapshot/repo.h"

#include <gtest/gtest.h>

#include "store/file_util.h"
#include "tests/testing/backup_util.h"
#include "tests/testing/test_util.h"

namespace keepfs::snapshot {
namespace {

constexpr int64_t kDay1 = 1790823600;  // 2026-10-01T03:00:00Z

TEST(RepoTest, ResolvePathAcrossSnapshotsAnswersAsAFreshRepo) {
  testing::TempDir tmp;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> store, testing::InitAndOpen(tmp.Join("store")));
  std::string src = tmp.Join("src");
  ASSERT_OK(MakeDirs(src + "/docs/old"));
  ASSERT_OK(testing::WriteFile(src + "/docs/old/kept.txt", "never changes"));
  for (int d = 0; d < 6; ++d) {
    // report.txt changes every other day; late.txt appears on day 3.
    ASSERT_OK(testing::WriteFile(src + "/docs/report.txt", "version " + std::to_string(d / 2)));
    if (d == 3) {
      ASSERT_OK(testing::WriteFile(src + "/docs/late.txt", "late"));
    }
    testing::BackupOrFail(store.get(), "alice", src, kDay1 + d * 86400);
  }
  Repo repo(store.get());
  Repo::LookupMemo memo;
  ASSERT_OK_AND_ASSIGN(std::vector<SnapshotRecord> snaps, repo.ListSnapshots("alice"));
  ASSERT_EQ(snaps.size(), 6u);
  for (int pass = 0; pass < 2; ++pass) {  // the second pass answers from the memo
    for (const SnapshotRecord& s : snaps) {
      for (const char* path : {"docs/report.txt", "docs/old/kept.txt", "docs/late.txt",
                               "docs/old", "docs/nothing", "docs/report.txt/below", ""}) {
        auto want = repo.ResolvePath(s, path);
        auto got = repo.ResolvePath(s, path, &memo);
        ASSERT_EQ(got.ok(), want.ok()) << s.name << " " << path;
        if (want.ok()) {
          EXPECT_EQ(*got, *want) << s.name << " " << path;
        } else {
          EXPECT_EQ(got.status().code(), want.status().code()) << s.name << " " << path;
          EXPECT_EQ(got.status().message(), want.status().message());
        }
      }
    }
  }
  EXPECT_FALSE(memo.answers.empty());
  ASSERT_OK_AND_ASSIGN(Entry late, repo.ResolvePath(snaps[3], "docs/late.txt", &memo));
  EXPECT_EQ(late.size, 4u);
  EXPECT_EQ(repo.ResolvePath(snaps[2], "docs/late.txt", &memo).status().code(),
            StatusCode::kNotFound);
}

}  // namespace
}  // namespace keepfs::snapshot
