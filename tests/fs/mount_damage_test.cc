// The damage matrix through a live mount (docs/integrity.md, "Repair").
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "gc/repair.h"
#include "snapshot/accounting.h"
#include "snapshot/catalog.h"
#include "snapshot/check.h"
#include "snapshot/repo.h"
#include "store/file_util.h"
#include "store/pack.h"
#include "store/store_backup.h"
#include "tests/testing/backup_util.h"
#include "tests/testing/check_util.h"
#include "tests/testing/damage_util.h"
#include "tests/testing/mount_fixture.h"
#include "tests/testing/test_util.h"

namespace keepfs::testing {
namespace {

constexpr int64_t kTime = 1790823600;  // 2026-10-01T03:00:00Z

// The damage matrix through the mount: for each kind of damage, the paths
// check names are exactly the files that read EIO (the others read back
// byte-identical), and a repair from a store-backup copy, run beside the
// live mount, makes check clean and every file readable again.
class MountDamageTest : public MountFixture, public ::testing::WithParamInterface<std::string> {};

// Reads a file through the mount: its bytes, or the errno of open or read.
std::pair<std::string, int> ReadThroughMount(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return {"", errno};
  std::string got;
  std::vector<char> buf(1 << 16);
  ssize_t n;
  while ((n = ::read(fd, buf.data(), buf.size())) > 0) got.append(buf.data(), static_cast<size_t>(n));
  const int err = n < 0 ? errno : 0;
  ::close(fd);
  return {got, err};
}

TEST_P(MountDamageTest, ExactlyTheFilesCheckNamesAreEioUntilRepairMendsThem) {
  KEEPFS_REQUIRE_FUSE_OR_SKIP();
  const std::string damage = GetParam();
  std::string src = tmp_.Join("src");
  ASSERT_OK(MakeDirs(src + "/d"));
  std::map<std::string, std::string> files;
  // Two backups, so that the second one's files are in a pack of their own.
  for (int i = 0; i < 6; ++i) {
    std::string rel = (i % 2 ? "d/f" : "f") + std::to_string(i);
    files[rel] = RandomBytes(300000 + i, 60 + i);
    ASSERT_OK(WriteFile(src + "/" + rel, files[rel]));
    if (i == 2) Backup("alice", src, kTime - 86400);
  }
  auto snap = Backup("alice", src, kTime);
  const std::string copy = tmp_.Join("copy");
  StoreBackupOptions bo;
  bo.dest = copy;
  ASSERT_OK(BackupStore(store_.get(), bo));
  ASSERT_OK(UnshareFiles(copy + "/packs"));  // a copy on another disk

  snapshot::Repo repo(store_.get());
  auto chunk_of = [&](const std::string& rel) {
    return LocationOf(store_.get(), FirstChunkOf(store_.get(), ContentOfFile(store_.get(), snap, rel)));
  };
  const ChunkLoc f3 = chunk_of("d/f3");
  const std::string pack = store_->dir() + "/" + PackRelPath(f3.pack_id);
  if (damage == "flipped byte") {
    ASSERT_OK(FlipByte(pack, f3.offset + 11));
  } else if (damage == "deleted pack") {
    ASSERT_EQ(::unlink(pack.c_str()), 0);
  } else if (damage == "truncated pack") {
    ASSERT_EQ(::truncate(pack.c_str(), static_cast<off_t>(f3.offset + 10)), 0);
  } else if (damage == "missing tree node") {
    auto e = repo.ResolvePath(snap, "d");
    ASSERT_OK(e);
    WriteBatch b;
    b.Delete(snapshot::TreeKey(e->ref));
    ASSERT_OK(store_->kv().Write(b, true));
  } else if (damage == "corrupt RocksDB value") {
    auto e = repo.ResolvePath(snap, "d/f5");
    ASSERT_OK(e);
    std::string v;
    ASSERT_OK_AND_ASSIGN(bool found, store_->kv().Get(snapshot::ContentKey(e->ref), &v));
    ASSERT_TRUE(found);
    v[v.size() / 2] ^= 0x40;
    WriteBatch b;
    b.Put(snapshot::ContentKey(e->ref), v);
    ASSERT_OK(store_->kv().Write(b, true));
  }
  std::set<std::string> named;
  snapshot::CheckOptions o;
  o.verify_data = true;
  ASSERT_OK(snapshot::CheckStore(store_.get(), o, [&](const snapshot::CheckedObject& obj) {
    for (const auto& a : obj.affects) {
      if (a.snapshot == snap.name) named.insert(a.path);
    }
  }).status());
  EXPECT_FALSE(named.empty());
  EXPECT_LT(named.size(), files.size());
  if (damage == "flipped byte") { EXPECT_EQ(named, std::set<std::string>({"d/f3"})); }
  if (damage == "deleted pack") { EXPECT_EQ(named, std::set<std::string>({"d/f3", "f4", "d/f5"})); }
  if (damage == "corrupt RocksDB value") { EXPECT_EQ(named, std::set<std::string>({"d/f5"})); }
  if (damage == "missing tree node") { EXPECT_EQ(named, std::set<std::string>({"d"})); }
  // A named folder is lost with everything in it: never listed as empty or partial.
  auto hurt = [&](const std::string& rel) {
    return named.count(rel) || (rel.rfind("d/", 0) == 0 && named.count("d"));
  };

  ASSERT_OK(mount_.Start(store_.get(), mnt_));
  if (named.count("d")) {
    DIR* dir = ::opendir((mnt_ + "/alice/latest/d").c_str());
    int err = errno;
    if (dir) {
      errno = 0;
      while (::readdir(dir)) {
      }
      err = errno;
      ::closedir(dir);
    }
    EXPECT_EQ(err, EIO) << "a lost folder lists as an error, not as empty";
  }
  for (const auto& [rel, bytes] : files) {
    auto [got, err] = ReadThroughMount(mnt_ + "/alice/latest/" + rel);
    if (hurt(rel)) {
      EXPECT_EQ(err, EIO) << damage << ": " << rel;
    } else {
      EXPECT_EQ(err, 0) << damage << ": " << rel << ": " << std::strerror(err);
      EXPECT_TRUE(got == bytes) << damage << ": " << rel;
    }
  }

  gc::RepairOptions ro;
  ro.mirrors = {copy};
  ASSERT_OK_AND_ASSIGN(gc::RepairSummary r, gc::RepairStore(store_.get(), ro, [](const gc::RepairedObject&) {}));
  EXPECT_TRUE(r.clean()) << damage << ": " << r.unrepaired << " left";
  ExpectCheckClean(store_.get());
  for (const auto& [rel, bytes] : files) {
    auto [got, err] = ReadThroughMount(mnt_ + "/alice/latest/" + rel);
    EXPECT_EQ(err, 0) << damage << ": " << rel << " after repair: " << std::strerror(err);
    EXPECT_TRUE(got == bytes) << damage << ": " << rel << " after repair";
  }
}

INSTANTIATE_TEST_SUITE_P(Damage, MountDamageTest,
                         ::testing::Values("flipped byte", "deleted pack", "truncated pack",
                                           "corrupt RocksDB value", "missing tree node"),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           std::string n;
                           for (char c : p.param) {
                             if (std::isalnum(static_cast<unsigned char>(c))) n += c;
                           }
                           return n;
                         });

}  // namespace
}  // namespace keepfs::testing
