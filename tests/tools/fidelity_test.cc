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

#include "tests/testing/test_util.h"
#include "tests/tools/cli_test_util.h"

namespace keepfs::testing {
namespace {

std::string Shell(const std::string& cmd, int* code) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  *code = ::pclose(p);
  return out;
}

void SetTime(int dirfd, const char* name, long sec, long nsec) {
  struct timespec ts[2] = {{sec, nsec}, {sec, nsec}};
  ASSERT_EQ(::utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW), 0) << name;
}

// Builds a tree with every kind of entry. Returns false (and a reason) if a
// tool it needs is missing.
void BuildTree(const std::string& root) {
  ASSERT_EQ(::mkdir(root.c_str(), 0755), 0);
  int d = ::open(root.c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(d, 0);
  auto file = [&](const std::string& name, const std::string& data, mode_t mode) {
    int fd = ::openat(d, name.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    ASSERT_GE(fd, 0) << name;
    ASSERT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
    ASSERT_EQ(::fchmod(fd, mode), 0);
    ::close(fd);
  };
  file("empty", "", 0644);
  file("small.txt", "small file\n", 0640);
  file("medium.bin", RandomBytes(300000, 1), 0600);
  file("large.bin", RandomBytes(9 << 20, 2), 0644);
  file("setuid", "#!/bin/sh\n", 04755);
  file("setgid", "x", 02750);
  file(std::string("non-utf8-\xff\xfe"), "bytes", 0644);
  file("new\nline", "nl", 0644);
  file(std::string(255, 'n'), "long name", 0644);
  ASSERT_EQ(::fchownat(d, "small.txt", 1234, 5678, 0), 0);
  ASSERT_EQ(::mkdirat(d, "sticky", 01777), 0);
  ASSERT_EQ(::fchmodat(d, "sticky", 01777, 0), 0);
  ASSERT_EQ(::mkdirat(d, "emptydir", 0700), 0);
  // Hard links: three names, one inode.
  ASSERT_EQ(::linkat(d, "medium.bin", d, "hardlink1", 0), 0);
  ASSERT_EQ(::linkat(d, "medium.bin", d, "hardlink2", 0), 0);
  // Symlinks: dangling, looping, and a 1000-byte target.
  ASSERT_EQ(::symlinkat("does/not/exist", d, "dangling"), 0);
  ASSERT_EQ(::symlinkat("loop-b", d, "loop-a"), 0);
  ASSERT_EQ(::symlinkat("loop-a", d, "loop-b"), 0);
  ASSERT_EQ(::symlinkat(std::string(1000, 'x').c_str(), d, "longtarget"), 0);
  ASSERT_EQ(::fchownat(d, "dangling", 42, 43, AT_SYMLINK_NOFOLLOW), 0);
  // Special files.
  ASSERT_EQ(::mkfifoat(d, "fifo", 0620), 0);
  ASSERT_EQ(::mknodat(d, "null-dev", S_IFCHR | 0666, makedev(1, 3)), 0);
  ASSERT_EQ(::mknodat(d, "loop-dev", S_IFBLK | 0660, makedev(7, 0)), 0);
  ASSERT_EQ(::mknodat(d, "socket", S_IFSOCK | 0755, 0), 0);
  // Sparse: 1 GiB with 8 KiB of data in the middle.
  {
    int fd = ::openat(d, "sparse", O_WRONLY | O_CREAT, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, 1ll << 30), 0);
    std::string data = RandomBytes(8192, 3);
    ASSERT_EQ(::pwrite(fd, data.data(), data.size(), 512 << 20), 8192);
    ::close(fd);
  }
  // xattrs and a POSIX ACL.
  std::string xpath = root + "/small.txt";
  ASSERT_EQ(::setxattr(xpath.c_str(), "user.note", "kept", 4, 0), 0);
  ASSERT_EQ(::setxattr(xpath.c_str(), "user.empty", "", 0, 0), 0);
  int code = 0;
  Shell("setfacl -m u:1234:rwx,g:99:r " + root + "/large.bin 2>&1", &code);
  ASSERT_EQ(code, 0) << "setfacl failed (apt-get install acl)";
  Shell("setfacl -d -m u:1234:rx " + root + "/emptydir 2>&1", &code);
  ASSERT_EQ(code, 0);
  // 60 levels of 200-byte names: a path far beyond PATH_MAX (and beyond what
  // rsync handles, so it is checked by ReadDeepFile instead).
  ASSERT_EQ(::mkdirat(d, "deep", 0755), 0);
  int cur = ::openat(d, "deep", O_RDONLY | O_DIRECTORY);
  for (int i = 0; i < 60; ++i) {
    std::string name = std::to_string(i) + std::string(200, 'd');
    ASSERT_EQ(::mkdirat(cur, name.c_str(), 0755), 0);
    int next = ::openat(cur, name.c_str(), O_RDONLY | O_DIRECTORY);
    ASSERT_GE(next, 0);
    ::close(cur);
    cur = next;
  }
  int fd = ::openat(cur, "deep.txt", O_WRONLY | O_CREAT, 0644);
  ASSERT_EQ(::write(fd, "deep", 4), 4);
  ::close(fd);
  ::close(cur);
  SetTime(d, "small.txt", 1700000000, 123456789);
  SetTime(d, "dangling", 1600000000, 987654321);
  SetTime(d, "emptydir", 1500000000, 1);
  ::close(d);
}

std::string ReadDeepFile(const std::string& root) {
  int cur = ::open((root + "/deep").c_str(), O_RDONLY | O_DIRECTORY);
  for (int i = 0; i < 60 && cur >= 0; ++i) {
    std::string name = std::to_string(i) + std::string(200, 'd');
    int next = ::openat(cur, name.c_str(), O_RDONLY | O_DIRECTORY);
    ::close(cur);
    cur = next;
  }
  if (cur < 0) return "<missing>";
  int fd = ::openat(cur, "deep.txt", O_RDONLY);
  ::close(cur);
  char buf[16] = {0};
  ssize_t n = fd >= 0 ? ::read(fd, buf, sizeof buf) : -1;
  if (fd >= 0) ::close(fd);
  return n < 0 ? "<unreadable>" : std::string(buf, static_cast<size_t>(n));
}

TEST(FidelityTest, RestoreReproducesEveryKindOfEntry) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for chown and mknod";
  int code = 0;
  Shell("command -v rsync setfacl >/dev/null", &code);
  if (code != 0) GTEST_SKIP() << "needs rsync and setfacl (apt-get install rsync acl)";
  TempDir dir;
  std::string src = dir.Join("src"), store = dir.Join("store"), dest = dir.Join("dest");
  BuildTree(src);
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
