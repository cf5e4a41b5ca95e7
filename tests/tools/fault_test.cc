// Injected I/O errors (the faultfs shim, tests/testing/faultfs/faultfs.cc):
// ENOSPC, EIO and EINTR on pack writes and fsyncs, on the metadata
// database's writes, on source reads and on pack reads (backup, gc, restore
// and the mount). Each must give a clear error; the job fails cleanly or
// retries; nothing committed is lost; the next run succeeds; and the mount
// keeps serving everything that is intact.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "snapshot/repo.h"
#include "store/file_util.h"
#include "tests/testing/backup_util.h"
#include "tests/testing/faultfs_util.h"
#include "tests/testing/mount_util.h"
#include "tests/testing/pack_oracle.h"
#include "tests/testing/refs_oracle.h"
#include "tests/testing/test_util.h"
#include "tests/tools/cli_test_util.h"

namespace keepfs::testing {
namespace {

namespace fs = std::filesystem;
using Files = std::map<std::string, std::string>;

class FaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = dir_.Join("store");
    src_ = dir_.Join("src");
    ASSERT_EQ(RunCli({"init", "--store", store_, "-q"}).code, 0);
    ASSERT_EQ(::mkdir(src_.c_str(), 0755), 0);
    AddFiles("a", 4);
    ASSERT_EQ(RunCli({"backup", "--store", store_, "--user", "alice", "-q", src_}).code, 0);
    committed_ = files_;
  }

  // count new files of 300 KB to 1.3 MB in src.
  void AddFiles(const std::string& prefix, int count) {
    for (int i = 0; i < count; ++i) {
      std::string name = prefix + std::to_string(i);
      files_[name] = RandomBytes(300000 + rng_.Uniform(1 << 20), rng_.Next());
      ASSERT_TRUE(WriteFile(src_ + "/" + name, files_[name]).ok());
    }
  }

  FaultRun Keepfs(std::vector<std::string> args, const std::string& fail,
                  std::vector<std::string> roots = {}) {
    args.insert(args.begin(), KEEPFS_BINARY);
    if (roots.empty()) roots = {store_};
    return RunUnderFaultFs(args, {roots, "", 0, "", fail, ""});
  }

  // The committed snapshot still reads back, check is clean, counts exact,
  // and no snapshot but the committed ones exists.
  void ExpectCommittedIntact(size_t snapshots) {
    CliRun check = RunCli({"check", "--store", store_, "--verify-data"});
    ASSERT_EQ(check.code, 0) << check.out << check.err;
    auto s = Store::Open(store_, OpenMode::kReadWrite);
    ASSERT_OK(s);
    ExpectRefsConsistent(s->get());
    ExpectPacksExact(s->get());
    auto snaps = snapshot::Repo(s->get()).ListSnapshots("alice");
    ASSERT_OK(snaps);
    ASSERT_EQ(snaps->size(), snapshots);
    for (const auto& [f, bytes] : committed_) {
      auto got = ReadSnapshotFile(s->get(), snaps->back(), f);
      ASSERT_OK(got) << f;
      ASSERT_TRUE(*got == bytes) << f;
    }
  }

  // The same backup without the fault succeeds and holds the source.
  void ExpectNextBackupWorks() {
    CliRun b = RunCli({"backup", "--store", store_, "--user", "alice", "-q", src_});
    ASSERT_EQ(b.code, 0) << b.err;
    std::string dest = dir_.Join("restored");
    fs::remove_all(dest);
    ASSERT_EQ(RunCli({"restore", "--store", store_, "--user", "alice", "latest", dest, "-q"}).code,
              0);
    EXPECT_EQ(std::system(("diff -r " + src_ + " " + dest + " >/dev/null").c_str()), 0);
    CliRun check = RunCli({"check", "--store", store_, "--verify-data"});
    EXPECT_EQ(check.code, 0) << check.out << check.err;
  }

  TempDir dir_;
  std::string store_, src_;
  Rng rng_{81};
  Files files_, committed_;
};

// A failing write or fsync of a pack: the backup fails with the cause and
// commits nothing; the store is as it was.
TEST_F(FaultTest, PackWriteAndFsyncErrorsFailTheBackupCleanly) {
  struct Case {
    const char* fail;
    const char* says;
  } cases[] = {
      {"write ENOSPC 2 0 .pack.tmp", "No space left on device"},
      {"write EIO 0 0 .pack.tmp", "Input/output error"},
      {"fsync EIO 0 0 .pack.tmp", "Input/output error"},
      {"fsync ENOSPC 0 0 /packs", "No space left on device"},  // the directory of sealed packs
      {"rename EIO 0 0 .pack", "Input/output error"},
  };
  int n = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.fail);
    // New bytes for each case: a pack sealed before its fault (the rename and
    // directory cases) is adopted, and its chunks would not be written again.
    AddFiles("b" + std::to_string(n++) + "_", 3);
    FaultRun run = Keepfs({"backup", "--store", store_, "--user", "alice", "-q", src_}, c.fail);
    EXPECT_EQ(run.code, 1) << run.err;
    EXPECT_NE(run.err.find(c.says), std::string::npos) << run.err;
    EXPECT_EQ(run.err.find("warning"), std::string::npos) << "not a partial backup: " << run.err;
    ExpectCommittedIntact(1);
    for (const auto& e : fs::directory_iterator(store_ + "/tmp")) {
      ADD_FAILURE() << "left behind: " << e.path();
    }
  }
  ExpectNextBackupWorks();
}

