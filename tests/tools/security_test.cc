// The claims of docs/security.md that no other test makes: the store is
// root's alone; the mount grants no setuid and no device access; and the
// dedup side channel between users is what the document says it is (so
// that a change which widens or closes it changes the document too).
// Access by namespace and on the sockets: MountTest, MountHistoryTest,
// PeerTest, CallerTest (listed in docs/security.md).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "store/file_util.h"
#include "tests/testing/mount_util.h"
#include "tests/testing/test_util.h"
#include "tests/tools/cli_test_util.h"

namespace keepfs::testing {
namespace {

constexpr uint32_t kAlice = 61001, kBob = 61002;

uint64_t JsonNumber(const std::string& json, const std::string& key) {
  size_t pos = json.find("\"" + key + "\":");
  if (pos == std::string::npos) return ~0ull;
  return std::stoull(json.substr(pos + key.size() + 3));
}

class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: the checks run as other uids";
    ASSERT_EQ(::chmod(dir_.path().c_str(), 0755), 0);  // other uids walk to the mount
    store_ = dir_.Join("store");
    ASSERT_EQ(RunCli({"init", "--store", store_, "-q"}).code, 0);
    ASSERT_EQ(RunCli({"user", "add", "alice", "--uid", std::to_string(kAlice), "--store", store_,
                      "-q"})
                  .code,
              0);
    ASSERT_EQ(
        RunCli({"user", "add", "bob", "--uid", std::to_string(kBob), "--store", store_, "-q"})
            .code,
        0);
  }
  TempDir dir_;
  std::string store_;
};

