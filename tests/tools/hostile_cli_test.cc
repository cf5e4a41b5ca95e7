// Hostile command lines (issue 9, "Bad input at the edges"): every command
// given missing, extra, garbled, duplicated, empty, huge, negative or
// non-UTF-8 arguments, paths that do not exist, hold "..", or are a file, a
// fifo or a device where a folder belongs. Each gets a one-line error that
// says what to do and the documented exit code (2 for what the parser
// refuses, 1 for a value keepfs refuses, 4 for permission denied), within a
// deadline, and nothing stored changes: the store's digest (every key and
// value, every pack, config.toml) is the same before and after.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "store/file_util.h"
#include "tests/testing/test_util.h"
#include "tests/tools/cli_test_util.h"
#include "tests/tools/hostile_util.h"

namespace keepfs::testing {
namespace {

struct CliCase {
  std::vector<std::string> args;  // after "keepfs"; "@S" is the store, "@X" the scratch dir
  int code;
  std::string must_say;  // in stderr
};

class HostileCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = dir_.Join("store");
    src_ = dir_.Join("src");
    ASSERT_EQ(::mkdir(src_.c_str(), 0755), 0);
    ASSERT_OK(MakeDirs(src_ + "/docs"));
    ASSERT_TRUE(WriteFile(src_ + "/a.txt", "alpha\n").ok());
    ASSERT_TRUE(WriteFile(src_ + "/docs/b.txt", "beta\n").ok());
    ASSERT_TRUE(WriteFile(dir_.Join("file"), "a plain file\n").ok());
    ASSERT_EQ(::mkfifo(dir_.Join("fifo").c_str(), 0600), 0);
    ASSERT_EQ(::mkdir(dir_.Join("empty").c_str(), 0755), 0);
    ASSERT_EQ(RunCli({"init", "--store", store_, "-q"}).code, 0);
    ASSERT_EQ(RunCli({"backup", "--store", store_, "--user", "alice", "-q", "--time",
                      "2026-10-01T03:00:00Z", src_})
                  .code,
              0);
    ASSERT_EQ(RunCli({"backup", "--store", store_, "--user", "alice", "-q", "--time",
                      "2026-10-02T03:00:00Z", src_})
                  .code,
              0);
    ASSERT_EQ(RunCli({"pin", "--store", store_, "--user", "alice", "-q", "latest", "a.txt"}).code,
              0);
    digest_ = StoreDigest(store_);
    ASSERT_EQ(digest_.rfind("error", 0), std::string::npos) << digest_;
  }

  std::string Expand(std::string a) {
    for (const auto& [from, to] :
         {std::pair<std::string, std::string>{"@S", store_}, {"@X", dir_.path()}, {"@src", src_}}) {
      for (size_t at = a.find(from); at != std::string::npos; at = a.find(from, at + to.size())) {
        a.replace(at, from.size(), to);
      }
    }
    return a;
  }

  // Runs each case against the real binary; checks code, message, that
  // stdout is empty and the store unchanged.
  void RunCases(const std::vector<CliCase>& cases) {
    for (const CliCase& c : cases) {
      std::vector<std::string> args = {KEEPFS_BINARY};
      for (const auto& a : c.args) args.push_back(Expand(a));
      const std::string must_say = Expand(c.must_say);
      std::string shown;
      for (size_t i = 1; i < args.size(); ++i) shown += "'" + args[i] + "' ";
      BinaryOptions o;
      o.timeout_s = 20;
      BinaryRun r = RunBinary(args, dir_.path(), o);
      ASSERT_FALSE(r.timed_out) << "hung: keepfs " << shown;
      EXPECT_EQ(r.code, c.code) << "keepfs " << shown << "\n" << r.err;
      EXPECT_NE(r.err.find(must_say), std::string::npos)
          << "keepfs " << shown << "\nstderr: " << r.err;
      EXPECT_TRUE(r.out.empty()) << "keepfs " << shown << "\nstdout: " << r.out;
      EXPECT_NE(r.err.find("keepfs"), std::string::npos) << shown;
      EXPECT_LT(std::count(r.err.begin(), r.err.end(), '\n'), 4) << "keepfs " << shown << "\n"
                                                                 << r.err;
      const std::string now = StoreDigest(store_);
      EXPECT_EQ(now, digest_) << "keepfs " << shown << " changed the store";
      digest_ = now;  // one culprit, not every case after it
    }
  }

  TempDir dir_;
  std::string store_, src_, digest_;
};

