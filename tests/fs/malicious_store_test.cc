// A malicious store: trees written with names restore must never create
// ("../escape", "a/b") and folder sizes that would wrap the mount's inode
// ordinals, reached from snapshot records written directly (as whoever holds
// the disk could). Restore writes nothing outside DEST; the mount's View
// answers errors for the crafted folders, never shows the names, and keeps
// serving everything else; check exits with problems.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <set>
#include <string>

#include "fs/view.h"
#include "snapshot/catalog.h"
#include "snapshot/repo.h"
#include "snapshot/restore.h"
#include "snapshot/snapshot_record.h"
#include "snapshot/tree.h"
#include "snapshot/users.h"
#include "store/coding.h"
#include "store/file_util.h"
#include "store/kv_store.h"
#include "tests/testing/backup_util.h"
#include "tests/testing/test_util.h"

namespace keepfs::fs {
namespace {

using snapshot::Entry;
using snapshot::EntryType;
namespace stdfs = std::filesystem;

constexpr int64_t kDay1 = 1790823600;  // 2026-10-01T03:00:00Z
const Caller kRoot{0, 0, nullptr};

class MaliciousStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(store_, testing::InitAndOpen(tmp_.Join("store")));
    src_ = tmp_.Join("src");
    ASSERT_OK(MakeDirs(src_ + "/evil"));
    ASSERT_OK(testing::WriteFile(src_ + "/ok.txt", "fine"));
    ASSERT_OK(testing::WriteFile(src_ + "/evil/inner.txt", "payload"));
    honest_ = testing::BackupOrFail(store_.get(), "alice", src_, kDay1);
    snapshot::Repo repo(store_.get());
    ASSERT_OK_AND_ASSIGN(ok_, repo.ResolvePath(honest_, "ok.txt"));
    ASSERT_OK_AND_ASSIGN(inner_, repo.ResolvePath(honest_, "evil/inner.txt"));
  }

  // Stores node's encoding under its id, unchecked, and returns the id.
  ObjectId PutRawTree(const snapshot::TreeNode& node) {
    std::string bytes = snapshot::EncodeTreeNode(node);
    ObjectId id = Sha256::Of(bytes);
    WriteBatch b;
    b.Put(snapshot::TreeKey(id), bytes);
    EXPECT_OK(store_->kv().Write(b, true));
    return id;
  }
  // A snapshot record of alice at time t whose root is root.
  snapshot::SnapshotRecord PutSnapshot(const ObjectId& root, int64_t t) {
    snapshot::SnapshotRecord rec = honest_;
    rec.time_sec = t;
    rec.seq = 0;
    rec.name = snapshot::FormatSnapshotName(t, 0);
    rec.root = root;
    auto number = store_->AllocateNumber();
    EXPECT_OK(number.status());
    rec.number = number.ok() ? *number : 0;
    WriteBatch b;
    b.Put(snapshot::SnapshotKey("alice", rec.name), snapshot::EncodeSnapshotRecord(rec));
    EXPECT_OK(store_->kv().Write(b, true));
    store_->SnapshotChanged("alice", rec.name);
    return rec;
  }
  Entry Dir(std::string name, const ObjectId& ref, uint64_t below) {
    Entry e;
    e.name = std::move(name);
    e.type = EntryType::kDir;
    e.mode = 0755;
    e.ref = ref;
    e.size = below;
    return e;
  }
  // Every path below dir, relative.
  static std::set<std::string> Tree(const std::string& dir) {
    std::set<std::string> out;
    for (const auto& e : stdfs::recursive_directory_iterator(dir)) {
      out.insert(stdfs::relative(e.path(), dir).string());
    }
    return out;
  }

  testing::TempDir tmp_;
  std::unique_ptr<Store> store_;
  std::string src_;
  snapshot::SnapshotRecord honest_;
  Entry ok_, inner_;
};