// Packs hold every user's bytes: no other uid may read any file of the store.
TEST_F(SecurityTest, TheStoreIsRootsAlone) {
  std::string src = dir_.Join("src");
  ASSERT_OK(MakeDirs(src));
  ASSERT_OK(WriteFile(src + "/secret", RandomBytes(200000, 3)));
  ASSERT_EQ(RunCli({"backup", "--store", store_, "--user", "alice", "-q", src}).code, 0);
  struct stat st;
  ASSERT_EQ(::stat(store_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(st.st_uid, 0u);
  std::string out;
  EXPECT_NE(RunAs(kAlice, "ls " + store_, &out), 0) << out;
  EXPECT_NE(out.find("Permission denied"), std::string::npos) << out;
  EXPECT_NE(RunAs(kAlice, "cat " + store_ + "/config.toml", &out), 0) << out;
  int packs = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(store_ + "/packs")) {
    if (!e.is_regular_file()) continue;
    ++packs;
    EXPECT_NE(RunAs(kAlice, "cat " + e.path().string() + " >/dev/null", &out), 0) << out;
  }
  EXPECT_GT(packs, 0);
  // A store-backup copy and a restored store are as private as the store,
  // even into an empty directory others may enter, under umask 0.
  std::string copy = dir_.Join("copy"), restored = dir_.Join("restored");
  ASSERT_EQ(::mkdir(copy.c_str(), 0777), 0);
  mode_t old_umask = ::umask(0);
  CliRun b = RunCli({"store-backup", "--store", store_, "-q", copy});
  CliRun r = RunCli({"store-restore", "-q", copy, restored});
  ::umask(old_umask);
  ASSERT_EQ(b.code, 0) << b.err;
  ASSERT_EQ(r.code, 0) << r.err;
  for (const std::string& d : {copy, restored}) {
    ASSERT_EQ(::stat(d.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u) << d;
    EXPECT_NE(RunAs(kAlice, "ls " + d, &out), 0) << d << ": " << out;
  }
}

// A backup may hold a setuid-root program and device nodes (the laptop's
// root made them); through the mount they grant nothing: nosuid, nodev.
TEST_F(SecurityTest, TheMountGrantsNoSetuidAndNoDevices) {
  KEEPFS_REQUIRE_FUSE_OR_SKIP();
  std::string src = dir_.Join("src"), mnt = dir_.Join("mnt");
  ASSERT_OK(MakeDirs(src));
  ASSERT_OK(MakeDirs(mnt));
  // A setuid-root shell would be the classic; `id -u` prints the effective uid.
  ASSERT_EQ(std::system(("cp /usr/bin/id " + src + "/suid-id && chmod 4755 " + src + "/suid-id")
                            .c_str()),
            0);
  ASSERT_EQ(::mknod((src + "/zero").c_str(), S_IFCHR | 0666, makedev(1, 5)), 0);  // /dev/zero
  ASSERT_EQ(RunCli({"backup", "--store", store_, "--user", "alice", "-q", src}).code, 0);
  std::string why;
  pid_t pid = StartMountProcess(KEEPFS_BINARY, store_, mnt, dir_.Join("mount.log"), &why);
  ASSERT_GT(pid, 0) << why;
  std::string latest = mnt + "/alice/latest", out;
  struct stat st;
  ASSERT_EQ(::stat((latest + "/suid-id").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04755u) << "the mode is shown as backed up";
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(RunAs(kAlice, latest + "/suid-id -u", &out), 0) << out;
  EXPECT_EQ(out, std::to_string(kAlice) + "\n") << "the setuid bit took effect";
  ASSERT_EQ(::lstat((latest + "/zero").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_NE(RunAs(kAlice, "head -c 1 " + latest + "/zero", &out), 0) << "a device opened";
  EXPECT_NE(out.find("Permission denied"), std::string::npos) << out;
  // Not even root opens it.
  EXPECT_NE(std::system(("head -c 1 " + latest + "/zero >/dev/null 2>&1").c_str()), 0);
  auto mounts = ReadSmallFile("/proc/self/mounts");
  ASSERT_OK(mounts);
  size_t line = mounts->find(" " + mnt + " ");
  ASSERT_NE(line, std::string::npos);
  // "DEV MNT TYPE OPTIONS ...": the options, comma-separated.
  std::string rest = mounts->substr(line + mnt.size() + 2);
  rest = rest.substr(rest.find(' ') + 1);
  std::string options = "," + rest.substr(0, rest.find(' ')) + ",";
  // Not "ro": the kernel would refuse the pin's setxattr itself; every
  // write but that one is EROFS from the daemon (MountTest.EveryWriteIsErofs).
  for (const char* flag : {",nosuid,", ",nodev,"}) {
    EXPECT_NE(options.find(flag), std::string::npos) << options;
  }
  ASSERT_EQ(::umount2(mnt.c_str(), MNT_DETACH), 0);
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
}

// The side channel docs/security.md accepts: one user's backup shows
// whether another user already stored the same bytes, in the snapshot's
// new bytes (and, after the sharing pass, in the charge). This test pins
// down exactly what leaks, so that the document stays true.
TEST_F(SecurityTest, DedupAcrossUsersShowsInTheNewBytesOfASnapshot) {
  std::string a = dir_.Join("a"), b = dir_.Join("b");
  ASSERT_OK(MakeDirs(a));
  ASSERT_OK(MakeDirs(b));
  const std::string shared = RandomBytes(4 << 20, 17);
  ASSERT_OK(WriteFile(a + "/exam.pdf", shared));
  CliRun first = RunCli({"backup", "--store", store_, "--user", "alice", "--json", a});
  ASSERT_EQ(first.code, 0) << first.err;
  EXPECT_GE(JsonNumber(first.out, "bytes_new"), shared.size());
  // bob backs up a file he guesses alice holds, beside one nobody holds.
  ASSERT_OK(WriteFile(b + "/guess.pdf", shared));
  CliRun guess = RunCli({"backup", "--store", store_, "--user", "bob", "--json", b});
  ASSERT_EQ(guess.code, 0) << guess.err;
  EXPECT_LT(JsonNumber(guess.out, "bytes_new"), 64u << 10)
      << "the guess is confirmed by bytes_new: " << guess.out;
  ASSERT_OK(WriteFile(b + "/fresh.pdf", RandomBytes(4 << 20, 18)));
  CliRun fresh = RunCli({"backup", "--store", store_, "--user", "bob", "--json", b});
  ASSERT_EQ(fresh.code, 0) << fresh.err;
  EXPECT_GE(JsonNumber(fresh.out, "bytes_new"), 4u << 20);
  // Across stores there is no such channel: dedup is per store.
  std::string other = dir_.Join("staff-store");
  ASSERT_EQ(RunCli({"init", "--store", other, "-q"}).code, 0);
  CliRun apart = RunCli({"backup", "--store", other, "--user", "bob", "--json", b});
  ASSERT_EQ(apart.code, 0) << apart.err;
  EXPECT_GE(JsonNumber(apart.out, "bytes_new"), 8u << 20);
}

}  // namespace
}  // namespace keepfs::testing
