// InodeCap: past its bound it hands the oldest entries to the invalidator,
// on its own thread; on a real mount the node table then stays near the
// bound however many files are statted, and every file stays reachable.
#include "fs/inode_cap.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/file_util.h"
#include "tests/testing/mount_fixture.h"

namespace keepfs::fs {
namespace {

constexpr int64_t kDay1 = 1790823600;  // 2026-10-01T03:00:00Z

TEST(InodeCapTest, PastTheBoundTheOldestGoFirstOnAnotherThread) {
  std::mutex mu;
  std::vector<std::pair<uint64_t, std::string>> got;
  std::thread::id caller = std::this_thread::get_id(), ran_on;
  {
    InodeCap cap(16, [&](uint64_t parent, const std::string& name) {
      std::lock_guard<std::mutex> lock(mu);
      got.emplace_back(parent, name);
      ran_on = std::this_thread::get_id();
    });
    for (int i = 0; i < 16; ++i) cap.Record(7, "n" + std::to_string(i));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    {
      std::lock_guard<std::mutex> lock(mu);
      EXPECT_TRUE(got.empty()) << "at the bound, nothing is taken back";
    }
    cap.Record(8, "n16");  // one over: the oldest eighth (2 entries) goes
    ASSERT_TRUE(testing::WaitFor([&] { return cap.invalidated() == 2; }));
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], (std::pair<uint64_t, std::string>{7, "n0"}));
  EXPECT_EQ(got[1], (std::pair<uint64_t, std::string>{7, "n1"}));
  EXPECT_NE(ran_on, caller);
}

class InodeCapMountTest : public testing::MountFixture {};

TEST_F(InodeCapMountTest, StattingManyFilesKeepsTheNodeTableNearTheCap) {
  KEEPFS_REQUIRE_FUSE_OR_SKIP();
  const std::string src = tmp_.Join("src");
  constexpr int kFolders = 6, kFiles = 1000;
  for (int d = 0; d < kFolders; ++d) {
    ASSERT_OK(MakeDirs(src + "/d" + std::to_string(d)));
    for (int f = 0; f < kFiles; ++f) {
      ASSERT_OK(testing::WriteFile(src + "/d" + std::to_string(d) + "/f" + std::to_string(f),
                                   std::to_string(d * kFiles + f)));
    }
  }
  auto snap = Backup("alice", src, kDay1);
  constexpr uint64_t kCap = 1024;
  ASSERT_OK(mount_.Start(store_.get(), mnt_, kCap));
  const std::string root = mnt_ + "/alice/" + snap.name;
  // Open one file first: its name will be taken back, its inode stays usable.
  int fd = ::open((root + "/d0/f0").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  for (int d = 0; d < kFolders; ++d) {
    for (int f = 0; f < kFiles; ++f) {
      struct stat st;
      std::string p = root + "/d" + std::to_string(d) + "/f" + std::to_string(f);
      ASSERT_EQ(::lstat(p.c_str(), &st), 0) << p;
    }
  }
  // The kernel forgets in its own time after each invalidation.
  EXPECT_TRUE(testing::WaitFor([&] { return mount_.view().stats().nodes <= kCap + kCap / 8 + 16; }))
      << mount_.view().stats().nodes << " nodes for " << kFolders * kFiles << " files statted";
  char buf[8] = {0};
  EXPECT_EQ(::pread(fd, buf, sizeof buf, 0), 1);
  EXPECT_EQ(std::string(buf), "0");
  ::close(fd);
  struct stat st;
  EXPECT_EQ(::lstat((root + "/d0/f1").c_str(), &st), 0) << "a name taken back is looked up again";
  EXPECT_EQ(st.st_size, 1);
}

}  // namespace
}  // namespace keepfs::fs
