// NFS export through the kernel: file handles (name_to_handle_at, what knfsd
// puts in an NFS file handle) taken on one mount are opened on the next
// mount of the same store (open_by_handle_at, the kernel's exportfs decode
// path that knfsd uses): the kernel has none of the inodes, asks the daemon
// for "." (and ".." and the parent's listing to reconnect a folder), and
// gets the same inode numbers and bytes. Needs root (CAP_DAC_READ_SEARCH).
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "gc/prune.h"
#include "store/file_util.h"
#include "tests/testing/mount_fixture.h"
#include "tests/testing/test_util.h"

namespace keepfs::testing {
namespace {

constexpr int64_t kTime = 1790823600;  // 2026-10-01T03:00:00Z

struct Handle {
  std::vector<char> bytes;  // a struct file_handle and its payload
  file_handle* get() { return reinterpret_cast<file_handle*>(bytes.data()); }
};

// The kernel's file handle of path (as knfsd would encode it).
Result<Handle> HandleOf(const std::string& path) {
  Handle h;
  h.bytes.resize(sizeof(file_handle) + MAX_HANDLE_SZ);
  h.get()->handle_bytes = MAX_HANDLE_SZ;
  int mount_id = 0;
  if (::name_to_handle_at(AT_FDCWD, path.c_str(), h.get(), &mount_id, 0) != 0) {
    return Status::FromErrno(errno, "name_to_handle_at " + path);
  }
  return h;
}

std::string ReadFd(int fd) {
  std::string all;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) all.append(buf, static_cast<size_t>(n));
  return all;
}

std::set<std::string> ListFd(int fd) {
  std::set<std::string> names;
  DIR* d = ::fdopendir(::dup(fd));
  if (!d) return names;
  while (dirent* e = ::readdir(d)) names.insert(e->d_name);
  ::closedir(d);
  return names;
}

std::set<std::string> ListPath(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  return fd.valid() ? ListFd(fd.get()) : std::set<std::string>();
}

class MountExportTest : public MountFixture {
 protected:
  void SetUp() override {
    MountFixture::SetUp();
    if (::geteuid() != 0) GTEST_SKIP() << "open_by_handle_at needs root (CAP_DAC_READ_SEARCH)";
    src_ = tmp_.Join("src");
    ASSERT_OK(MakeDirs(src_ + "/docs/deep"));
    ASSERT_OK(WriteFile(src_ + "/docs/deep/big.bin", RandomBytes(3 << 20, 7)));
    ASSERT_OK(WriteFile(src_ + "/docs/deep/leaf.txt", "at the bottom\n"));
    ASSERT_OK(WriteFile(src_ + "/z.txt", "linked\n"));
    ASSERT_EQ(::link((src_ + "/z.txt").c_str(), (src_ + "/docs/z-link").c_str()), 0);
    first_ = Backup("alice", src_, kTime).name;
    ASSERT_OK(WriteFile(src_ + "/docs/deep/leaf.txt", "changed\n"));
    second_ = Backup("alice", src_, kTime + 86400).name;
  }

  // Opens handle on the current mount; -1 with errno on failure.
  int OpenByHandle(Handle& h, int flags) {
    UniqueFd mount_fd(::open(mnt_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!mount_fd.valid()) return -1;
    return ::open_by_handle_at(mount_fd.get(), h.get(), flags | O_CLOEXEC);
  }

  std::string src_, first_, second_;
};

// Handles of files, folders (deep ones, the snapshot folder, the user
// folder), a hard link and .keepfs, taken before a remount, open after it
// on the same inodes with the same bytes; a folder comes back reconnected
// to its real path.
TEST_F(MountExportTest, FileHandlesOutliveARemount) {
  KEEPFS_REQUIRE_FUSE_OR_SKIP();
  ASSERT_OK(mount_.Start(store_.get(), mnt_));
  const std::string snap = mnt_ + "/alice/" + first_;
  const std::vector<std::string> files = {snap + "/docs/deep/big.bin", snap + "/docs/deep/leaf.txt",
                                          snap + "/z.txt", snap + "/docs/z-link",
                                          mnt_ + "/alice/" + second_ + "/docs/deep/leaf.txt",
                                          mnt_ + "/alice/.keepfs/pins.txt"};
  const std::vector<std::string> dirs = {snap + "/docs/deep", snap, mnt_ + "/alice",
                                         mnt_ + "/alice/.keepfs"};
  struct Before {
    Handle handle;
    ino_t ino;
    std::string bytes;
    std::set<std::string> names;
  };
  std::map<std::string, Before> before;
  for (const auto& p : files) {
    ASSERT_OK_AND_ASSIGN(Handle h, HandleOf(p));
    struct stat st;
    ASSERT_EQ(::stat(p.c_str(), &st), 0) << p;
    auto bytes = ReadFile(p);
    ASSERT_OK(bytes);
    before[p] = {h, st.st_ino, *bytes, {}};
  }
  for (const auto& p : dirs) {
    ASSERT_OK_AND_ASSIGN(Handle h, HandleOf(p));
    struct stat st;
    ASSERT_EQ(::stat(p.c_str(), &st), 0) << p;
    before[p] = {h, st.st_ino, "", ListPath(p)};
  }
  EXPECT_EQ(before[snap + "/z.txt"].ino, before[snap + "/docs/z-link"].ino);

  mount_.Stop();  // the daemon and the kernel forget everything
  ASSERT_OK(mount_.Start(store_.get(), mnt_));
  for (auto& [path, b] : before) {
    const bool dir = !b.names.empty();
    int fd = OpenByHandle(b.handle, dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
    ASSERT_GE(fd, 0) << path << ": " << std::strerror(errno);
    UniqueFd owned(fd);
    struct stat st;
    ASSERT_EQ(::fstat(fd, &st), 0);
    EXPECT_EQ(st.st_ino, b.ino) << path;
    if (dir) {
      EXPECT_EQ(ListFd(fd), b.names) << path;
      // A folder's dentry is reconnected by ".." and the parent's listing.
      char link[4096];
      ssize_t n = ::readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), link, sizeof link);
      ASSERT_GT(n, 0);
      EXPECT_EQ(std::string(link, static_cast<size_t>(n)), path);
    } else {
      EXPECT_TRUE(ReadFd(fd) == b.bytes) << path;
    }
  }
}

// A handle of a snapshot that was forgotten while unmounted is ESTALE on the
// next mount, never another file; the other snapshot's handles still work.
TEST_F(MountExportTest, AHandleOfAForgottenSnapshotIsStale) {
  KEEPFS_REQUIRE_FUSE_OR_SKIP();
  ASSERT_OK(mount_.Start(store_.get(), mnt_));
  ASSERT_OK_AND_ASSIGN(Handle gone, HandleOf(mnt_ + "/alice/" + first_ + "/docs/deep/leaf.txt"));
  ASSERT_OK_AND_ASSIGN(Handle kept, HandleOf(mnt_ + "/alice/" + second_ + "/docs/deep/leaf.txt"));
  mount_.Stop();
  ASSERT_OK(gc::ForgetSnapshot(store_.get(), "alice", first_, kTime).status());
  ASSERT_OK(mount_.Start(store_.get(), mnt_));
  EXPECT_EQ(OpenByHandle(gone, O_RDONLY), -1);
  EXPECT_EQ(errno, ESTALE);
  int fd = OpenByHandle(kept, O_RDONLY);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  UniqueFd owned(fd);
  EXPECT_EQ(ReadFd(fd), "changed\n");
}

}  // namespace
}  // namespace keepfs::testing
