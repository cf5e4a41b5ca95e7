#include "tests/testing/every_kind_tree.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdio>

#include "tests/testing/test_util.h"

namespace keepfs::testing {

namespace {
void SetTime(int dirfd, const char* name, long sec, long nsec) {
  struct timespec ts[2] = {{sec, nsec}, {sec, nsec}};
  ASSERT_EQ(::utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW), 0) << name;
}

}  // namespace

void BuildEveryKindTree(const std::string& root) {
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

}  // namespace keepfs::testing