const std::string kBad = "\xff\xfe\x80";  // not UTF-8

TEST_F(HostileCliTest, GlobalOptionsAndStorePaths) {
  RunCases({
      {{}, 2, "keepfs --help"},
      {{"--store"}, 2, "--store"},
      {{"--bogus", "snapshots"}, 2, "--bogus"},
      {{"frobnicate"}, 2, "unknown command 'frobnicate'"},
      {{"--store", "@S", "frobnicate", "--user", "x"}, 2, "unknown command 'frobnicate'"},
      {{"--store", "@S", "snapshots", "extra"}, 2, "extra"},
      {{"--store", "", "snapshots"}, 2, "--store: an empty value"},
      {{"--store", "@X/file", "snapshots"}, 1, "no keepfs store at"},
      {{"--store", "@X/fifo", "snapshots"}, 1, "no keepfs store at"},
      {{"--store", "/dev/zero", "snapshots"}, 1, "no keepfs store at"},
      {{"--store", "@X/nope/../store", "snapshots"}, 1, "no keepfs store at"},
      {{"--store", "@X/empty", "snapshots"}, 1, "not a keepfs store"},
      {{"--store", "@S/packs", "snapshots"}, 1, "not a keepfs store"},
      {{"--store", kBad, "snapshots"}, 1, "no keepfs store at"},
      {{"--store", "@S", "--store", "@X/empty", "snapshots"}, 2, "--store"},
      {{"--socket", "@X/file", "snapshots"}, 1, "no keepfs server answers"},
      {{"--socket", "", "--store", "@S", "snapshots"}, 2, "--socket: an empty value"},
  });
}

TEST_F(HostileCliTest, Init) {
  RunCases({
      // attach: refused before any cluster is reached.
      {{"attach", "--store", "@S", "rados:pool/ns"}, 1, "already holds"},
      {{"attach", "--store", "@src", "rados:pool/ns"}, 1, "not empty"},
      {{"attach", "--store", "@X/new", "local"}, 1, "rados:POOL/NAMESPACE"},
      {{"attach", "--store", "@X/new", "rados:pool/ns", "--ceph-client", "a\"b"}, 1, "quotes"},
      {{"attach", "--store", "@X/new"}, 2, "packs"},
      {{"init", "--store", "@S"}, 1, "already holds"},
      {{"init", "--store", "@X/file"}, 1, "not a directory"},
      {{"init", "--store", "@X/fifo"}, 1, "not a directory"},
      {{"init", "--store", "@src"}, 1, "not empty"},
      {{"init", "--store", "@X/new", "--chunk-avg", "3"}, 1, "power of two"},
      {{"init", "--store", "@X/new", "--chunk-min", "0"}, 1, "chunk"},
      {{"init", "--store", "@X/new", "--chunk-min", "9000000", "--chunk-max", "100"}, 1, "chunk"},
      {{"init", "--store", "@X/new", "--chunk-avg", "99999999999"}, 2, "--chunk-avg"},
      {{"init", "--store", "@X/new", "--chunk-avg", "-1"}, 2, "--chunk-avg"},
      {{"init", "--store", "@X/new", "--chunk-avg", "1MiB"}, 2, "--chunk-avg"},
      {{"init", "--store", "@X/new", "--compression", "0"}, 2, "--compression"},
      {{"init", "--store", "@X/new", "--compression", "20"}, 2, "--compression"},
      {{"init", "--store", "@X/new", "--compression", "-1"}, 2, "--compression"},
      {{"init", "--store", "@X/new", "--inline-max", "99999999"}, 1, "inline-max"},
      {{"init", "--store", "@X/new", "--inline-max", "-1"}, 2, "--inline-max"},
      {{"init", "--store", "@X/new", "--compression", "3", "--compression", "4"},
       2,
       "--compression"},
      {{"init", "--store", "@X/new", "extra"}, 2, "extra"},
  });
  struct stat st;
  EXPECT_NE(::stat(dir_.Join("new").c_str(), &st), 0) << "a refused init created its folder";
  EXPECT_FALSE(PathExists(src_ + "/config.toml")) << "init wrote into a folder that was not empty";
}