// The metadata database's log cannot be written or synced: the backup fails
// with the cause, and the store opens cleanly afterwards.
TEST_F(FaultTest, MetadataWriteErrorsFailTheBackupCleanly) {
  AddFiles("b", 3);
  for (const char* fail : {"write ENOSPC 0 0 .log", "write EIO 3 0 .log", "fsync EIO 0 0 .log",
                           "write ENOSPC 0 0 MANIFEST"}) {
    SCOPED_TRACE(fail);
    FaultRun run = Keepfs({"backup", "--store", store_, "--user", "alice", "-q", src_}, fail);
    EXPECT_NE(run.code, 0) << run.err;
    EXPECT_FALSE(run.signal) << "killed by signal " << run.signal << ":\n" << run.err;
    EXPECT_TRUE(run.err.find("No space left on device") != std::string::npos ||
                run.err.find("Input/output error") != std::string::npos ||
                run.err.find("IO error") != std::string::npos)
        << run.err;
    ExpectCommittedIntact(1);
  }
  ExpectNextBackupWorks();
}

// EINTR is retried everywhere: the backup succeeds with the right bytes.
TEST_F(FaultTest, InterruptedCallsAreRetried) {
  AddFiles("b", 3);
  FaultRun run = Keepfs({"backup", "--store", store_, "--user", "alice", "-q", src_},
                        "write EINTR 0 20 -");
  ASSERT_EQ(run.code, 0) << run.err;
  run = Keepfs({"backup", "--store", store_, "--user", "alice", "-q", "--no-cache", src_},
               "read EINTR 0 20 -", {src_});
  ASSERT_EQ(run.code, 0) << run.err;
  committed_ = files_;
  ExpectCommittedIntact(3);
  std::string dest = dir_.Join("restored");
  ASSERT_EQ(RunCli({"restore", "--store", store_, "--user", "alice", "latest", dest, "-q"}).code, 0);
  EXPECT_EQ(std::system(("diff -r " + src_ + " " + dest + " >/dev/null").c_str()), 0);
}

