// Acting as a user for one step on one thread (tools/cli/fs_identity.h):
// the step has the user's rights and no capability, its files are the
// user's, other threads are untouched, and the thread is itself afterwards.
#include "tools/cli/fs_identity.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <future>
#include <string>
#include <thread>

#include "tests/testing/test_util.h"

namespace keepfs::testing {
namespace {

constexpr uint32_t kUser = 61001;

// Creates path; the errno of the failure, 0 on success.
int Create(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  ::close(fd);
  return 0;
}

uid_t OwnerOf(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 ? st.st_uid : static_cast<uid_t>(-1);
}

TEST(FsIdentityTest, AStepHasTheUsersRightsOnItsThreadOnly) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to act as another uid";
  TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  const std::string mine = dir.Join("mine"), roots = dir.Join("roots");
  ASSERT_EQ(::mkdir(mine.c_str(), 0700), 0);
  ASSERT_EQ(::chown(mine.c_str(), kUser, kUser), 0);
  ASSERT_EQ(::mkdir(roots.c_str(), 0755), 0);
  bool trusted_xattrs = ::setxattr(roots.c_str(), "trusted.keepfs_test", "1", 1, 0) == 0;

  int in_mine = -1, in_roots = -1, xattr = -1, beside = -1;
  // Another thread of the process keeps the process's identity meanwhile.
  // (It is started before the step: a thread started inside one would
  // inherit the step's identity, as every new thread inherits its creator's.)
  std::promise<void> go;
  std::thread other([&, started = go.get_future()]() mutable {
    started.wait();
    beside = Create(roots + "/beside");
  });
  Status s = cli::RunWithFsIdentity({kUser, kUser, {}}, [&] {
    in_mine = Create(mine + "/f");
    in_roots = Create(roots + "/f");
    xattr = ::setxattr((mine + "/f").c_str(), "trusted.keepfs_test", "1", 1, 0) == 0 ? 0 : errno;
    go.set_value();
    other.join();
    return Status(StatusCode::kNotFound, "the step's own status");
  });
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << "the step's status comes back: " << s.ToString();
  EXPECT_EQ(in_mine, 0);
  EXPECT_EQ(OwnerOf(mine + "/f"), kUser) << "the user's file";
  EXPECT_EQ(in_roots, EACCES) << "no CAP_DAC_OVERRIDE inside the step";
  if (trusted_xattrs) {
    EXPECT_EQ(xattr, EPERM) << "no CAP_SYS_ADMIN inside the step";
  }
  EXPECT_EQ(beside, 0) << "the other thread is still root";
  EXPECT_EQ(OwnerOf(roots + "/beside"), 0u);
  // And this thread is itself again.
  EXPECT_EQ(Create(roots + "/after"), 0);
  EXPECT_EQ(OwnerOf(roots + "/after"), 0u);
  if (trusted_xattrs) {
    EXPECT_EQ(::setxattr((roots + "/after").c_str(), "trusted.keepfs_test", "1", 1, 0), 0);
  }
}

TEST(FsIdentityTest, SupplementaryGroupsCount) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to act as another uid";
  TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  const std::string shared = dir.Join("shared");
  ASSERT_EQ(::mkdir(shared.c_str(), 0770), 0);
  ASSERT_EQ(::chmod(shared.c_str(), 0770), 0);  // whatever the umask
  ASSERT_EQ(::chown(shared.c_str(), 0, 61500), 0);
  int without = -1, with = -1;
  EXPECT_OK(cli::RunWithFsIdentity({kUser, kUser, {}}, [&] {
    without = Create(shared + "/a");
    return Status::OK();
  }));
  EXPECT_OK(cli::RunWithFsIdentity({kUser, kUser, {61500}}, [&] {
    with = Create(shared + "/b");
    return Status::OK();
  }));
  EXPECT_EQ(without, EACCES);
  EXPECT_EQ(with, 0);
}

}  // namespace
}  // namespace keepfs::testing