TEST_F(HostileCliTest, Backup) {
  RunCases({
      {{"backup", "--store", "@S", "@src"}, 2, "--user"},
      {{"backup", "--store", "@S", "--user", "alice"}, 2, "SOURCE"},
      {{"backup", "--store", "@S", "--user", "alice", "@src", "@src"}, 2, "@src"},
      {{"backup", "--store", "@S", "--user", "", "@src"}, 2, "--user: an empty value"},
      {{"backup", "--store", "@S", "--user", "../etc", "@src"}, 1, "invalid user name"},
      {{"backup", "--store", "@S", "--user", kBad, "@src"}, 1, "invalid user name"},
      {{"backup", "--store", "@S", "--user", std::string(33, 'a'), "@src"}, 1, "invalid user name"},
      {{"backup", "--store", "@S", "--user", "alice", "--user", "bob", "@src"}, 2, "--user"},
      {{"backup", "--store", "@S", "--user", "alice", "--workers", "0", "@src"}, 2, "--workers"},
      {{"backup", "--store", "@S", "--user", "alice", "--workers", "-1", "@src"}, 2, "--workers"},
      {{"backup", "--store", "@S", "--user", "alice", "--workers", "100000", "@src"},
       2,
       "--workers"},
      {{"backup", "--store", "@S", "--user", "alice", "--workers", "99999999999999999999", "@src"},
       2,
       "--workers"},
      {{"backup", "--store", "@S", "--user", "alice", "--workers", "two", "@src"}, 2, "--workers"},
      {{"backup", "--store", "@S", "--user", "alice", "--time", "", "@src"},
       2,
       "--time: an empty value"},
      {{"backup", "--store", "@S", "--user", "alice", "--time", "1969-12-31", "@src"}, 1, "time"},
      {{"backup", "--store", "@S", "--user", "alice", "--time", "10000-01-01", "@src"}, 1, "time"},
      {{"backup", "--store", "@S", "--user", "alice", "--time", "2026-02-30", "@src"}, 1, "time"},
      {{"backup", "--store", "@S", "--user", "alice", "--time", "2026-10-01T25:00:00Z", "@src"},
       1,
       "time"},
      {{"backup", "--store", "@S", "--user", "alice", "--time", kBad, "@src"}, 1, "time"},
      {{"backup", "--store", "@S", "--user", "alice", "@X/missing"}, 1, "cannot back up"},
      {{"backup", "--store", "@S", "--user", "alice", "@X/file"}, 1, "Not a directory"},
      {{"backup", "--store", "@S", "--user", "alice", "@X/fifo"}, 1, "Not a directory"},
      {{"backup", "--store", "@S", "--user", "alice", "/dev/zero"}, 1, "Not a directory"},
      {{"backup", "--store", "@S", "--user", "alice", ""}, 1, "cannot back up"},
      {{"backup", "--store", "@S", "--user", "alice", "@X/nope/../src"}, 1, "cannot back up"},
      {{"backup", "--store", "@S", "--user", "alice", "@X/" + kBad}, 1, "cannot back up"},
      {{"backup", "--store", "@X/file", "--user", "alice", "@src"}, 1, "no keepfs store at"},
      {{"backup", "--store", "@S", "--user", "alice", "--bogus", "@src"}, 2, "--bogus"},
  });
}

