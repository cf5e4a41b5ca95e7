// Backup and restore carry everything Linux allows: the result is checked with
// rsync -aHAXn --numeric-ids --checksum --itemize-changes, which must report
// no file. Needs root (chown, mknod); skips with a reason otherwise.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "tests/testing/every_kind_tree.h"
#include "tests/testing/test_util.h"
#include "tests/tools/cli_test_util.h"

namespace keepfs::testing {
namespace {

TEST(FidelityTest, RestoreReproducesEveryKindOfEntry) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for chown and mknod";
  int code = 0;
  Shell("command -v rsync setfacl >/dev/null", &code);
  if (code != 0) GTEST_SKIP() << "needs rsync and setfacl (apt-get install rsync acl)";
  TempDir dir;
  std::string src = dir.Join("src"), store = dir.Join("store"), dest = dir.Join("dest");
  BuildEveryKindTree(src);
  if (HasFatalFailure()) return;
  // The source root's own metadata travels too (DEST takes it on restore).
  ASSERT_EQ(::setxattr(src.c_str(), "user.root", "r", 1, 0), 0);
  ASSERT_EQ(::chown(src.c_str(), 4321, 4322), 0);
  ASSERT_EQ(::chmod(src.c_str(), 0750), 0);
  ASSERT_EQ(RunCli({"init", "--store", store, "-q"}).code, 0);
  CliRun b = RunCli({"backup", "--store", store, "--user", "alice", "--json", src});
  ASSERT_EQ(b.code, 0) << b.err;
  // The 1 GiB sparse file must store small.
  size_t pos = b.out.find("\"bytes_stored\":");
  ASSERT_NE(pos, std::string::npos);
  EXPECT_LT(std::stoull(b.out.substr(pos + 15)), 20ull << 20) << b.out;
  CliRun r = RunCli({"restore", "--store", store, "--user", "alice", "latest", dest});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(ReadDeepFile(dest), "deep");
  std::string diff = Shell("rsync -aHAXn --numeric-ids --checksum --itemize-changes --exclude=/deep " + src +
                               "/ " + dest + "/ 2>&1",
                           &code);
  EXPECT_EQ(code, 0) << diff;
  // Nothing at all may differ: files, directories (times, modes, owners,
  // xattrs, ACLs) and the restore root itself.
  EXPECT_TRUE(diff.empty()) << "rsync found differences:\n" << diff;
  struct stat st;
  ASSERT_EQ(::stat((dest + "/sparse").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 1ll << 30);
  EXPECT_LT(st.st_blocks * 512, 1ll << 20) << "holes were not restored";
  struct stat a, h;
  ASSERT_EQ(::stat((dest + "/medium.bin").c_str(), &a), 0);
  ASSERT_EQ(::stat((dest + "/hardlink2").c_str(), &h), 0);
  EXPECT_EQ(a.st_ino, h.st_ino);
  EXPECT_EQ(a.st_nlink, 3u);
}

TEST(FidelityTest, RestoreNeverWritesOutsideDest) {
  TempDir dir;
  std::string src = dir.Join("src"), store = dir.Join("store"), dest = dir.Join("dest"),
              outside = dir.Join("outside");
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((src + "/sub").c_str(), 0755), 0);
  ASSERT_TRUE(WriteFile(src + "/sub/f", "data").ok());
  ASSERT_TRUE(WriteFile(src + "/g", "data").ok());
  ASSERT_EQ(RunCli({"init", "--store", store, "-q"}).code, 0);
  ASSERT_EQ(RunCli({"backup", "--store", store, "--user", "alice", "-q", src}).code, 0);
  // DEST already holds symlinks where the snapshot has a folder and a file.
  ASSERT_EQ(::mkdir(dest.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(outside.c_str(), 0755), 0);
  ASSERT_EQ(::symlink(outside.c_str(), (dest + "/sub").c_str()), 0);
  ASSERT_EQ(::symlink((outside + "/g").c_str(), (dest + "/g").c_str()), 0);
  CliRun r = RunCli({"restore", "--store", store, "--user", "alice", "latest", dest, "-q"});
  EXPECT_EQ(r.code, 0) << r.err;
  struct stat st;
  EXPECT_NE(::stat((outside + "/f").c_str(), &st), 0) << "restore followed a symlink out of DEST";
  EXPECT_NE(::stat((outside + "/g").c_str(), &st), 0) << "restore followed a symlink out of DEST";
  ASSERT_EQ(::lstat((dest + "/sub").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(*ReadFile(dest + "/sub/f"), "data");
}

}  // namespace
}  // namespace keepfs::testing
