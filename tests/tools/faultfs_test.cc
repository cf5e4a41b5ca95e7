// The faultfs shim's own model (tests/testing/faultfs/faultfs.cc), checked
// with a probe program: a power-loss test is only as good as the power loss
// it simulates, so each rule of the model has a case here that would fail if
// the shim kept what a real power loss drops, or dropped what it keeps.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <string>

#include "store/file_util.h"
#include "tests/testing/faultfs_util.h"
#include "tests/testing/test_util.h"

namespace keepfs::testing {
namespace {

class FaultFsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = dir_.Join("root");
    aside_ = dir_.Join("aside");
    ASSERT_EQ(::mkdir(root_.c_str(), 0755), 0);
    ASSERT_EQ(::mkdir(aside_.c_str(), 0755), 0);
  }
  FaultRun Probe(std::vector<std::string> ops, std::string fail = "") {
    ops.insert(ops.begin(), KEEPFS_FAULTFS_PROBE);
    return RunUnderFaultFs(ops, {{root_}, aside_, 0, "", fail});
  }
  std::string Read(const std::string& name) {
    auto r = ReadSmallFile(root_ + "/" + name);
    return r.ok() ? *r : "<missing>";
  }
  bool Exists(const std::string& name) { return PathExists(root_ + "/" + name); }
  TempDir dir_;
  std::string root_, aside_;
};

TEST_F(FaultFsTest, UnsyncedFilesAndBytesAreLost) {
  std::string f = root_ + "/f", g = root_ + "/g";
  FaultRun run = Probe({"write:" + f + ":durable", "fsync:" + f, "fsync:" + root_,
                        "append:" + f + ":-lost", "write:" + g + ":lost", "fsync:" + g,
                        "power-loss"});
  ASSERT_EQ(run.signal, SIGKILL) << run.err;
  EXPECT_EQ(Read("f"), "durable");
  EXPECT_FALSE(Exists("g")) << "a synced file whose directory was not synced survived";
}