TEST_F(HostileCliTest, BrowsingCommands) {
  RunCases({
      {{"snapshots", "--store", "@S", "--user", "bob"}, 1, "users: alice"},
      {{"snapshots", "--store", "@S", "--user", ""}, 2, "--user: an empty value"},
      {{"snapshots", "--store", "@S", "--user", kBad}, 1, "user"},
      {{"ls", "--store", "@S", "--user", "alice"}, 2, "SNAPSHOT"},
      {{"ls", "--store", "@S", "--user", "alice", "latest", "a", "b"}, 2, "b"},
      {{"ls", "--store", "@S", "--user", "alice", ""}, 1, "not a snapshot name"},
      {{"ls", "--store", "@S", "--user", "alice", "../latest"}, 1, "not a snapshot name"},
      {{"ls", "--store", "@S", "--user", "alice", "2026-13-01_000000"}, 1, "not a snapshot name"},
      {{"ls", "--store", "@S", "--user", "alice", "2026-10-01_030000_0"}, 1, "not a snapshot name"},
      {{"ls", "--store", "@S", "--user", "alice", "2026-10-01_030000_99999999999"},
       1,
       "not a snapshot name"},
      {{"ls", "--store", "@S", "--user", "alice", "2099-01-01_000000"}, 1, "keepfs snapshots"},
      {{"ls", "--store", "@S", "--user", "alice", "latest:docs"}, 1, "not a snapshot name"},
      {{"ls", "--store", "@S", "--user", "alice", kBad}, 1, "not a snapshot name"},
      {{"ls", "--store", "@S", "--user", "alice", "latest", "../../etc"}, 1, "does not exist"},
      {{"ls", "--store", "@S", "--user", "alice", "latest", "docs/../../a.txt"},
       1,
       "does not exist"},
      {{"ls", "--store", "@S", "--user", "alice", "latest", kBad}, 1, "does not exist"},
      {{"cat", "--store", "@S", "--user", "alice", "latest"}, 2, "PATH"},
      {{"cat", "--store", "@S", "--user", "alice", "latest", "docs"}, 1, "not a file"},
      {{"cat", "--store", "@S", "--user", "alice", "latest", "nope"}, 1, "does not exist"},
      {{"cat", "--store", "@S", "--user", "alice", "latest", "/../a.txt"}, 1, "does not exist"},
      {{"diff", "--store", "@S", "--user", "alice", "latest"}, 2, "B"},
      {{"diff", "--store", "@S", "--user", "alice", "latest", "latest", "latest"}, 2, "latest"},
      {{"diff", "--store", "@S", "--user", "alice", "latest", "nope"}, 1, "not a snapshot name"},
      {{"versions", "--store", "@S", "--user", "alice"}, 2, "PATH"},
      {{"versions", "--store", "@S", "--user", "alice", "docs"}, 1, "folder"},
      {{"versions", "--store", "@S", "--user", "alice", "nope"}, 1, "nope"},
      {{"deleted", "--store", "@S", "--user", "alice", "--since", "-5d"}, 1, "--since"},
      {{"deleted", "--store", "@S", "--user", "alice", "--since", "5m"}, 1, "--since"},
      {{"deleted", "--store", "@S", "--user", "alice", "--since", "99999999999999999999d"},
       1,
       "--since"},
      {{"usage", "--store", "@S", "--user", "bob"}, 1, "users: alice"},
      {{"pins", "--store", "@S", "--user", "bob"}, 1, "users: alice"},
      {{"stats", "--store", "@S", "extra"}, 2, "extra"},
  });
}

TEST_F(HostileCliTest, Restore) {
  RunCases({
      {{"restore", "--store", "@S", "--user", "alice", "latest"}, 2, "DEST"},
      {{"restore", "--store", "@S", "--user", "alice", "latest", ""}, 1, "DEST is empty"},
      {{"restore", "--store", "@S", "--user", "alice", "latest:nope", "@X/r1"},
       1,
       "does not exist"},
      {{"restore", "--store", "@S", "--user", "alice", "latest:../..", "@X/r2"},
       1,
       "does not exist"},
      {{"restore", "--store", "@S", "--user", "alice", "nope:a.txt", "@X/r3"},
       1,
       "not a snapshot name"},
      {{"restore", "--store", "@S", "--user", "alice", "latest", "@X/file"},
       1,
       "@X/file exists and is not a directory"},
      {{"restore", "--store", "@S", "--user", "alice", "latest", "@X/fifo"},
       1,
       "@X/fifo exists and is not a directory"},
      {{"restore", "--store", "@S", "--user", "alice", "latest", "@X/file/sub"},
       1,
       "@X/file exists and is not a directory"},
      {{"restore", "--store", "@S", "--user", "alice", "latest", "/proc/version"}, 1, "/proc"},
      {{"restore", "--store", "@S", "--user", "alice", "latest", "@S"}, 1, "is inside the store"},
      {{"restore", "--store", "@S", "--user", "alice", "latest", "@S/packs/r"},
       1,
       "is inside the store"},
      {{"restore", "--store", "@S", "--user", "alice", "latest:a.txt", "@X/empty/../store/meta"},
       1,
       "is inside the store"},
  });
  for (const char* r : {"r1", "r2", "r3"}) {
    EXPECT_FALSE(PathExists(dir_.Join(r))) << r << ": a refused restore created DEST";
  }
}