// A source file that fails to read is listed, the rest is committed, and
// the backup exits 3 (partial).
TEST_F(FaultTest, ASourceReadErrorIsListedAndTheRestCommitted) {
  AddFiles("b", 2);
  FaultRun run = Keepfs({"backup", "--store", store_, "--user", "alice", "-q", "--no-cache", src_},
                        "read EIO 0 0 /src/b1", {src_});
  ASSERT_EQ(run.code, 3) << run.err;
  EXPECT_NE(run.err.find("b1"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("Input/output error"), std::string::npos) << run.err;
  auto s = Store::Open(store_, OpenMode::kReadOnly);
  ASSERT_OK(s);
  auto snaps = snapshot::Repo(s->get()).ListSnapshots("alice");
  ASSERT_OK(snaps);
  ASSERT_EQ(snaps->size(), 2u);
  const auto& snap = snaps->back();
  EXPECT_EQ(snap.errors.size(), 1u);
  for (const auto& [f, bytes] : files_) {
    auto got = ReadSnapshotFile(s->get(), snap, f);
    if (f == "b1") {
      EXPECT_FALSE(got.ok()) << "the unreadable file was stored";
      continue;
    }
    ASSERT_OK(got) << f;
    EXPECT_TRUE(*got == bytes) << f;
  }
}

// A pack that cannot be read: restore and check name the affected files and
// exit non-zero, and nothing else is lost; gc, which must read it to
// repack, fails cleanly.
TEST_F(FaultTest, PackReadErrorsAreNamedAndContained) {
  std::vector<std::string> packs;
  for (const auto& e : fs::recursive_directory_iterator(store_ + "/packs")) {
    if (e.is_regular_file()) packs.push_back(e.path().string());
  }
  ASSERT_EQ(packs.size(), 1u);
  std::string bad = packs[0].substr(packs[0].find_last_of('/'));
  std::string dest = dir_.Join("restored");
  FaultRun run = Keepfs({"restore", "--store", store_, "--user", "alice", "latest", dest, "-q"},
                        "read EIO 0 0 " + bad);
  EXPECT_EQ(run.code, 3) << run.err;
  EXPECT_NE(run.err.find("a0"), std::string::npos) << run.err;
  for (const auto& [f, bytes] : committed_) {
    auto got = ReadSmallFile(dest + "/" + f);
    EXPECT_TRUE(!got.ok() || *got != bytes || bytes.empty())
        << f << " restored although its pack could not be read";
  }
  run = Keepfs({"check", "--store", store_, "--verify-data"}, "read EIO 0 0 " + bad);
  EXPECT_EQ(run.code, 1) << run.out << run.err;
  EXPECT_NE(run.out.find("a0"), std::string::npos) << "check does not name the file:\n" << run.out;
  // Nothing was harmed: without the fault everything reads.
  ExpectCommittedIntact(1);
}

// The mount keeps serving what is intact while one pack fails to read:
// files in that pack are EIO, everything else reads, and the listing works.
TEST_F(FaultTest, TheMountServesWhatIsIntactAroundAFailingPack) {
  KEEPFS_REQUIRE_FUSE_OR_SKIP();
  std::set<std::string> first_packs;
  for (const auto& e : fs::recursive_directory_iterator(store_ + "/packs")) {
    if (e.is_regular_file()) first_packs.insert(e.path().filename().string());
  }
  ASSERT_EQ(first_packs.size(), 1u);
  AddFiles("b", 3);  // a second snapshot: the b files live in a new pack
  ASSERT_EQ(RunCli({"backup", "--store", store_, "--user", "alice", "-q", src_}).code, 0);
  std::string mnt = dir_.Join("mnt");
  ASSERT_EQ(::mkdir(mnt.c_str(), 0755), 0);
  std::string why;
  pid_t pid;
  {
    ScopedFaultFsEnv env({{store_}, "", 0, "", "read EIO 0 0 /" + *first_packs.begin(), ""});
    pid = StartMountProcess(KEEPFS_BINARY, store_, mnt, dir_.Join("mount.log"), &why);
  }
  ASSERT_GT(pid, 0) << why;
  std::string latest = mnt + "/alice/latest";
  int eio = 0, good = 0;
  for (const auto& [f, bytes] : files_) {
    auto got = ReadSmallFile(latest + "/" + f);
    if (f[0] == 'a') {
      EXPECT_FALSE(got.ok()) << f << " read although its pack fails";
      if (!got.ok() && got.status().message().find("Input/output error") != std::string::npos) {
        ++eio;
      }
    } else {
      ASSERT_OK(got) << f;
      EXPECT_TRUE(*got == bytes) << f;
      ++good;
    }
  }
  EXPECT_EQ(eio, 4);
  EXPECT_EQ(good, 3);
  EXPECT_EQ(std::system(("ls -lR " + mnt + " >/dev/null").c_str()), 0);
  EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), 0) << "the mount died";
  ASSERT_EQ(::umount2(mnt.c_str(), MNT_DETACH), 0);
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
}

// gc that must rewrite a pack under ENOSPC, or fails to write its records or
// remove a pack, fails cleanly; nothing is lost and the next run finishes.
TEST_F(FaultTest, GcUnderErrorsFailsCleanly) {
  // The first pack ends mostly dead with a0 still live in it: gc repacks it.
  for (const char* gone : {"a1", "a2", "a3"}) {
    ASSERT_EQ(::unlink((src_ + "/" + gone).c_str()), 0);
    files_.erase(gone);
  }
  AddFiles("b", 2);
  ASSERT_EQ(RunCli({"backup", "--store", store_, "--user", "alice", "-q", src_}).code, 0);
  ASSERT_EQ(RunCli({"prune", "--store", store_, "-q", "--keep-last", "1", "--keep-within", "0",
                    "--keep-monthly", "0"})
                .code,
            0);
  committed_ = files_;
  struct Case {
    const char* fail;
    int code;
    const char* says;
  } cases[] = {
      // A full disk stops gc with the advice every full disk gets.
      {"write ENOSPC 0 0 .pack.tmp", 1, "the store's disk is full"},
      {"write ENOSPC 2 0 .log", 1, "the store's disk is full"},
      // A pack that cannot be removed is left for the next run: exit 3 when
      // a repack's old pack, exit 1 when a dead pack (which stops the run).
      {"unlink EIO 0 0 .pack", -1, "Input/output error"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.fail);
    FaultRun run = Keepfs({"gc", "--store", store_, "-q", "--undelete-window", "0s"}, c.fail);
    EXPECT_FALSE(run.signal) << run.err;
    if (c.code >= 0) {
      EXPECT_EQ(run.code, c.code) << run.err;
    } else {
      EXPECT_TRUE(run.code == 1 || run.code == 3) << run.err;
    }
    EXPECT_NE(run.err.find(c.says), std::string::npos) << run.err;
    ExpectCommittedIntact(1);
  }
  CliRun gc = RunCli({"gc", "--store", store_, "--undelete-window", "0s", "--json"});
  ASSERT_EQ(gc.code, 0) << gc.err;
  ExpectCommittedIntact(1);
}

}  // namespace
}  // namespace keepfs::testing
