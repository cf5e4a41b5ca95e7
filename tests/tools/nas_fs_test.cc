// The store on the filesystems NAS boxes use: for each of ext4, xfs and
// btrfs, a real filesystem on a loop device holds the spool, the store, a
// store-backup copy and restores, and a NAS day runs on it with the real
// binary: backups of every kind of entry, a change, forget, prune, gc with
// repack, check --verify-data, the FUSE mount compared byte for byte (inode
// numbers the same after a remount), a backup and a store-backup (hard
// links) while mounted, store-restore, and a restore compared with rsync.
// Where a filesystem cannot be made here (not root, no mkfs, no loop
// device), it is skipped with the reason; KEEPFS_REQUIRE_NASFS=1 (.ci/run)
// makes that a failure. docs/nas.md, "Filesystems".
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>
#include <thread>

#include "fs/fuse/fuse_mount.h"
#include "fs/mountinfo.h"
#include "store/file_util.h"
#include "tests/testing/every_kind_tree.h"
#include "tests/testing/loop_fs.h"
#include "tests/testing/mount_util.h"
#include "tests/testing/test_util.h"
#include "tests/tools/cli_test_util.h"

namespace keepfs::testing {
namespace {

constexpr uint64_t kImageBytes = 320ull << 20;  // mkfs.xfs wants 300 MiB at least

// The JSON number after "key": in text, or -1.
long long JsonNumber(const std::string& text, const std::string& key) {
  size_t at = text.find("\"" + key + "\":");
  return at == std::string::npos ? -1 : std::atoll(text.c_str() + at + key.size() + 3);
}

class NasFsTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    ASSERT_EQ(::chmod(tmp_.path().c_str(), 0755), 0);
    std::string why = fs_.Make(GetParam(), tmp_.path(), kImageBytes);
    if (!why.empty()) {
      const char* req = std::getenv("KEEPFS_REQUIRE_NASFS");
      if (req && std::string(req) == "1") FAIL() << GetParam() << " is required here: " << why;
      GTEST_SKIP() << GetParam() << " skipped: " << why;
    }
    const std::string fuse = FuseUnavailable();
    if (!fuse.empty()) GTEST_SKIP() << "no FUSE: " << fuse;
    int code = 0;
    Shell("command -v rsync setfacl >/dev/null", &code);
    if (code != 0) GTEST_SKIP() << "needs rsync and setfacl (apt-get install rsync acl)";
    root_ = fs_.mountpoint();
    store_ = root_ + "/store";
    src_ = root_ + "/spool/alice";
    mnt_ = tmp_.Join("mnt");
    ASSERT_OK(MakeDirs(mnt_));
  }
  void TearDown() override {
    // A failed step may leave the mount running; the loop filesystem
    // cannot be unmounted while the daemon has the store open.
    if (mount_pid_ > 0) {
      (void)fs::Unmount(mnt_, /*lazy=*/true);
      if (::kill(mount_pid_, SIGTERM) == 0) {
        WaitFor([&] { return ::kill(mount_pid_, 0) != 0; }, std::chrono::seconds(10));
        ::kill(mount_pid_, SIGKILL);
      }
    }
    fs_.Unmount();
    if (HasFailure() && !root_.empty()) {
      std::cerr << "the store is on " << root_ << ".img: mount -o loop " << root_ << ".img DIR\n";
    }
  }

