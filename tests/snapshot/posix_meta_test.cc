#include "snapshot/posix_meta.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <string>

#include "store/file_util.h"
#include "tests/testing/test_util.h"

namespace keepfs::snapshot {
namespace {

TEST(PosixMetaTest, EntryFromStatTypes) {
  struct Case {
    mode_t mode;
    EntryType type;
  };
  const Case cases[] = {
      {S_IFREG | 04755, EntryType::kFile},   {S_IFDIR | 01777, EntryType::kDir},
      {S_IFLNK | 0777, EntryType::kSymlink}, {S_IFIFO | 0600, EntryType::kFifo},
      {S_IFCHR | 0666, EntryType::kCharDev}, {S_IFBLK | 0660, EntryType::kBlockDev},
      {S_IFSOCK | 0755, EntryType::kSocket},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(EntryTypeName(c.type));
    struct stat st {};
    st.st_mode = c.mode;
    st.st_uid = 1000;
    st.st_gid = 100;
    st.st_size = 1234;
    st.st_rdev = makedev(8, 1);
    st.st_mtim.tv_sec = 1790823600;
    st.st_mtim.tv_nsec = 42;
    ASSERT_OK_AND_ASSIGN(Entry e, EntryFromStat("n", st));
    EXPECT_EQ(e.name, "n");
    EXPECT_EQ(e.type, c.type);
    EXPECT_EQ(e.mode, c.mode & 07777);
    EXPECT_EQ(e.uid, 1000u);
    EXPECT_EQ(e.gid, 100u);
    EXPECT_EQ(e.mtime_sec, 1790823600);
    EXPECT_EQ(e.mtime_nsec, 42u);
    EXPECT_EQ(e.size, c.type == EntryType::kFile ? 1234u : 0u);
    bool dev = c.type == EntryType::kCharDev || c.type == EntryType::kBlockDev;
    EXPECT_EQ(e.rdev, dev ? makedev(8, 1) : 0u);
  }
  struct stat weird {};
  weird.st_mode = 0170000;  // not a file type
  EXPECT_CODE(EntryFromStat("w", weird), StatusCode::kNotSupported);
}

TEST(PosixMetaTest, FdRelativePath) {
  EXPECT_EQ(FdRelativePath(7, "name"), "/proc/self/fd/7/name");
}

TEST(PosixMetaTest, XattrsRoundTripSorted) {
  testing::TempDir dir;
  ASSERT_OK(testing::WriteFile(dir.Join("f"), "data"));
  UniqueFd dfd(::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(dfd.valid());
  std::vector<Xattr> want = {{"user.b", std::string("\0\x01", 2)}, {"user.a", "first"}};
  Status s = WriteXattrs(dfd.get(), "f", want);
  if (s.code() == StatusCode::kNotSupported)
    GTEST_SKIP() << "no user xattrs here: " << s.ToString();
  ASSERT_OK(s);
  ASSERT_OK_AND_ASSIGN(std::vector<Xattr> got, ReadXattrs(dfd.get(), "f"));
  std::vector<Xattr> user;
  for (Xattr& x : got) {
    if (x.name.rfind("user.", 0) == 0) user.push_back(x);
  }
  ASSERT_EQ(user.size(), 2u);
  EXPECT_EQ(user[0], (Xattr{"user.a", "first"}));
  EXPECT_EQ(user[1], (Xattr{"user.b", std::string("\0\x01", 2)}));
}

TEST(PosixMetaTest, XattrsOfFileWithoutAnyAreEmpty) {
  testing::TempDir dir;
  ASSERT_OK(testing::WriteFile(dir.Join("plain"), "x"));
  UniqueFd dfd(::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_OK_AND_ASSIGN(std::vector<Xattr> got, ReadXattrs(dfd.get(), "plain"));
  for (const Xattr& x : got) EXPECT_NE(x.name.rfind("user.", 0), 0u) << x.name;
}

TEST(PosixMetaTest, XattrsOfSymlinkDoNotFollowIt) {
  testing::TempDir dir;
  ASSERT_OK(testing::WriteFile(dir.Join("target"), "x"));
  ASSERT_EQ(::symlink("target", dir.Join("link").c_str()), 0);
  UniqueFd dfd(::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  Status s = WriteXattrs(dfd.get(), "target", {{"user.t", "on target"}});
  if (s.code() == StatusCode::kNotSupported) GTEST_SKIP() << s.ToString();
  ASSERT_OK(s);
  ASSERT_OK_AND_ASSIGN(std::vector<Xattr> got, ReadXattrs(dfd.get(), "link"));
  for (const Xattr& x : got) EXPECT_NE(x.name, "user.t") << "read through the symlink";
}

TEST(PosixMetaTest, MissingFileIsNotFound) {
  testing::TempDir dir;
  UniqueFd dfd(::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  EXPECT_CODE(ReadXattrs(dfd.get(), "absent"), StatusCode::kNotFound);
}

}  // namespace
}  // namespace keepfs::snapshot