TEST_F(HostileCliTest, CheckAndRepair) {
  RunCases({
      {{"check", "--store", "@S", "--verify-data-subset", "0%"}, 1, "1 to 100"},
      {{"check", "--store", "@S", "--verify-data-subset", "101%"}, 1, "1 to 100"},
      {{"check", "--store", "@S", "--verify-data-subset", "-5%"}, 1, "1 to 100"},
      {{"check", "--store", "@S", "--verify-data-subset", "99999999999999999999%"}, 1, "1 to 100"},
      {{"check", "--store", "@S", "--verify-data-subset", ""},
       2,
       "--verify-data-subset: an empty value"},
      {{"check", "--store", "@S", "--verify-data-subset", "%"}, 1, "1 to 100"},
      {{"check", "--store", "@S", "--since", "-1d"}, 1, "--since"},
      {{"check", "--store", "@S", "--since", "yesterday"}, 1, "--since"},
      {{"check", "--store", "@S", "--resume"}, 1, "no interrupted check"},
      {{"check", "--store", "@S", "extra"}, 2, "extra"},
      {{"repair", "--store", "@S", "--from", "@X/missing"},
       1,
       "@X/missing is neither a keepfs store"},
      {{"repair", "--store", "@S", "--from", "@X/file"}, 1, "@X/file is neither a keepfs store"},
      {{"repair", "--store", "@S", "--from-source", "@X/missing"},
       1,
       "@X/missing is not a readable directory"},
  });
}

TEST_F(HostileCliTest, PruneForgetPinAndGc) {
  RunCases({
      {{"prune", "--store", "@S", "--keep-last", "-5"}, 1, "keep-last"},
      {{"prune", "--store", "@S", "--keep-daily", "-2"}, 1, "keep-daily"},
      {{"prune", "--store", "@S", "--keep-daily", "99999999999999999999"}, 1, "keep-daily"},
      {{"prune", "--store", "@S", "--keep-daily", "7.5"}, 1, "keep-daily"},
      {{"prune", "--store", "@S", "--keep-within", "-5d"}, 1, "keep-within"},
      {{"prune", "--store", "@S", "--keep-within", "5m"}, 1, "keep-within"},
      {{"prune", "--store", "@S", "--keep-first", "maybe"}, 1, "keep-first"},
      {{"prune", "--store", "@S", "--quota", "-5G"}, 1, "quota"},
      {{"prune", "--store", "@S", "--quota", "5PiB"}, 1, "quota"},
      {{"prune", "--store", "@S", "--quota", "99999999999T"}, 1, "quota"},
      {{"prune", "--store", "@S", "--now", "garbage"}, 1, "time"},
      {{"prune", "--store", "@S", "--user", "bob"}, 1, "users: alice"},
      {{"forget", "--store", "@S", "--user", "alice"}, 2, "SNAPSHOT"},
      {{"forget", "--store", "@S", "--user", "alice", "nope"}, 1, "not a snapshot name"},
      {{"forget", "--store", "@S", "--user", "alice", "2099-01-01_000000"}, 1, "2099"},
      {{"forget", "--store", "@S", "--user", "alice", "latest", "latest"}, 1, "twice"},
      {{"forget", "--store", "@S", "--user", "alice", "2026-10-01_030000", "nope"}, 1, "nope"},
      {{"undelete", "--store", "@S", "--user", "alice", "latest"}, 1, "latest"},
      {{"undelete", "--store", "@S", "--user", "alice", "2026-10-01_030000"},
       1,
       "keepfs snapshots --deleted"},
      {{"pin", "--store", "@S", "--user", "alice", "latest", "../a.txt"}, 1, ".."},
      {{"pin", "--store", "@S", "--user", "alice", "latest", "docs/./b.txt"}, 1, "."},
      {{"pin", "--store", "@S", "--user", "alice", "latest", "nope"}, 1, "keepfs ls"},
      {{"pin", "--store", "@S", "--user", "alice", "latest"}, 2, "PATH"},
      {{"pin", "--store", "@S", "--user", "alice", "latest", kBad}, 1, "keepfs ls"},
      {{"unpin", "--store", "@S", "--user", "alice", "latest", "docs"}, 1, "not pinned"},
      {{"unpin", "--store", "@S", "--user", "bob", "latest", "a.txt"}, 1, "users: alice"},
      {{"gc", "--store", "@S", "--max-repack", "-1"}, 1, "--max-repack"},
      {{"gc", "--store", "@S", "--max-repack", "5XB"}, 1, "--max-repack"},
      {{"gc", "--store", "@S", "--undelete-window", "-1d"}, 1, "--undelete-window"},
      {{"gc", "--store", "@S", "--undelete-window", ""}, 2, "--undelete-window: an empty value"},
      {{"gc", "--store", "@S", "--now", "1969-01-01"}, 1, "time"},
      {{"gc", "--store", "@S", "extra"}, 2, "extra"},
      {{"share", "--store", "@S", "extra"}, 2, "extra"},
      {{"audit", "--store", "@S", "extra"}, 2, "extra"},
  });
}

