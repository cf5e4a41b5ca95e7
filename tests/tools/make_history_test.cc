// keepfs_make_history (tools/bench/), the generator of the history and memory
// benchmarks' store: a small run of it makes a store that `keepfs check`
// finds clean, whose report.txt has a version every 10 snapshots and whose
// other files read back as stored.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <string>

#include "tests/testing/test_util.h"
#include "tests/tools/cli_test_util.h"

namespace keepfs::testing {
namespace {

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(MakeHistoryTest, ASmallHistoryChecksCleanWithTheVersionsItPromises) {
  TempDir dir;
  const std::string store = dir.Join("store");
  const std::string cmd = std::string(KEEPFS_MAKE_HISTORY) + " --store " + store +
                          " --snapshots 25 --files 400 --per-folder 60 --changes 3 > " +
                          dir.Join("out.json") + " 2> " + dir.Join("err.txt");
  int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << cmd;

  CliRun snaps = RunCli({"snapshots", "--store", store, "--user", "alice"});
  ASSERT_EQ(snaps.code, 0) << snaps.err;
  EXPECT_EQ(Count(snaps.out, "\nalice "), 25u) << snaps.out;
  CliRun check = RunCli({"check", "--store", store, "--verify-data", "-q"});
  EXPECT_EQ(check.code, 0) << check.out << check.err;
  // report.txt changes in snapshots 0, 10 and 20; readme.txt never.
  CliRun report = RunCli({"versions", "--store", store, "--user", "alice", "docs/report.txt"});
  ASSERT_EQ(report.code, 0) << report.err;
  EXPECT_EQ(Count(report.out, "\n"), 3u) << report.out;
  CliRun readme = RunCli({"versions", "--store", store, "--user", "alice", "docs/readme.txt"});
  ASSERT_EQ(readme.code, 0) << readme.err;
  EXPECT_EQ(Count(readme.out, "\n"), 1u) << readme.out;
  // The layout of the header comment: tNN/fMMM/ leaves whose first file is data.log.
  CliRun big = RunCli({"cat", "--store", store, "--user", "alice", "latest", "t00/f000/data.log"});
  ASSERT_EQ(big.code, 0) << big.err;
  EXPECT_GE(big.out.size(), 96u << 10);
  EXPECT_LE(big.out.size(), 288u << 10);
  // A second run into the same store and user is refused, and changes nothing.
  status = std::system(cmd.c_str());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1);
  CliRun again = RunCli({"snapshots", "--store", store, "--user", "alice"});
  EXPECT_EQ(Count(again.out, "\nalice "), 25u);
}

}  // namespace
}  // namespace keepfs::testing