  void Cli(const std::vector<std::string>& args, std::string* out = nullptr) {
    CliRun r = RunCli(args);
    ASSERT_EQ(r.code, 0) << args[0] << ": " << r.out << r.err;
    if (out) *out = r.out;
  }
  // keepfs mount in the background, as a NAS runs it.
  void Mount() {
    int code = 0;
    std::string out = Shell(std::string(KEEPFS_BINARY) + " --store " + store_ + " mount " + mnt_ +
                                " 2>&1",
                            &code);
    ASSERT_EQ(code, 0) << out;
    size_t pid = out.find("(pid ");
    ASSERT_NE(pid, std::string::npos) << out;
    mount_pid_ = std::atoi(out.c_str() + pid + 5);
  }
  void Umount() {
    int code = 0;
    std::string out = Shell(std::string(KEEPFS_BINARY) + " umount " + mnt_ + " 2>&1", &code);
    ASSERT_EQ(code, 0) << out;
    mount_pid_ = -1;
  }
  // rsync's itemized differences between two trees (content by checksum,
  // modes, owners, times, hard links, ACLs, xattrs); empty when identical.
  // The 1 GiB sparse file and the path beyond PATH_MAX are checked apart.
  std::string Differences(const std::string& a, const std::string& b) {
    int code = 0;
    std::string out = Shell("rsync -aHAXn --numeric-ids --checksum --itemize-changes "
                            "--exclude=/deep --exclude=/sparse " + a + "/ " + b + "/ 2>&1",
                            &code);
    return code == 0 ? out : "rsync failed: " + out;
  }
  void ExpectSparseAndDeep(const std::string& tree) {
    struct stat st;
    ASSERT_EQ(::stat((tree + "/sparse").c_str(), &st), 0) << tree;
    EXPECT_EQ(st.st_size, 1ll << 30) << tree;
    EXPECT_LT(st.st_blocks * 512, 1ll << 20) << tree << ": the holes are holes";
    // The data where it was, found by SEEK_DATA (the file is 1 GiB of holes).
    UniqueFd fd(::open((tree + "/sparse").c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(fd.valid()) << tree;
    const off_t data = ::lseek(fd.get(), 0, SEEK_DATA);
    EXPECT_GT(data, 0) << tree;
    EXPECT_LE(data, 512 << 20) << tree;
    std::string bytes(8192, '\0');
    ASSERT_EQ(::pread(fd.get(), bytes.data(), bytes.size(), 512 << 20), 8192) << tree;
    EXPECT_TRUE(bytes == RandomBytes(8192, 3)) << tree;
    EXPECT_EQ(ReadDeepFile(tree), "deep") << tree;
  }
  // What the mount shows of one snapshot: every path's inode number.
  std::map<std::string, ino_t> Inodes(const std::string& dir) {
    std::map<std::string, ino_t> out;
    for (const char* p : {"", "/small.txt", "/medium.bin", "/hardlink2", "/emptydir", "/large.bin"}) {
      struct stat st;
      EXPECT_EQ(::lstat((dir + p).c_str(), &st), 0) << dir + p;
      out[p] = st.st_ino;
    }
    return out;
  }

  TempDir tmp_;
  LoopFs fs_;
  std::string root_, store_, src_, mnt_;
  pid_t mount_pid_ = -1;
};

TEST_P(NasFsTest, ANasDayOnTheFilesystem) {
  // The spool: every kind of entry Linux has, plus data that changes.
  ASSERT_OK(MakeDirs(root_ + "/spool"));
  BuildEveryKindTree(src_);
  if (HasFatalFailure()) return;
  ASSERT_OK(MakeDirs(src_ + "/photos"));
  ASSERT_OK(WriteFile(src_ + "/photos/trip.bin", RandomBytes(12 << 20, 11)));
  ASSERT_OK(WriteFile(src_ + "/report.txt", "first draft\n"));
  Cli({"init", "--store", store_, "-q"});
  // A small disk: let gc repack below its default 1 GiB of free space.
  std::string config = *ReadFile(store_ + "/config.toml");
  ASSERT_OK(WriteFile(store_ + "/config.toml", config + "\n[gc]\nmin_free = \"1MiB\"\n"));
  Cli({"backup", "--store", store_, "--user", "alice", "--time", "2026-10-01T03:00:00Z", "-q", src_});

  // The night after: a file changes, the big one goes, one is added.
  ASSERT_OK(WriteFile(src_ + "/report.txt", "second draft, longer\n"));
  ASSERT_EQ(::unlink((src_ + "/photos/trip.bin").c_str()), 0);
  ASSERT_OK(WriteFile(src_ + "/photos/new.bin", RandomBytes(1 << 20, 12)));
  Cli({"backup", "--store", store_, "--user", "alice", "--time", "2026-10-02T03:00:00Z", "-q", src_});
  Cli({"backup", "--store", store_, "--user", "alice", "--time", "2026-10-03T03:00:00Z", "-q", src_});
  // Forget the first, prune to the last one, and reclaim: trip.bin's chunks go.
  Cli({"forget", "--store", store_, "--user", "alice", "2026-10-01_030000"});
  Cli({"prune", "--store", store_, "--user", "alice", "--keep-last", "1", "--keep-within", "0d",
       "--keep-monthly", "0", "--now", "2026-10-04T00:00:00Z"});
  std::string gc;
  Cli({"gc", "--store", store_, "--undelete-window", "0s", "--json"}, &gc);
  EXPECT_GT(JsonNumber(gc, "chunks"), 0) << gc;
  EXPECT_GT(JsonNumber(gc, "bytes_freed"), 10ll << 20) << "trip.bin's pack space: " << gc;
  std::string check;
  Cli({"check", "--store", store_, "--verify-data"}, &check);
  EXPECT_NE(check.find("0 problems"), std::string::npos) << check;
  std::string snaps;
  Cli({"snapshots", "--store", store_, "--user", "alice", "--json"}, &snaps);
  EXPECT_EQ(snaps.find("2026-10-02_030000"), std::string::npos) << "pruned: " << snaps;

  // The mount: byte for byte the source, the same inodes after a remount.
  Mount();
  if (HasFatalFailure()) return;
  const std::string latest = mnt_ + "/alice/latest";
  EXPECT_EQ(Differences(src_, latest), "") << "through the mount";
  ExpectSparseAndDeep(latest);
  const auto inodes = Inodes(latest + "/");
  EXPECT_EQ(inodes.at("/medium.bin"), inodes.at("/hardlink2"));
  // A night's backup and the store's own backup while mounted (both run in
  // the mount process); the copy's packs are hard links on this filesystem.
  ASSERT_OK(WriteFile(src_ + "/report.txt", "final\n"));
  Cli({"backup", "--store", store_, "--user", "alice", "--time", "2026-10-04T03:00:00Z", "-q", src_});
  EXPECT_EQ(*ReadFile(latest + "/report.txt"), "final\n");
  std::string copy;
  Cli({"store-backup", "--store", store_, root_ + "/copy", "--json"}, &copy);
  EXPECT_GT(JsonNumber(copy, "packs_linked"), 0) << copy;
  EXPECT_EQ(JsonNumber(copy, "packs_linked"), JsonNumber(copy, "packs")) << copy;
  Umount();
  if (HasFatalFailure()) return;
  Mount();
  if (HasFatalFailure()) return;
  EXPECT_EQ(Inodes(mnt_ + "/alice/2026-10-03_030000/"), inodes) << "inode numbers after a remount";
  Umount();
  if (HasFatalFailure()) return;

  // The copy verifies and restores into a store that checks clean.
  Cli({"store-backup", "--verify", root_ + "/copy"});
  Cli({"store-restore", root_ + "/copy", root_ + "/restored"});
  Cli({"check", "--store", root_ + "/restored", "--verify-data"});
  // A restore onto the same filesystem carries everything.
  const std::string dest = root_ + "/restore";
  Cli({"restore", "--store", store_, "--user", "alice", "latest", dest, "-q"});
  EXPECT_EQ(Differences(src_, dest), "") << "restored";
  ExpectSparseAndDeep(dest);
  struct stat a, b;
  ASSERT_EQ(::stat((dest + "/medium.bin").c_str(), &a), 0);
  ASSERT_EQ(::stat((dest + "/hardlink2").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
}

INSTANTIATE_TEST_SUITE_P(Filesystems, NasFsTest, ::testing::Values("ext4", "xfs", "btrfs"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace keepfs::testing