TEST_F(HostileCliTest, StoreCopiesUsersServerAndMount) {
  RunCases({
      {{"store-backup", "--store", "@S"}, 2, "DEST"},
      {{"store-backup", "--store", "@S", "@X/file"}, 1, "@X/file"},
      {{"store-backup", "--store", "@S", "@X/fifo"}, 1, "@X/fifo"},
      {{"store-backup", "--store", "@S", "@src"}, 1, "not empty"},
      {{"store-backup", "--store", "@S", "@S"}, 1, "@S"},
      {{"store-backup", "--store", "@S", "@S/packs/copy"}, 1, "is inside the store"},
      {{"store-backup", "--verify", "@X/missing"}, 1, "@X/missing"},
      {{"store-backup", "--verify", "@src"}, 1, "MANIFEST"},
      {{"store-restore", "@X/missing", "@X/r"}, 1, "@X/missing"},
      {{"store-restore", "@src", "@X/r"}, 1, "MANIFEST"},
      {{"store-restore", "@X/empty"}, 2, "STORE"},
      {{"store-restore", "@src", "@S"}, 1, "MANIFEST"},
      {{"user", "add", "--store", "@S", "bob"}, 2, "--uid"},
      {{"user", "add", "--store", "@S", "bob", "--uid", "-1"}, 2, "--uid"},
      {{"user", "add", "--store", "@S", "bob", "--uid", "4294967295"}, 2, "--uid"},
      {{"user", "add", "--store", "@S", "bob", "--uid", "99999999999999999999"}, 2, "--uid"},
      {{"user", "add", "--store", "@S", "bob", "--uid", "abc"}, 2, "--uid"},
      {{"user", "add", "--store", "@S", "Bob", "--uid", "1000"}, 1, "invalid user name"},
      {{"user", "add", "--store", "@S", "", "--uid", "1000"}, 1, "invalid user name"},
      {{"user", "add", "--store", "@S", kBad, "--uid", "1000"}, 1, "invalid user name"},
      {{"user", "--store", "@S"}, 2, "subcommand"},
      {{"spool-ingest", "--store", "@S", "@X/missing"}, 1, "@X/missing"},
      {{"spool-ingest", "--store", "@S", "@X/file"}, 1, "@X/file"},
      {{"serve", "--config", "@X/missing"}, 1, "@X/missing"},
      {{"serve", "--check-config", "--config", "@X/file"}, 1, "@X/file"},
      {{"run-job", "--store", "@S", "bogus"}, 1, "keepfs serve"},
      {{"admit", "--store", "@S", "--user", "alice"}, 1, "server"},
      {{"mount", "--store", "@S", "@X/missing"}, 1, "@X/missing"},
      {{"mount", "--store", "@S", "@X/file"}, 1, "@X/file"},
      {{"mount", "--store", "@S", "@X/empty", "--threads", "0"}, 2, "--threads"},
      {{"mount", "--store", "@S", "@X/empty", "--threads", "99999"}, 2, "--threads"},
      {{"mount", "--store", "@S", "@X/empty", "--socket", "relative.sock"}, 2, "--socket"},
      {{"umount", "@X/empty"}, 1, "@X/empty"},
  });
}

// A "keep for ever" undelete window (near 2^63 seconds) keeps a forgotten
// snapshot undeletable; it once overflowed into the past and let gc
// reclaim it at once.
TEST_F(HostileCliTest, AHugeUndeleteWindowKeepsForgottenSnapshots) {
  ASSERT_EQ(
      RunCli({"forget", "--store", store_, "--user", "alice", "-q", "2026-10-01_030000"}).code, 0);
  CliRun gc = RunCli({"gc", "--store", store_, "-q", "--undelete-window", "9223372036000000000s"});
  EXPECT_EQ(gc.code, 0) << gc.err;
  CliRun deleted = RunCli({"snapshots", "--store", store_, "--deleted", "--user", "alice"});
  EXPECT_NE(deleted.out.find("2026-10-01_030000"), std::string::npos)
      << "the forgotten snapshot was reclaimed: " << deleted.out << deleted.err;
  EXPECT_EQ(RunCli({"undelete", "--store", store_, "--user", "alice", "2026-10-01_030000"}).code,
            0);
}

}  // namespace
}  // namespace keepfs::testing
