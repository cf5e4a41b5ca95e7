// The soak test in CI (issue 9, "Load"; tools/bench/soak.h says what runs
// and what counts as an error): the real keepfs binary serves a mount while
// 32 readers walk and check snapshots of two users through it, both users
// back up every 2 s, and prune, share and gc run in a loop. Bounded here;
// KEEPFS_SOAK_SECONDS sets the time of everything at once (default 35), and
// tools/bench/soak.sh runs it for as long as wanted and prints the report.
#include "tools/bench/soak.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>

#include "store/store.h"
#include "tests/testing/mount_util.h"
#include "tests/testing/pack_oracle.h"
#include "tests/testing/refs_oracle.h"
#include "tests/testing/sanitizers.h"
#include "tests/testing/test_util.h"

namespace keepfs::testing {
namespace {

TEST(SoakTest, ReadersBackupsPruneAndGcRunTogetherWithoutErrorsAndFlatMemory) {
  KEEPFS_REQUIRE_FUSE_OR_SKIP();
  TempDir dir;
  bench::SoakOptions o;
  o.keepfs = KEEPFS_BINARY;
  o.work = dir.Join("soak");
  o.seconds = 35;
  if (const char* env = std::getenv("KEEPFS_SOAK_SECONDS")) o.seconds = std::atof(env);
  o.progress = &std::cout;
  ASSERT_OK_AND_ASSIGN(bench::SoakReport r, bench::RunSoak(o));
  std::cout << bench::SoakText(r);

  EXPECT_EQ(r.errors, 0u) << "the first errors are listed in the report above";
  EXPECT_EQ(r.mount_exit, 0);
  EXPECT_EQ(r.mount_log_errors, 0u);
  EXPECT_EQ(r.check_exit, 0) << r.check_output;
  EXPECT_EQ(r.audit_exit, 0) << r.audit_output;
  if (!kSanitized) {
    EXPECT_TRUE(r.rss.flat) << "the mount's median RSS grew by "
                            << static_cast<int64_t>(r.rss.second_median - r.rss.first_median)
                            << " KiB from the first half of the run to the second";
  }
  EXPECT_TRUE(r.fds.flat) << "the mount's open files grew";
  EXPECT_TRUE(r.threads.flat) << "the mount's threads grew";
  // Every kind of work ran often enough to mean something. A backup takes
  // well under a second here; the floors are a fraction of what one run does.
  const double scale = o.seconds / 35;
  EXPECT_GE(r.backups[0], 5 * scale);
  EXPECT_GE(r.backups[1], 5 * scale);
  EXPECT_GE(r.prunes, 4 * scale);
  EXPECT_GE(r.snapshots_forgotten, 6 * scale) << "prune let too few snapshots go";
  EXPECT_GE(r.gcs, 4 * scale);
  EXPECT_GT(r.gc_chunks_deleted, 0u) << "gc deleted nothing: the readers raced nothing";
  EXPECT_GT(r.gc_packs_removed + r.gc_packs_repacked, 0u);
  EXPECT_GT(r.files_unified, 0u) << "the sharing pass never unified the sparse copy";
  EXPECT_GE(r.walks, 40 * scale);
  EXPECT_GE(r.files_read, 1000 * scale);
  EXPECT_GE(r.read_latency.count(), 5000 * scale);

  // The oracles of the crash tests, on the store the soak leaves: counts and
  // holders equal a recount, pack records and dead counters are exact.
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open(o.work + "/store", OpenMode::kReadWrite));
  ExpectRefsConsistent(store.get());
  ExpectPacksExact(store.get());
}

}  // namespace
}  // namespace keepfs::testing