TEST_F(FaultFsTest, WithoutPowerLossEverythingStays) {
  std::string f = root_ + "/f";
  FaultRun run = Probe({"write:" + f + ":a", "append:" + f + ":b", "mkdir:" + root_ + "/d"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(Read("f"), "ab");
  EXPECT_TRUE(Exists("d"));
}

TEST_F(FaultFsTest, ARenameIsUndoneUntilItsDirectoryIsSynced) {
  std::string tmp = root_ + "/tmp", final_path = root_ + "/final";
  FaultRun run = Probe({"write:" + final_path + ":old", "fsync:" + final_path, "fsync:" + root_,
                        "write:" + tmp + ":new", "fsync:" + tmp, "rename:" + tmp + ":" + final_path,
                        "power-loss"});
  ASSERT_EQ(run.signal, SIGKILL) << run.err;
  EXPECT_EQ(Read("final"), "old");
  EXPECT_FALSE(Exists("tmp")) << "tmp was created in an unsynced directory";

  run = Probe({"write:" + tmp + ":new", "fsync:" + tmp, "rename:" + tmp + ":" + final_path,
               "fsync:" + root_, "power-loss"});
  ASSERT_EQ(run.signal, SIGKILL) << run.err;
  EXPECT_EQ(Read("final"), "new");
  EXPECT_FALSE(Exists("tmp"));
}

TEST_F(FaultFsTest, AnUnlinkIsUndoneUntilItsDirectoryIsSynced) {
  std::string f = root_ + "/f";
  ASSERT_EQ(Probe({"write:" + f + ":kept", "fsync:" + f, "fsync:" + root_}).code, 0);
  FaultRun run = Probe({"unlink:" + f, "power-loss"});
  ASSERT_EQ(run.signal, SIGKILL) << run.err;
  EXPECT_EQ(Read("f"), "kept");
  run = Probe({"unlink:" + f, "fsync:" + root_, "power-loss"});
  ASSERT_EQ(run.signal, SIGKILL) << run.err;
  EXPECT_FALSE(Exists("f"));
}

TEST_F(FaultFsTest, ANewDirectoryNeedsItsParentSynced) {
  std::string d = root_ + "/d", f = root_ + "/d/f";
  FaultRun run = Probe({"mkdir:" + d, "write:" + f + ":x", "fsync:" + f, "fsync:" + d,
                        "power-loss"});
  ASSERT_EQ(run.signal, SIGKILL) << run.err;
  EXPECT_FALSE(Exists("d")) << "mkdir survived without an fsync of its parent";
  run = Probe({"mkdir:" + d, "fsync:" + root_, "write:" + f + ":x", "fsync:" + f, "fsync:" + d,
               "power-loss"});
  ASSERT_EQ(run.signal, SIGKILL) << run.err;
  EXPECT_EQ(Read("d/f"), "x");
}

// What a process leaves unsynced is lost in a power cut after it exits.
TEST_F(FaultFsTest, AStateFileCarriesUnsyncedWritesToALaterPowerLoss) {
  std::string f = root_ + "/f", g = root_ + "/g", state = dir_.Join("state");
  FaultFsOptions o{{root_}, aside_, 0, "", "", state};
  ASSERT_EQ(RunUnderFaultFs({KEEPFS_FAULTFS_PROBE, "write:" + f + ":a", "fsync:" + f,
                             "fsync:" + root_, "write:" + g + ":b"},
                            o)
                .code,
            0);
  ASSERT_EQ(RunUnderFaultFs({KEEPFS_FAULTFS_PROBE, "append:" + f + ":c"}, o).code, 0);
  EXPECT_EQ(Read("f"), "ac");
  ASSERT_TRUE(PowerLossNow(o));
  EXPECT_EQ(Read("f"), "a");
  EXPECT_FALSE(Exists("g"));
  EXPECT_FALSE(PathExists(state)) << "after a power loss everything left is durable";
}

TEST_F(FaultFsTest, CrashAtCountsMutatingCalls) {
  std::string f = root_ + "/f", count = dir_.Join("count");
  std::vector<std::string> ops = {KEEPFS_FAULTFS_PROBE, "write:" + f + ":a", "fsync:" + f,
                                  "fsync:" + root_, "append:" + f + ":b", "append:" + f + ":c"};
  FaultRun run = RunUnderFaultFs(ops, {{root_}, aside_, 0, count, ""});
  ASSERT_EQ(run.code, 0) << run.err;
  // create, write, fsync f, fsync root, write b, write c.
  EXPECT_EQ(ReadFaultCount(count), 6u);
  ASSERT_EQ(::unlink(f.c_str()), 0);
  run = RunUnderFaultFs(ops, {{root_}, aside_, 6, "", ""});  // before "c" is written
  ASSERT_EQ(run.signal, SIGKILL) << run.err;
  EXPECT_EQ(Read("f"), "a");
}

TEST_F(FaultFsTest, InjectedErrorsHitOnlyTheChosenCalls) {
  std::string f = root_ + "/f", other = root_ + "/other";
  // The second matching write fails with ENOSPC, once; other files are untouched.
  FaultRun run = Probe({"write:" + other + ":1", "write:" + f + ":1", "write:" + f + ":2"},
                       "write ENOSPC 1 1 root/f");
  EXPECT_EQ(run.code, 2);
  EXPECT_NE(run.err.find("No space left on device"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("write:" + f + ":2"), std::string::npos) << run.err;
  EXPECT_EQ(Read("other"), "1");
  run = Probe({"write:" + f + ":3"}, "fsync EIO 0 0 -");
  EXPECT_EQ(run.code, 0) << "an fsync fault failed a write";
  run = Probe({"write:" + f + ":3", "fsync:" + f}, "fsync EIO 0 0 -");
  EXPECT_EQ(run.code, 2);
  EXPECT_NE(run.err.find("Input/output error"), std::string::npos) << run.err;
}

}  // namespace
}  // namespace keepfs::testing