TEST_F(MaliciousStoreTest, UnsafeNamesNeverLeaveDestNorShowInTheMount) {
  // evil/ holds "../escape" and "a/b" (both the honest file's content); the
  // root is otherwise honest.
  snapshot::TreeNode bad;
  for (const char* name : {"../escape", "a/b"}) {
    Entry e = inner_;
    e.name = name;
    bad.entries.push_back(e);
  }
  ObjectId bad_id = PutRawTree(bad);
  snapshot::TreeNode root;
  root.entries = {Dir("evil", bad_id, 2), ok_};
  auto snap = PutSnapshot(PutRawTree(root), kDay1 + 86400);

  // Restore: ok.txt arrives, evil/ is an error, nothing lands outside DEST.
  const std::string outside = tmp_.Join("restore-area");
  const std::string dest = outside + "/dest";
  ASSERT_OK(MakeDirs(outside));
  snapshot::Repo repo(store_.get());
  auto r = snapshot::Restore(repo, snap, "", dest, snapshot::RestoreOptions(), nullptr);
  if (r.ok()) {
    EXPECT_FALSE(r->errors.empty()) << "the crafted folder must be reported";
  }
  std::set<std::string> around = Tree(outside);
  for (const std::string& p : around) {
    EXPECT_TRUE(p == "dest" || p.starts_with("dest/")) << "restore wrote outside DEST: " << p;
    EXPECT_EQ(p.find("escape"), std::string::npos) << p;
  }
  ASSERT_OK_AND_ASSIGN(std::string ok_bytes, ReadSmallFile(dest + "/ok.txt"));
  EXPECT_EQ(ok_bytes, "fine");

  // The View: the root lists; the crafted folder is an error, not its names;
  // everything else keeps answering.
  View view(store_.get());
  ASSERT_OK_AND_ASSIGN(EntryOut user, view.Lookup(kRoot, View::kRootIno, "alice"));
  ASSERT_OK_AND_ASSIGN(EntryOut root_dir, view.Lookup(kRoot, user.attr.ino, snap.name));
  ASSERT_OK_AND_ASSIGN(EntryOut evil, view.Lookup(kRoot, root_dir.attr.ino, "evil"));
  auto handle = view.OpenDir(kRoot, evil.attr.ino);
  if (handle.ok()) {
    std::vector<std::string> names;
    Status s = view.ReadDir(*handle, 0, false, [&](std::string_view n, const EntryOut&, uint64_t) {
      names.emplace_back(n);
      return true;
    });
    view.ReleaseDir(*handle);
    EXPECT_FALSE(s.ok()) << "listing the crafted folder must fail";
    for (const std::string& n : names) EXPECT_TRUE(n == "." || n == "..") << n;
  }
  EXPECT_FALSE(view.Lookup(kRoot, evil.attr.ino, "inner.txt").ok());
  ASSERT_OK_AND_ASSIGN(EntryOut ok, view.Lookup(kRoot, root_dir.attr.ino, "ok.txt"));
  EXPECT_EQ(ok.attr.size, 4u);
  // The honest snapshot is untouched.
  ASSERT_OK_AND_ASSIGN(EntryOut day1, view.Lookup(kRoot, user.attr.ino, honest_.name));
  ASSERT_OK_AND_ASSIGN(EntryOut honest_evil, view.Lookup(kRoot, day1.attr.ino, "evil"));
  EXPECT_OK(view.Lookup(kRoot, honest_evil.attr.ino, "inner.txt").status());
}

TEST_F(MaliciousStoreTest, AbsurdFolderSizesAreErrorsNotWrappedInodes) {
  // A root whose folder claims 2^64 - 1 entries below it: 1 + size wraps.
  snapshot::TreeNode root;
  root.entries = {Dir("evil", honest_.root, ~uint64_t{0}), ok_};
  auto snap = PutSnapshot(PutRawTree(root), kDay1 + 2 * 86400);
  const std::string dest = tmp_.Join("dest");
  snapshot::Repo repo(store_.get());
  auto r = snapshot::Restore(repo, snap, "", dest, snapshot::RestoreOptions(), nullptr);
  EXPECT_TRUE(!r.ok() || !r->errors.empty());
  View view(store_.get());
  ASSERT_OK_AND_ASSIGN(EntryOut user, view.Lookup(kRoot, View::kRootIno, "alice"));
  ASSERT_OK_AND_ASSIGN(EntryOut root_dir, view.Lookup(kRoot, user.attr.ino, snap.name));
  EXPECT_FALSE(view.Lookup(kRoot, root_dir.attr.ino, "ok.txt").ok())
      << "the damaged root gives no inode numbers at all";
  EXPECT_FALSE(view.Lookup(kRoot, root_dir.attr.ino, "evil").ok());
  ASSERT_OK_AND_ASSIGN(EntryOut day1, view.Lookup(kRoot, user.attr.ino, honest_.name));
  EXPECT_OK(view.Lookup(kRoot, day1.attr.ino, "ok.txt").status()) << "the honest snapshot serves";
}

}  // namespace
}  // namespace keepfs::fs
