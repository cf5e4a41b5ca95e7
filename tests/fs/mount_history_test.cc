// The history views through a real FUSE mount: /USER/.versions/PATH/ lists
// a file's versions (read as those versions), /USER/.deleted/ what the
// newest snapshot lacks, both following snapshots committed while mounted.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/file_util.h"
#include "tests/testing/every_kind_tree.h"
#include "tests/testing/mount_fixture.h"
#include "tests/testing/mount_util.h"
#include "tests/testing/test_util.h"

namespace keepfs::testing {
namespace {

constexpr int64_t kDay = 86400;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The names in a folder, without . and ..; {"!error"} if it cannot be opened.
std::vector<std::string> List(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return {"!" + std::string(std::strerror(errno))};
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

class MountHistoryTest : public MountFixture {
 protected:
  void SetUp() override {
    MountFixture::SetUp();
    src_ = tmp_.Join("src");
    ASSERT_OK(MakeDirs(src_ + "/docs"));
    // Within the default 30-day window of .deleted/, whatever today is.
    day0_ = static_cast<int64_t>(std::time(nullptr)) / kDay * kDay - 20 * kDay;
  }
  std::string Day(int d) { return Backup("alice", src_, day0_ + d * kDay).name; }

  std::string src_;
  int64_t day0_ = 0;
};

// Changed in 3 of 10 snapshots: exactly 3 entries, each named by the first
// snapshot holding it, with its own size and mtime, read as its own bytes.
TEST_F(MountHistoryTest, VersionsOfAFileChangedInThreeOfTenSnapshots) {
  KEEPFS_REQUIRE_FUSE_OR_SKIP();
  const std::string texts[] = {"first draft\n", "second draft, longer\n", "final\n"};
  std::vector<std::string> first_of;
  int version = -1;
  for (int d = 0; d < 10; ++d) {
    if (d == 0 || d == 4 || d == 7) {
      ASSERT_OK(WriteFile(src_ + "/docs/report.odt", texts[++version]));
      timespec t[2] = {{day0_ + d * kDay - 3600 + version, 0}, {day0_ + d * kDay - 3600 + version, 0}};
      ASSERT_EQ(::utimensat(AT_FDCWD, (src_ + "/docs/report.odt").c_str(), t, 0), 0);
    }
    ASSERT_OK(WriteFile(src_ + "/notes.txt", "day " + std::to_string(d)));
    std::string name = Day(d);
    if (d == 0 || d == 4 || d == 7) first_of.push_back(name);
  }
  ASSERT_OK(mount_.Start(store_.get(), mnt_));
  const std::string v = mnt_ + "/alice/.versions";
  std::vector<std::string> top = List(mnt_ + "/alice");
  ASSERT_EQ(top.size(), 14u) << "3 views, 10 snapshots, latest";
  EXPECT_EQ(std::vector<std::string>(top.begin(), top.begin() + 3),
            (std::vector<std::string>{".deleted", ".keepfs", ".versions"}));
  EXPECT_EQ(List(v), (std::vector<std::string>{"docs", "notes.txt"}));
  EXPECT_EQ(List(v + "/docs"), (std::vector<std::string>{"report.odt"}));
  std::vector<std::string> entries = List(v + "/docs/report.odt");
  ASSERT_EQ(entries.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(entries[i], first_of[i] + ".odt");
    const std::string path = v + "/docs/report.odt/" + entries[i];
    EXPECT_EQ(Slurp(path), texts[i]);
    struct stat st;
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_TRUE(S_ISREG(st.st_mode));
    EXPECT_EQ(st.st_size, static_cast<off_t>(texts[i].size()));
    EXPECT_EQ(st.st_mtime, day0_ + (i == 0 ? 0 : i == 1 ? 4 : 7) * kDay - 3600 + i);
    // The snapshot's own file: the same inode as under its snapshot folder.
    struct stat in_snap;
    ASSERT_EQ(::stat((mnt_ + "/alice/" + first_of[i] + "/docs/report.odt").c_str(), &in_snap), 0);
    EXPECT_EQ(st.st_ino, in_snap.st_ino);
  }
  EXPECT_EQ(List(v + "/notes.txt").size(), 10u);  // changed every day
  struct stat st;
  EXPECT_NE(::stat((v + "/docs/nothing").c_str(), &st), 0);
  EXPECT_EQ(errno, ENOENT);
}

// A file removed from the newest snapshot: not listed under .versions/, but
// its history is still there by name; the folder view follows a snapshot
// committed while mounted.
TEST_F(MountHistoryTest, VersionsOfADeletedFileByNameAndAfterANewSnapshot) {
  KEEPFS_REQUIRE_FUSE_OR_SKIP();
  ASSERT_OK(WriteFile(src_ + "/docs/gone.txt", "was here"));
  Day(0);
  ASSERT_EQ(::unlink((src_ + "/docs/gone.txt").c_str()), 0);
  Day(1);
  ASSERT_OK(mount_.Start(store_.get(), mnt_));
  const std::string docs = mnt_ + "/alice/.versions/docs";
  EXPECT_TRUE(List(docs).empty());
  std::vector<std::string> gone = List(docs + "/gone.txt");
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(Slurp(docs + "/gone.txt/" + gone[0]), "was here");
  ASSERT_OK(WriteFile(src_ + "/docs/new.txt", "new"));
  Day(2);  // committed while mounted
  EXPECT_EQ(List(docs), (std::vector<std::string>{"new.txt"}));
}

// A file and a folder deleted: each under .deleted/ at its path with its last
// version; cp -a brings them back whole; INDEX.txt lists both; restoring the
// file in a new snapshot takes it out.
TEST_F(MountHistoryTest, DeletedShowsWhatTheNewestSnapshotLacks) {
  KEEPFS_REQUIRE_FUSE_OR_SKIP();
  ASSERT_OK(MakeDirs(src_ + "/docs/old/deep"));
  ASSERT_OK(WriteFile(src_ + "/docs/keep.txt", "kept"));
  ASSERT_OK(WriteFile(src_ + "/docs/gone.txt", "first"));
  ASSERT_OK(WriteFile(src_ + "/docs/old/a.txt", "aaaa", 0600));
  ASSERT_OK(WriteFile(src_ + "/docs/old/deep/b.txt", "bb"));
  ASSERT_EQ(::chmod((src_ + "/docs/old").c_str(), 0750), 0);
  Day(0);
  ASSERT_OK(WriteFile(src_ + "/docs/gone.txt", "the last version"));
  std::string last = Day(1);
  ASSERT_EQ(::unlink((src_ + "/docs/gone.txt").c_str()), 0);
  std::filesystem::remove_all(src_ + "/docs/old");
  Day(2);
  ASSERT_OK(mount_.Start(store_.get(), mnt_));
  const std::string del = mnt_ + "/alice/.deleted";
  EXPECT_EQ(List(del), (std::vector<std::string>{"INDEX.txt", "docs"}));
  EXPECT_EQ(List(del + "/docs"), (std::vector<std::string>{"gone.txt", "old"}));
  EXPECT_EQ(Slurp(del + "/docs/gone.txt"), "the last version");
  EXPECT_EQ(List(del + "/docs/old/deep"), (std::vector<std::string>{"b.txt"}));

  const std::string back = tmp_.Join("back");
  int code = 0;
  std::string out = Shell("cp -a " + del + "/docs/old " + back + " 2>&1", &code);
  ASSERT_EQ(code, 0) << out;
  EXPECT_EQ(Slurp(back + "/a.txt"), "aaaa");
  EXPECT_EQ(Slurp(back + "/deep/b.txt"), "bb");
  struct stat st;
  ASSERT_EQ(::stat(back.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u) << "the folder as it was backed up";
  ASSERT_EQ(::stat((back + "/a.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);

  std::string index = Slurp(del + "/INDEX.txt");
  EXPECT_NE(index.find("\ndocs/gone.txt\t16 B\t" + last + "\n"), std::string::npos) << index;
  EXPECT_NE(index.find("\ndocs/old/\t6 B in 2 files\t" + last + "\n"), std::string::npos) << index;

  ASSERT_OK(WriteFile(src_ + "/docs/gone.txt", "back again"));
  Day(3);  // committed while mounted: gone.txt is no longer deleted
  EXPECT_EQ(List(del + "/docs"), (std::vector<std::string>{"old"}));
  EXPECT_EQ(Slurp(del + "/INDEX.txt").find("gone.txt"), std::string::npos);
}

// Another user cannot enter alice's views or read from them; alice's uid
// can. Right after alice's walk the kernel may answer a stat from its cache
// for path_cache_seconds (1 s, docs/mount.md), never an open or a listing.
TEST_F(MountHistoryTest, OnlyTheOwnerEntersTheViews) {
  KEEPFS_REQUIRE_FUSE_OR_SKIP();
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch uids";
  ASSERT_OK(store_->SetUser("alice", {2001, 2001}));
  ASSERT_OK(WriteFile(src_ + "/docs/a.txt", "secret"));
  Day(0);
  ASSERT_EQ(::unlink((src_ + "/docs/a.txt").c_str()), 0);
  Day(1);
  ASSERT_OK(mount_.Start(store_.get(), mnt_));
  std::string out;
  EXPECT_EQ(RunAs(2001, "cat " + mnt_ + "/alice/.deleted/docs/a.txt", &out), 0) << out;
  EXPECT_EQ(out, "secret");
  EXPECT_EQ(RunAs(2001, "cat " + mnt_ + "/alice/.versions/docs/a.txt/*", &out), 0) << out;
  EXPECT_EQ(out, "secret");
  for (const std::string cmd : {"ls /alice/.deleted", "ls /alice/.versions",
                                "ls /alice/.versions/docs/a.txt", "cat /alice/.deleted/docs/a.txt"}) {
    const std::string line = cmd.substr(0, cmd.find('/')) + mnt_ + cmd.substr(cmd.find('/'));
    EXPECT_NE(RunAs(2002, line, &out), 0) << line;
    EXPECT_NE(out.find("Permission denied"), std::string::npos) << line << ": " << out;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1300));
  EXPECT_NE(RunAs(2002, "stat " + mnt_ + "/alice/.deleted/docs/a.txt", &out), 0) << out;
  EXPECT_NE(out.find("Permission denied"), std::string::npos) << out;
}

}  // namespace
}  // namespace keepfs::testing
