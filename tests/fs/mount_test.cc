// Real FUSE mounts: fidelity through the mount, access between two real uids,
// snapshots appearing while mounted, EIO (the damage matrix is in
// mount_damage_test.cc), EROFS, parallel readers during a
// backup, and the keepfs binary's mount/umount.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <signal.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <filesystem>
#include <cctype>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include "gc/prune.h"
#include "snapshot/catalog.h"
#include "snapshot/check.h"
#include "snapshot/pins.h"
#include "snapshot/ingest.h"
#include "store/file_util.h"
#include "store/pack.h"
#include "tests/testing/backup_util.h"
#include "tests/testing/check_util.h"
#include "tests/testing/every_kind_tree.h"
#include "tests/testing/mount_fixture.h"
#include "tests/testing/mount_util.h"
#include "tests/testing/pack_oracle.h"
#include "tests/testing/refs_oracle.h"
#include "tests/testing/test_util.h"

namespace keepfs::testing {
namespace {

constexpr int64_t kTime = 1790823600;  // 2026-10-01T03:00:00Z

class MountTest : public MountFixture {
 protected:
  // Hands the store to a `keepfs mount` process (in the background; the
  // test's own handle is closed) and returns the store's directory. *said:
  // what the mount command printed. A failed mount is a test failure.
  std::string MountWithBinary(std::string* said = nullptr) {
    std::string store = store_->dir();
    store_.reset();
    int code = 0;
    std::string out = Shell(std::string(KEEPFS_BINARY) + " --store " + store + " mount " + mnt_ + " 2>&1", &code);
    EXPECT_EQ(code, 0) << out;
    if (said) *said = out;
    return store;
  }
};

// n files of 512 KiB of random bytes in a new directory dir: a backup long
// enough to be caught running.
void WriteRandomFiles(const std::string& dir, int n, uint64_t seed) {
  ASSERT_OK(MakeDirs(dir));
  for (int i = 0; i < n; ++i) {
    ASSERT_OK(WriteFile(dir + "/f" + std::to_string(i), RandomBytes(512 << 10, seed + i)));
  }
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST_F(MountTest, TreeThroughTheMountIsIdenticalToTheSource) {
  KEEPFS_REQUIRE_FUSE_OR_SKIP();
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for chown and mknod";
  int code = 0;
  Shell("command -v rsync setfacl >/dev/null", &code);
  if (code != 0) GTEST_SKIP() << "needs rsync and setfacl (apt-get install rsync acl)";
  std::string src = tmp_.Join("src");
  BuildEveryKindTree(src);
  if (HasFatalFailure()) return;
  ASSERT_EQ(::chown(src.c_str(), 4321, 4322), 0);
  ASSERT_EQ(::chmod(src.c_str(), 0750), 0);
  ASSERT_EQ(::setxattr(src.c_str(), "user.root", "r", 1, 0), 0);
  Backup("alice", src, kTime);
  ASSERT_OK(mount_.Start(store_.get(), mnt_));
  std::string latest = mnt_ + "/alice/latest";
  std::string diff = Shell("rsync -aHAXn --numeric-ids --checksum --itemize-changes --exclude=/deep " +
                               src + "/ " + latest + "/ 2>&1",
                           &code);
  EXPECT_EQ(code, 0) << diff;
  EXPECT_TRUE(diff.empty()) << "rsync found differences through the mount:\n" << diff;
  EXPECT_EQ(ReadDeepFile(latest), "deep") << "paths beyond PATH_MAX work step by step";
  struct stat a, h, sp;
  ASSERT_EQ(::stat((latest + "/medium.bin").c_str(), &a), 0);
  ASSERT_EQ(::stat((latest + "/hardlink2").c_str(), &h), 0);
  EXPECT_EQ(a.st_ino, h.st_ino);
  EXPECT_EQ(a.st_nlink, 3u);
  ASSERT_EQ(::stat((latest + "/sparse").c_str(), &sp), 0);
  EXPECT_EQ(sp.st_size, 1ll << 30);
  EXPECT_LT(sp.st_blocks * 512, 1ll << 20) << "real block count of a sparse file";
  int fd = ::open((latest + "/sparse").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  off_t data = ::lseek(fd, 0, SEEK_DATA);
  EXPECT_GT(data, 0);
  EXPECT_LE(data, 512 << 20);
  EXPECT_GE(::lseek(fd, data, SEEK_HOLE), (512 << 20) + 8192);
  ::close(fd);
  char value[16];
  EXPECT_EQ(::getxattr((latest + "/small.txt").c_str(), "user.note", value, sizeof value), 4);
  EXPECT_EQ(std::string(value, 4), "kept");
  struct stat st;
  ASSERT_EQ(::lstat((latest + "/null-dev").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  ASSERT_EQ(::lstat((latest + "/socket").c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  ASSERT_EQ(::lstat(latest.c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  ASSERT_EQ(::stat(latest.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 4321u) << "the snapshot root carries the source root's owner";
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  struct statvfs vfs;
  ASSERT_EQ(::statvfs(mnt_.c_str(), &vfs), 0);
  EXPECT_GT(vfs.f_blocks, 0u);
  EXPECT_GT((vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize, 9u << 20) << "used = the store's packs";
}

TEST_F(MountTest, EachUserEntersOnlyTheirOwnNamespace) {
  KEEPFS_REQUIRE_FUSE_OR_SKIP();
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch uids";
  std::string src_a = tmp_.Join("a"), src_b = tmp_.Join("b");
  ASSERT_OK(MakeDirs(src_a + "/that"));
  ASSERT_OK(MakeDirs(src_b));
  ASSERT_OK(WriteFile(src_a + "/that/file", "alice's secret\n", 0640));
  ASSERT_EQ(::chown((src_a + "/that/file").c_str(), 1234, 1234), 0);
  ASSERT_OK(WriteFile(src_b + "/mine", "bob's\n", 0600));
  ASSERT_OK(store_->SetUser("alice", {2001, 2001}));
  ASSERT_OK(store_->SetUser("bob", {2002, 2002}));
  auto snap = Backup("alice", src_a, kTime);
  Backup("bob", src_b, kTime);
  ASSERT_OK(mount_.Start(store_.get(), mnt_));
  std::string file = mnt_ + "/alice/" + snap.name + "/that/file", out;
  EXPECT_EQ(RunAs(2001, "cat " + file, &out), 0) << out;
  EXPECT_EQ(out, "alice's secret\n") << "stored as uid 1234 mode 0640, read by its owner";
  // alice just walked there, so the kernel has the path cached: bob must
  // still be refused, by full path and by listing.
  EXPECT_NE(RunAs(2002, "cat " + file, &out), 0);
  EXPECT_NE(out.find("Permission denied"), std::string::npos) << out;
  EXPECT_NE(RunAs(2002, "ls " + mnt_ + "/alice", &out), 0);
  EXPECT_NE(out.find("Permission denied"), std::string::npos) << out;
  EXPECT_NE(RunAs(2002, "cat " + mnt_ + "/alice/latest/that/file", &out), 0);
  // Attributes: the kernel may reuse alice's walk for [mount] path_cache_seconds
  // (1 s by default, docs/mount.md); after that bob cannot even stat the path.
  std::this_thread::sleep_for(std::chrono::milliseconds(1300));
  EXPECT_NE(RunAs(2002, "stat " + file, &out), 0) << "not even the attributes: " << out;
  EXPECT_EQ(RunAs(2002, "cat " + mnt_ + "/bob/latest/mine", &out), 0) << out;
  EXPECT_EQ(out, "bob's\n");
  struct stat st;
  ASSERT_EQ(::stat((mnt_ + "/alice").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 2001u);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
}

// The owner pins a file with setfattr, another uid cannot, prune turns the
// old snapshot into a husk, and the pinned file reads back from it at the
// same path; .keepfs/ shows the pins, the plan and the usage.
TEST_F(MountTest, OwnerPinsWithSetfattrAndReadsThePinnedFileFromTheHusk) {
  KEEPFS_REQUIRE_FUSE_OR_SKIP();
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch uids";
  ASSERT_OK(store_->SetUser("alice", {2001, 2001}));
  ASSERT_OK(store_->SetUser("bob", {2002, 2002}));
  std::string src = tmp_.Join("src");
  ASSERT_OK(MakeDirs(src + "/docs"));
  ASSERT_OK(MakeDirs(src + "/other"));
  ASSERT_OK(WriteFile(src + "/docs/keep.txt", "precious\n"));
  ASSERT_OK(WriteFile(src + "/docs/tmp.txt", "junk\n"));
  ASSERT_OK(WriteFile(src + "/other/x", "x\n"));
  auto day1 = Backup("alice", src, kTime);
  ASSERT_OK(WriteFile(src + "/docs/keep.txt", "changed\n"));
  auto day2 = Backup("alice", src, kTime + 86400);
  Backup("bob", src, kTime);
  ASSERT_OK(mount_.Start(store_.get(), mnt_));

  const std::string file = mnt_ + "/alice/" + day1.name + "/docs/keep.txt";
  std::string out;
  EXPECT_NE(RunAs(2002, "setfattr -n user.keepfs.pin -v 1 " + file, &out), 0);
  EXPECT_NE(out.find("Permission denied"), std::string::npos) << out;
  // Bob may pin in his own snapshots, not in alice's.
  EXPECT_EQ(RunAs(2002, "setfattr -n user.keepfs.pin -v 1 " + mnt_ + "/bob/latest/other/x", &out),
            0)
      << out;
  ASSERT_EQ(RunAs(2001, "setfattr -n user.keepfs.pin -v 1 " + file, &out), 0) << out;
  EXPECT_EQ(RunAs(2001, "getfattr --absolute-names --only-values -n user.keepfs.pin " + file, &out), 0) << out;
  EXPECT_EQ(out, "1");
  EXPECT_NE(RunAs(2001, "getfattr --absolute-names -n user.keepfs.pin " + mnt_ + "/alice/" + day1.name +
                            "/docs/tmp.txt", &out), 0)
      << "not pinned: " << out;
  EXPECT_NE(RunAs(2001, "setfattr -n user.other -v 1 " + file, &out), 0);
  EXPECT_NE(out.find("Read-only file system"), std::string::npos) << out;
  ASSERT_OK_AND_ASSIGN(auto pins, snapshot::ListPins(store_.get(), "alice"));
  ASSERT_EQ(pins.size(), 1u);
  EXPECT_EQ(pins[0].path, "docs/keep.txt");
  EXPECT_EQ(pins[0].by_uid, 2001u);

  EXPECT_EQ(RunAs(2001, "cat " + mnt_ + "/alice/.keepfs/pins.txt", &out), 0) << out;
  EXPECT_NE(out.find("alice " + day1.name + " /docs/keep.txt"), std::string::npos) << out;
  EXPECT_EQ(RunAs(2001, "cat " + mnt_ + "/alice/.keepfs/retention.txt", &out), 0) << out;
  EXPECT_NE(out.find(day1.name + "  husk   no rule keeps it, pinned: 1 path"), std::string::npos)
      << out;
  EXPECT_EQ(RunAs(2001, "cat " + mnt_ + "/alice/.keepfs/usage.json", &out), 0) << out;
  EXPECT_NE(out.find("\"user\":\"alice\",\"snapshots\":2,\"husks\":0,"), std::string::npos)
      << out;
  EXPECT_NE(out.find("\"pins\":1,"), std::string::npos) << out;
  EXPECT_NE(RunAs(2002, "cat " + mnt_ + "/alice/.keepfs/usage.json", &out), 0) << out;

  // What the file said in .keepfs/retention.txt is what prune does.
  RetentionPolicy policy = store_->config().RetentionFor("alice");
  ASSERT_OK_AND_ASSIGN(gc::UserPrune done, gc::PruneUser(store_.get(), "alice", policy,
                                                         std::time(nullptr), false));
  ASSERT_EQ(done.snapshots.size(), 2u);
  EXPECT_EQ(done.snapshots[0].decision.fate, gc::Fate::kHusk);
  EXPECT_EQ(RunAs(2001, "cat " + file, &out), 0) << out;
  EXPECT_EQ(out, "precious\n") << "the pinned version, at the same path";
  EXPECT_FALSE(std::filesystem::exists(mnt_ + "/alice/" + day1.name + "/docs/tmp.txt"));
  EXPECT_FALSE(std::filesystem::exists(mnt_ + "/alice/" + day1.name + "/other"));
  EXPECT_EQ(Slurp(mnt_ + "/alice/" + day2.name + "/docs/tmp.txt"), "junk\n");
  EXPECT_EQ(RunAs(2001, "getfattr --absolute-names --only-values -n user.keepfs.pin " + file, &out), 0) << out;
  EXPECT_EQ(out, "1");

  // Unpinning through the mount: the next prune removes the husk.
  ASSERT_EQ(RunAs(2001, "setfattr -x user.keepfs.pin " + file, &out), 0) << out;
  EXPECT_NE(RunAs(2001, "setfattr -x user.keepfs.pin " + file, &out), 0) << "already unpinned";
  ASSERT_OK(gc::PruneUser(store_.get(), "alice", policy, std::time(nullptr), false).status());
  EXPECT_FALSE(std::filesystem::exists(mnt_ + "/alice/" + day1.name));
}

TEST_F(MountTest, NewSnapshotsAppearAndLatestMoves) {
  KEEPFS_REQUIRE_FUSE_OR_SKIP();
  std::string src = tmp_.Join("src");
  ASSERT_OK(MakeDirs(src));
  ASSERT_OK(WriteFile(src + "/v", "one"));
  auto first = Backup("alice", src, kTime);
  ASSERT_OK(mount_.Start(store_.get(), mnt_));
  EXPECT_EQ(Slurp(mnt_ + "/alice/latest/v"), "one");
  ASSERT_OK(WriteFile(src + "/v", "two"));
  auto second = Backup("alice", src, kTime + 86400);
  // Within a second of the commit, with no remount.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  std::string target;
  do {
    std::error_code ec;
    target = std::filesystem::read_symlink(mnt_ + "/alice/latest", ec).string();
  } while (target != second.name && std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(target, second.name);
  EXPECT_EQ(Slurp(mnt_ + "/alice/latest/v"), "two");
  EXPECT_EQ(Slurp(mnt_ + "/alice/" + first.name + "/v"), "one");
  std::set<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(mnt_ + "/alice")) {
    names.insert(e.path().filename().string());
  }
  EXPECT_EQ(names, (std::set<std::string>{".deleted", ".keepfs", ".versions", "latest", first.name, second.name}));
  // A user's first backup appears as a new folder.
  Backup("carol", src, kTime);
  EXPECT_TRUE(std::filesystem::exists(mnt_ + "/carol/latest/v"));

  // A forgotten snapshot disappears at once, while a process that has one of
  // its files open reads it to the end.
  std::string big(3 << 20, 'b');
  ASSERT_OK(WriteFile(src + "/big", big));
  auto third = Backup("alice", src, kTime + 2 * 86400);
  std::ifstream open_file(mnt_ + "/alice/" + third.name + "/big", std::ios::binary);
  ASSERT_TRUE(open_file.good());
  char first_byte = 0;
  open_file.read(&first_byte, 1);
  ASSERT_OK(gc::ForgetSnapshot(store_.get(), "alice", third.name).status());
  // Gone once the kernel asks again: within [mount] path_cache_seconds (1 s).
  auto gone_by = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  while (std::filesystem::exists(mnt_ + "/alice/" + third.name) &&
         std::chrono::steady_clock::now() < gone_by) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_FALSE(std::filesystem::exists(mnt_ + "/alice/" + third.name));
  std::error_code ec;
  EXPECT_EQ(std::filesystem::read_symlink(mnt_ + "/alice/latest", ec).string(), second.name)
      << "latest moves back";
  std::string rest(std::istreambuf_iterator<char>(open_file), {});
  EXPECT_EQ(first_byte + rest, big) << "the open file reads to its end";
}

// With a 60 s path cache, only the mount telling the kernel can make a new
// snapshot and a forgotten one show within a second.
TEST_F(MountTest, CommitsAndForgetsShowAtOnceWhateverThePathCache) {
  KEEPFS_REQUIRE_FUSE_OR_SKIP();
  std::string config = tmp_.Join("store") + "/config.toml";
  ASSERT_OK_AND_ASSIGN(std::string text, ReadFile(config));
  size_t at = text.find("path_cache_seconds = 1\n");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 23, "path_cache_seconds = 60\n");
  ASSERT_OK(WriteFile(config, text));
  store_.reset();
  ASSERT_OK_AND_ASSIGN(store_, Store::Open(tmp_.Join("store"), OpenMode::kReadWrite));
  ASSERT_EQ(store_->config().mount.path_cache_seconds, 60);

  std::string src = tmp_.Join("src");
  ASSERT_OK(MakeDirs(src));
  ASSERT_OK(WriteFile(src + "/v", "one"));
  auto first = Backup("alice", src, kTime);
  ASSERT_OK(mount_.Start(store_.get(), mnt_));
  ASSERT_TRUE(std::filesystem::exists(mnt_ + "/alice/" + first.name + "/v"));  // now cached
  auto second = Backup("alice", src, kTime + 86400);
  ASSERT_TRUE(std::filesystem::exists(mnt_ + "/alice/" + second.name));
  ASSERT_OK(gc::ForgetSnapshot(store_.get(), "alice", first.name).status());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (std::filesystem::exists(mnt_ + "/alice/" + first.name) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(std::filesystem::exists(mnt_ + "/alice/" + first.name))
      << "the kernel still has the forgotten snapshot cached";
  std::error_code ec;
  EXPECT_EQ(std::filesystem::read_symlink(mnt_ + "/alice/latest", ec).string(), second.name);
}

TEST_F(MountTest, DamagedPackIsEio) {
  KEEPFS_REQUIRE_FUSE_OR_SKIP();
  std::string src = tmp_.Join("src");
  ASSERT_OK(MakeDirs(src));
  std::string data = RandomBytes(2 << 20, 4);
  ASSERT_OK(WriteFile(src + "/big", data));
  ASSERT_OK(WriteFile(src + "/small", "inline data is in the metadata"));
  Backup("alice", src, kTime);
  for (const auto& e : std::filesystem::recursive_directory_iterator(store_->dir() + "/packs")) {
    if (e.path().extension() == ".pack") {
      ASSERT_OK(FlipByte(e.path().string(), 5000));
    }
  }
  ASSERT_OK(mount_.Start(store_.get(), mnt_));
  int fd = ::open((mnt_ + "/alice/latest/big").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  // Bytes of intact chunks may come first (a short read); then EIO. Nothing
  // read may differ from the source.
  std::string got;
  std::vector<char> buf(1 << 20);
  ssize_t n;
  while ((n = ::read(fd, buf.data(), buf.size())) > 0) got.append(buf.data(), static_cast<size_t>(n));
  int err = errno;
  ::close(fd);
  EXPECT_EQ(n, -1);
  EXPECT_EQ(err, EIO);
  EXPECT_LT(got.size(), data.size());
  EXPECT_EQ(got, data.substr(0, got.size())) << "never wrong bytes";
  EXPECT_EQ(Slurp(mnt_ + "/alice/latest/small"), "inline data is in the metadata")
      << "what is intact is still served";
}

// The files check names for a damaged chunk are exactly those the mount
// cannot serve (EIO); every other file reads back byte-identical.
TEST_F(MountTest, EveryWriteIsErofs) {
  KEEPFS_REQUIRE_FUSE_OR_SKIP();
  std::string src = tmp_.Join("src");
  ASSERT_OK(MakeDirs(src + "/d"));
  ASSERT_OK(WriteFile(src + "/f", "x"));
  Backup("alice", src, kTime);
  ASSERT_OK(mount_.Start(store_.get(), mnt_));
  std::string snap = mnt_ + "/alice/latest";
  auto expect_erofs = [](int rc, const char* what) {
    int err = errno;
    EXPECT_EQ(rc, -1) << what;
    EXPECT_EQ(err, EROFS) << what << ": " << std::strerror(err);
  };
  expect_erofs(::open((snap + "/f").c_str(), O_WRONLY), "open for writing");
  expect_erofs(::open((snap + "/new").c_str(), O_WRONLY | O_CREAT, 0644), "create");
  expect_erofs(::mkdir((snap + "/newdir").c_str(), 0755), "mkdir");
  expect_erofs(::unlink((snap + "/f").c_str()), "unlink");
  expect_erofs(::rmdir((snap + "/d").c_str()), "rmdir");
  expect_erofs(::rename((snap + "/f").c_str(), (snap + "/g").c_str()), "rename");
  expect_erofs(::chmod((snap + "/f").c_str(), 0777), "chmod");
  expect_erofs(::truncate((snap + "/f").c_str(), 0), "truncate");
  expect_erofs(::symlink("x", (snap + "/l").c_str()), "symlink");
  expect_erofs(::link((snap + "/f").c_str(), (snap + "/h").c_str()), "link");
  expect_erofs(::setxattr((snap + "/f").c_str(), "user.x", "1", 1, 0), "setxattr");
  expect_erofs(::mkdir((mnt_ + "/mallory").c_str(), 0755), "mkdir at the top");
  EXPECT_EQ(Slurp(snap + "/f"), "x") << "nothing changed";
}

TEST_F(MountTest, SixteenReadersWhileABackupRuns) {
  KEEPFS_REQUIRE_FUSE_OR_SKIP();
  std::string src = tmp_.Join("src");
  ASSERT_OK(MakeDirs(src));
  std::vector<std::string> contents;
  for (int i = 0; i < 16; ++i) {
    contents.push_back(RandomBytes((1 << 20) + i * 4099, 100 + static_cast<uint64_t>(i)));
    ASSERT_OK(WriteFile(src + "/f" + std::to_string(i), contents.back()));
  }
  Backup("alice", src, kTime);
  ASSERT_OK(mount_.Start(store_.get(), mnt_));
  std::string src2 = tmp_.Join("src2");
  ASSERT_OK(MakeDirs(src2));
  for (int i = 0; i < 64; ++i) {
    ASSERT_OK(WriteFile(src2 + "/g" + std::to_string(i), RandomBytes(256 << 10, 500 + i)));
  }
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0}, bad{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 16; ++t) {
    readers.emplace_back([&, t] {
      while (!stop) {
        int i = (t + reads.load()) % 16;
        std::string got = Slurp(mnt_ + "/alice/2026-10-01_030000/f" + std::to_string(i));
        if (got != contents[static_cast<size_t>(i)]) ++bad;
        ++reads;
      }
    });
  }
  for (int round = 0; round < 3; ++round) Backup("bob", src2, kTime + round);
  while (reads < 64) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  stop = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(bad.load(), 0) << "of " << reads.load() << " reads";
  EXPECT_TRUE(std::filesystem::exists(mnt_ + "/bob/latest/g63"));
}

#ifdef KEEPFS_BINARY
// The collector runs inside the mount process, forwarded like any command
// but beside the writer lock: it finishes while a forwarded backup is still
// running, and a file held open through the mount reads to the end although
// its snapshot was forgotten and its pack repacked and removed meanwhile.
TEST_F(MountTest, GcRunsInTheMountBesideABackupWhileAnOpenFileReadsToTheEnd) {
  KEEPFS_REQUIRE_FUSE_OR_SKIP();
  std::string src = tmp_.Join("src");
  ASSERT_OK(MakeDirs(src));
  const std::string keep = RandomBytes(3 << 20, 71);
  ASSERT_OK(WriteFile(src + "/keep.bin", keep));
  ASSERT_OK(WriteFile(src + "/drop.bin", RandomBytes(8 << 20, 72)));
  auto snap = Backup("alice", src, kTime);
  const std::string store = MountWithBinary();
  ASSERT_FALSE(HasFailure());
  const std::string bin = KEEPFS_BINARY;
  int code = 0;
  std::string out;
  const auto packs_before = ListPackFiles(store);

  int fd = ::open((mnt_ + "/alice/" + snap.name + "/keep.bin").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  std::string got(keep.size(), '\0');
  ASSERT_EQ(::pread(fd, got.data(), 64 << 10, 0), 64 << 10);
  out = Shell(bin + " --store " + store + " forget --user alice " + snap.name + " 2>&1", &code);
  ASSERT_EQ(code, 0) << out;

  std::string big = tmp_.Join("big");
  WriteRandomFiles(big, 300, 700);
  pid_t backup = SpawnQuiet({bin, "--store", store, "-q", "backup", "--user", "bob", big});
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  out = Shell(bin + " --store " + store + " gc --undelete-window 0s --json 2>&1", &code);
  int status = 0;
  bool backup_still_running = ::waitpid(backup, &status, WNOHANG) == 0;
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("\"kept_in_flight\":"), std::string::npos) << out;
  EXPECT_EQ(out.find("\"kept_in_flight\":0,"), std::string::npos)
      << "the open file's chunks were kept: " << out;
  if (!backup_still_running) {
    std::printf("note: the backup finished before gc did; gc beside it was not shown\n");
  }
  if (backup_still_running) {
    ASSERT_EQ(::waitpid(backup, &status, 0), backup);
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the backup: status " << status;
  for (uint64_t id : ListPackFiles(store)) {
    EXPECT_EQ(std::count(packs_before.begin(), packs_before.end(), id), 0)
        << "alice's pack was repacked and removed while keep.bin was open";
  }
  size_t at = 64 << 10;
  while (at < keep.size()) {
    ssize_t n = ::pread(fd, got.data() + at, keep.size() - at, static_cast<off_t>(at));
    ASSERT_GT(n, 0) << "read at " << at << ": " << std::strerror(errno);
    at += static_cast<size_t>(n);
  }
  ::close(fd);
  EXPECT_TRUE(got == keep) << "read to the end, byte for byte";
  out = Shell(bin + " --store " + store + " check 2>&1", &code);
  EXPECT_EQ(code, 0) << out;
  out = Shell(bin + " umount " + mnt_ + " 2>&1", &code);
  EXPECT_EQ(code, 0) << out;
}

// A file's bytes from its name "nSEED.bin": 1-2 MiB of random data with a
// 512 KiB zero run, which alice's copies hold as a hole and bob's as bytes.
std::string RaceFileBytes(uint64_t seed) {
  std::string b = RandomBytes((1 << 20) + seed % (1 << 20), seed);
  std::fill(b.begin() + (256 << 10), b.begin() + (768 << 10), '\0');
  return b;
}
uint64_t RaceFileSeed(const std::string& name) { return std::stoull(name.substr(1)); }

// The race: backups of two users, readers through the mount, and
// prune + sharing pass + gc loops, all at once for a bounded time, every
// writing command forwarded into the mount process. Readers never see a
// wrong byte; afterwards counts equal a recount, packs are exact, check is
// clean, every surviving snapshot reads back byte-identical, and the store
// holds no more dead bytes than the repack thresholds allow.
TEST_F(MountTest, BackupsReadersPruneSharingAndGcRaceThroughTheMount) {
  KEEPFS_REQUIRE_FUSE_OR_SKIP();
  double seconds = 6;
  if (const char* env = std::getenv("KEEPFS_RACE_SECONDS")) seconds = std::atof(env);
  const std::string alice = tmp_.Join("alice"), bob = tmp_.Join("bob");
  ASSERT_OK(MakeDirs(alice));
  ASSERT_OK(MakeDirs(bob));
  const std::string store = MountWithBinary();
  ASSERT_FALSE(HasFailure());
  const std::string bin = KEEPFS_BINARY, at = " --store " + store + " ";
  int code = 0;
  std::string out;

  std::atomic<bool> stop{false};
  std::atomic<int> backups{0}, loops{0}, reads{0}, failures{0};
  std::mutex log_mu;
  std::string log;
  auto fail = [&](const std::string& what) {
    std::lock_guard<std::mutex> lock(log_mu);
    log += what + "\n";
    ++failures;
  };
  std::thread writer([&] {
    Rng rng(5);
    std::vector<uint64_t> live;
    for (int round = 0; !stop; ++round) {
      uint64_t seed = 1000 + round;
      std::string name = "/n" + std::to_string(seed) + ".bin", bytes = RaceFileBytes(seed);
      if (!WriteFileWithHole(alice + name, bytes, 256 << 10, 768 << 10).ok() ||
          !WriteFile(bob + name, bytes).ok()) {
        return fail("writing " + name);
      }
      live.push_back(seed);
      if (live.size() > 3) {  // drop one at random: its bytes become garbage later
        size_t k = rng.Uniform(live.size());
        std::string old = "/n" + std::to_string(live[k]) + ".bin";
        ::unlink((alice + old).c_str());
        ::unlink((bob + old).c_str());
        live.erase(live.begin() + static_cast<long>(k));
      }
      for (const auto& [user, src] : {std::pair{"alice", alice}, std::pair{"bob", bob}}) {
        int c = 0;
        std::string o = Shell(bin + at + "-q backup --user " + user + " " + src + " 2>&1", &c);
        if (c != 0) return fail(std::string("backup ") + user + ": " + o);
        ++backups;
      }
    }
  });
  std::thread collector([&] {
    while (!stop) {
      for (const char* cmd : {"-q prune --keep-last 2 --keep-within 0 --keep-monthly 0",
                              "-q share", "-q gc --undelete-window 0s"}) {
        int c = 0;
        std::string o = Shell(bin + at + cmd + " 2>&1", &c);
        if (c != 0) return fail(std::string(cmd) + ": " + o);
      }
      ++loops;
    }
  });
  std::thread reader([&] {
    std::vector<char> buf(4 << 20);
    while (!stop) {
      for (const char* user : {"alice", "bob"}) {
        std::error_code ec;
        std::vector<std::string> names;
        for (const auto& e : std::filesystem::directory_iterator(mnt_ + "/" + user + "/latest", ec)) {
          names.push_back(e.path().filename());
        }
        for (const std::string& name : names) {
          int fd = ::open((mnt_ + "/" + user + "/latest/" + name).c_str(), O_RDONLY);
          if (fd < 0) continue;  // pruned between the listing and the open: fine
          // Once open, the file reads to the end whatever happens beside it.
          std::string got;
          for (;;) {
            ssize_t n = ::read(fd, buf.data(), buf.size());
            if (n < 0) {
              fail(user + std::string("/") + name + ": " + std::strerror(errno));
              break;
            }
            if (n == 0) break;
            got.append(buf.data(), static_cast<size_t>(n));
          }
          ::close(fd);
          if (got != RaceFileBytes(RaceFileSeed(name))) fail(user + std::string("/") + name + ": wrong bytes");
          ++reads;
        }
      }
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(seconds * 1000)));
  stop = true;
  writer.join();
  collector.join();
  reader.join();
  EXPECT_EQ(failures.load(), 0) << log;
  std::printf("race: %d backups, %d prune/share/gc loops, %d files read through the mount\n",
              backups.load(), loops.load(), reads.load());
  EXPECT_GT(backups.load(), 2);
  EXPECT_GT(loops.load(), 0);
  EXPECT_GT(reads.load(), 0);
  // One last round settles the store: what is left must be tight.
  out = Shell(bin + at + "-q prune --keep-last 2 --keep-within 0 --keep-monthly 0 2>&1", &code);
  EXPECT_EQ(code, 0) << out;
  out = Shell(bin + at + "share --json 2>&1", &code);
  EXPECT_EQ(code, 0) << out;
  out = Shell(bin + at + "gc --undelete-window 0s --json 2>&1", &code);
  EXPECT_EQ(code, 0) << out;
  out = Shell(bin + " umount " + mnt_ + " 2>&1", &code);
  ASSERT_EQ(code, 0) << out;

  ASSERT_OK_AND_ASSIGN(store_, Store::Open(store, OpenMode::kReadWrite));
  ExpectRefsConsistent(store_.get());
  ExpectPacksExact(store_.get());
  snapshot::Repo repo(store_.get());
  uint64_t dead = 0, blobs = 0;
  ASSERT_OK_AND_ASSIGN(auto packs, store_->chunks().ListPacks());
  for (const auto& [id, p] : packs) {
    dead += p.dead_bytes;
    blobs += p.blob_bytes();
  }
  EXPECT_LE(dead * 2, blobs) << "dead bytes above the 50% repack threshold";
  for (const char* user : {"alice", "bob"}) {
    ASSERT_OK_AND_ASSIGN(auto snaps, repo.ListSnapshots(user));
    EXPECT_EQ(snaps.size(), 2u) << "prune kept the last two";
    for (const auto& snap : snaps) {
      ASSERT_OK_AND_ASSIGN(auto node, repo.GetTreeNode(snap.root));
      for (const auto& e : node.entries) {
        ASSERT_OK_AND_ASSIGN(std::string got, ReadSnapshotFile(store_.get(), snap, e.name));
        EXPECT_TRUE(got == RaceFileBytes(RaceFileSeed(e.name))) << user << "/" << snap.name << "/" << e.name;
        ASSERT_OK_AND_ASSIGN(auto record, repo.GetContentRecord(e.ref));
        EXPECT_EQ(record.is_alias(), std::string(user) == "bob")
            << "the sharing pass left bob's dense " << e.name << " stored twice";
      }
    }
  }
  store_.reset();
  out = Shell(bin + at + "check --verify-data 2>&1", &code);
  EXPECT_EQ(code, 0) << out;
  out = Shell(bin + at + "audit --dry-run 2>&1", &code);
  EXPECT_EQ(code, 0) << out;
}

TEST_F(MountTest, BinaryMountsInTheBackgroundAndUnmountsCleanly) {
  KEEPFS_REQUIRE_FUSE_OR_SKIP();
  std::string src = tmp_.Join("src");
  ASSERT_OK(MakeDirs(src));
  ASSERT_OK(WriteFile(src + "/hello", "hello\n"));
  Backup("alice", src, kTime);
  std::string out;
  const std::string store = MountWithBinary(&out);
  ASSERT_FALSE(HasFailure());
  const std::string bin = KEEPFS_BINARY;
  int code = 0;
  EXPECT_NE(out.find("keepfs umount"), std::string::npos) << "says how to unmount: " << out;
  EXPECT_EQ(Slurp(mnt_ + "/alice/latest/hello"), "hello\n");
  out = Shell(bin + " --store " + store + " mount " + mnt_ + " 2>&1", &code);
  EXPECT_NE(code, 0) << "a second mount of the same store is refused: " << out;
  EXPECT_NE(out.find("in use"), std::string::npos) << out;
  // One writer: while mounted, other commands run inside the mount process.
  out = Shell(bin + " --store " + store + " snapshots --user alice 2>&1", &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("2026-10-01_030000"), std::string::npos) << out;
  ASSERT_OK(WriteFile(src + "/second", "2"));
  out = Shell("cd " + tmp_.path() + " && " + bin + " --store " + store +
                  " backup --user alice --time 2026-10-02T03:00:00Z src 2>&1",
              &code);
  EXPECT_EQ(code, 0) << "a relative SOURCE is the client's: " << out;
  EXPECT_EQ(Slurp(mnt_ + "/alice/latest/second"), "2") << "the forwarded backup is visible";
  out = Shell(bin + " --store " + store + " snapshots --user nobody 2>&1", &code);
  EXPECT_EQ(WEXITSTATUS(code), 1) << "errors and exit codes come back: " << out;
  EXPECT_NE(out.find("nobody"), std::string::npos) << out;
  if (::geteuid() == 0) {
    out = Shell("setpriv --reuid=2001 --regid=2001 --clear-groups " + bin + " --store " + store +
                    " snapshots 2>&1",
                &code);
    EXPECT_NE(code, 0);
    EXPECT_NE(out.find("only root"), std::string::npos) << "[" << out << "]";
  }
  // Ctrl-C in the client cancels the forwarded backup cleanly: no snapshot.
  std::string big = tmp_.Join("big");
  WriteRandomFiles(big, 400, 900);
  pid_t pid = SpawnQuiet({bin, "--store", store, "-q", "backup", "--user", "dave", big});
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  ::kill(pid, SIGINT);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    // The interrupt came after the backup's last look before its commit:
    // it committed and says so (130 would be a lie).
    std::printf("note: the backup finished before the interrupt arrived\n");
    EXPECT_TRUE(std::filesystem::exists(mnt_ + "/dave/latest")) << "exit 0 means committed";
  } else {
    // 130: the server stopped the backup and said so. Killed by SIGINT: the
    // client had not sent its request yet (SIGINT is held back from the
    // request until the handler that forwards it is in place).
    EXPECT_TRUE((WIFEXITED(status) && WEXITSTATUS(status) == 130) ||
                (WIFSIGNALED(status) && WTERMSIG(status) == SIGINT))
        << "status " << status;
    EXPECT_FALSE(std::filesystem::exists(mnt_ + "/dave/latest")) << "nothing committed";
  }
  out = Shell(bin + " --store " + store + " snapshots --user alice 2>&1", &code);
  EXPECT_EQ(code, 0) << "the mount keeps serving commands: " << out;

  out = Shell(bin + " umount " + mnt_ + " 2>&1", &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_FALSE(std::filesystem::exists(mnt_ + "/alice")) << "unmounted";
  EXPECT_FALSE(std::filesystem::exists(store + "/control.sock")) << "socket removed";
  // umount waits for the mount process to close the store.
  ASSERT_OK_AND_ASSIGN(store_, Store::Open(store, OpenMode::kReadWrite));
  out = Shell(bin + " umount " + mnt_ + " 2>&1", &code);
  EXPECT_NE(code, 0) << "not mounted any more: " << out;
}
#endif

}  // namespace
}  // namespace keepfs::testing
