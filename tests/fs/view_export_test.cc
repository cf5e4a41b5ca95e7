// NFS export without the kernel: a node id the kernel (or the daemon) forgot
// is found again by a lookup of "." with the same attributes and bytes, ".."
// climbs to the root, and what is gone answers ESTALE (fs/view_export.h).
#include "fs/view_export.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <set>

#include "fs/inode.h"
#include "fs/view.h"
#include "gc/pins.h"
#include "gc/prune.h"
#include "snapshot/repo.h"
#include "store/file_util.h"
#include "tests/testing/backup_util.h"
#include "tests/testing/test_util.h"

namespace keepfs::fs {
namespace {

constexpr int64_t kTime = 1790823600;  // 2026-10-01T03:00:00Z
constexpr uint32_t kAlice = 2001, kBob = 2002;
constexpr int kManyFiles = 3000;  // more than one leaf page (snapshot/tree.cc)

Caller As(uint32_t uid) { return Caller{uid, uid, nullptr}; }
const Caller kRoot = As(0);

// What a path shows through a View: attributes, and the bytes of a file, the
// target of a link or the names of a folder.
struct Seen {
  Attr attr;
  std::string content;
  uint64_t ordinal = 0;  // its place in the depth-first walk (fs/inode.h)
};

bool SameAttr(const Attr& a, const Attr& b) {
  return a.ino == b.ino && a.mode == b.mode && a.nlink == b.nlink && a.uid == b.uid &&
         a.gid == b.gid && a.rdev == b.rdev && a.size == b.size && a.blocks == b.blocks &&
         a.mtime_sec == b.mtime_sec && a.mtime_nsec == b.mtime_nsec;
}

class ViewExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = tmp_.Join("src");
    ASSERT_OK(MakeDirs(src_ + "/docs/deep/deeper"));
    ASSERT_OK(MakeDirs(src_ + "/many/m1500-sub"));
    ASSERT_OK(testing::WriteFile(src_ + "/docs/report.txt", "quarterly report\n", 0640));
    ASSERT_OK(testing::WriteFile(src_ + "/docs/deep/big.bin", testing::RandomBytes(3 << 20, 1)));
    ASSERT_OK(testing::WriteFile(src_ + "/docs/deep/deeper/leaf.txt", "at the bottom\n"));
    ASSERT_OK(testing::WriteFile(src_ + "/z.txt", "linked"));
    ASSERT_EQ(::link((src_ + "/z.txt").c_str(), (src_ + "/docs/z-link").c_str()), 0);
    ASSERT_OK(testing::WriteFile(src_ + "/many/a.txt", "first"));
    ASSERT_EQ(::link((src_ + "/many/a.txt").c_str(), (src_ + "/many/b-link").c_str()), 0);
    ASSERT_EQ(::symlink("docs/report.txt", (src_ + "/to-report").c_str()), 0);
    for (int i = 0; i < kManyFiles; ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "/many/m%04d", i);
      ASSERT_OK(testing::WriteFile(src_ + name, std::to_string(i)));
    }
    ASSERT_OK(testing::WriteFile(src_ + "/many/m1500-sub/inside.txt", "in the middle"));
    ASSERT_OK_AND_ASSIGN(store_, testing::InitAndOpen(tmp_.Join("store")));
    ASSERT_OK(store_->SetUser("alice", {kAlice, kAlice}));
    ASSERT_OK(store_->SetUser("bob", {kBob, kBob}));
    snap_ = testing::BackupOrFail(store_.get(), "alice", src_, kTime);
    testing::BackupOrFail(store_.get(), "bob", src_, kTime);
    view_ = std::make_unique<View>(store_.get());
  }

  // Every node below dir (as "path") as alice sees it through view: looked
  // up by name, with its bytes, link target or listing, and its ordinal.
  void Walk(View& view, uint64_t dir, const std::string& path, uint64_t* ordinal,
            std::map<std::string, Seen>* out) {
    std::vector<std::string> names;
    auto h = view.OpenDir(As(kAlice), dir);
    ASSERT_OK(h);
    ASSERT_OK(view.ReadDir(*h, 0, false, [&](std::string_view name, const EntryOut&, uint64_t) {
      if (name != "." && name != "..") names.emplace_back(name);
      return true;
    }));
    view.ReleaseDir(*h);
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
      ASSERT_OK_AND_ASSIGN(EntryOut e, view.Lookup(As(kAlice), dir, name));
      Seen s{e.attr, Content(view, e.attr), ++*ordinal};
      const std::string p = path + "/" + name;
      (*out)[p] = s;
      if (S_ISDIR(e.attr.mode)) Walk(view, e.attr.ino, p, ordinal, out);
    }
  }

  std::string Content(View& view, const Attr& a) {
    std::string all;
    if (S_ISLNK(a.mode)) {
      auto t = view.ReadLink(As(kAlice), a.ino);
      EXPECT_OK(t);
      return t.ok() ? *t : "";
    }
    if (S_ISDIR(a.mode)) {
      auto h = view.OpenDir(As(kAlice), a.ino);
      EXPECT_OK(h);
      if (!h.ok()) return "";
      EXPECT_OK(view.ReadDir(*h, 0, false, [&](std::string_view name, const EntryOut& e,
                                                uint64_t) {
        if (name != "..") all += std::string(name) + "=" + std::to_string(e.attr.ino) + "\n";
        return true;
      }));
      view.ReleaseDir(*h);
      return all;
    }
    auto h = view.Open(As(kAlice), a.ino, O_RDONLY);
    EXPECT_OK(h);
    if (!h.ok()) return "";
    std::string part;
    for (uint64_t off = 0;; off += part.size()) {
      Status s = view.Read(*h, off, 256 * 1024, &part);
      EXPECT_OK(s);
      if (!s.ok() || part.empty()) break;
      all += part;
    }
    view.Release(*h);
    return all;
  }

  // The snapshot folder's ino and everything below it, through view_.
  std::map<std::string, Seen> WalkSnapshot(uint64_t* root_ino) {
    std::map<std::string, Seen> seen;
    auto user = view_->Lookup(As(kAlice), View::kRootIno, "alice");
    EXPECT_OK(user);
    auto root = view_->Lookup(As(kAlice), user->attr.ino, snap_.name);
    EXPECT_OK(root);
    *root_ino = root->attr.ino;
    seen_root_listing_ = Content(*view_, root->attr);
    uint64_t ordinal = 0;
    Walk(*view_, root->attr.ino, "", &ordinal, &seen);
    return seen;
  }

  // The ino of a path from the mount's root, through view_ as alice.
  Result<uint64_t> PathIno(const std::string& path) {
    uint64_t ino = View::kRootIno;
    size_t pos = 0;
    while (pos < path.size()) {
      size_t slash = path.find('/', pos);
      if (slash == std::string::npos) slash = path.size();
      KEEPFS_ASSIGN_OR_RETURN(EntryOut e,
                              view_->Lookup(As(kAlice), ino, path.substr(pos, slash - pos)));
      ino = e.attr.ino;
      pos = slash + 1;
    }
    return ino;
  }

  testing::TempDir tmp_;
  std::string src_;
  std::string seen_root_listing_;
  std::unique_ptr<Store> store_;
  snapshot::SnapshotRecord snap_;
  std::unique_ptr<View> view_;
};

// After a remount (a new View: nothing known), "." finds every inode of a
// snapshot again, hard links, a big folder's pages and all: same
// attributes, same bytes, link targets and listings.
TEST_F(ViewExportTest, EveryInodeOfASnapshotIsFoundAgainByDotAfterARemount) {
  uint64_t root_ino = 0;
  std::map<std::string, Seen> seen = WalkSnapshot(&root_ino);
  ASSERT_GT(seen.size(), static_cast<size_t>(kManyFiles));
  // many/ must be split into pages, so that ordinals are found through an
  // index node's spans.
  snapshot::Repo repo(store_.get());
  ASSERT_OK_AND_ASSIGN(snapshot::Entry many, repo.ResolvePath(snap_, "many"));
  ASSERT_OK_AND_ASSIGN(snapshot::TreeNode top, repo.GetTreeNode(many.ref));
  ASSERT_FALSE(top.is_leaf);
  ASSERT_GE(top.children.size(), 2u);
  View fresh(store_.get());
  std::set<uint64_t> held;
  for (const auto& [path, s] : seen) {
    if (InoLocal(s.attr.ino) & kLinkFlag) {
      EXPECT_EQ(s.attr.nlink, 2u) << path;
    } else {
      EXPECT_EQ(InoLocal(s.attr.ino), s.ordinal) << path << ": the ino is the walk's ordinal";
    }
    if (held.insert(s.attr.ino).second) {  // the second name of a hard link is held already
      EXPECT_EQ(ErrnoOf(fresh.GetAttr(As(kAlice), s.attr.ino).status()), ESTALE) << path;
    }
    auto again = fresh.Lookup(As(kAlice), s.attr.ino, ".");
    ASSERT_OK(again) << path;
    EXPECT_TRUE(SameAttr(again->attr, s.attr)) << path;
    EXPECT_EQ(again->attr_timeout, 86400) << path;
    EXPECT_TRUE(Content(fresh, again->attr) == s.content) << path;
  }
  // The snapshot folder, the user folder, latest, .keepfs and its files.
  for (std::string path : {"alice", "alice/latest", "alice/.keepfs", "alice/.keepfs/pins.txt"}) {
    ASSERT_OK_AND_ASSIGN(uint64_t ino, PathIno(path));
    auto mine = view_->GetAttr(As(kAlice), ino);
    ASSERT_OK(mine);
    auto again = fresh.Lookup(As(kAlice), ino, ".");
    ASSERT_OK(again) << path;
    EXPECT_EQ(again->attr.ino, ino) << path;
    EXPECT_EQ(again->attr.mode, mine->first.mode) << path;
    EXPECT_EQ(again->attr.uid, kAlice) << path;
  }
  ASSERT_OK_AND_ASSIGN(uint64_t latest, PathIno("alice/latest"));
  auto target = fresh.ReadLink(As(kAlice), latest);
  ASSERT_OK(target);
  EXPECT_EQ(*target, snap_.name);
  auto root = fresh.Lookup(As(kAlice), root_ino, ".");
  ASSERT_OK(root);
  EXPECT_TRUE(S_ISDIR(root->attr.mode));
  EXPECT_TRUE(Content(fresh, root->attr) == seen_root_listing_);
}

// In the same View: the kernel forgets an inode (Forget to zero), the node
// is gone from the table, and "." brings it back as it was.
TEST_F(ViewExportTest, AForgottenNodeIdIsFoundAgainByDot) {
  uint64_t root_ino = 0;
  std::map<std::string, Seen> seen = WalkSnapshot(&root_ino);
  const Seen& big = seen.at("/docs/deep/big.bin");
  view_->Forget(big.attr.ino, 1);
  EXPECT_EQ(ErrnoOf(view_->GetAttr(As(kAlice), big.attr.ino).status()), ESTALE)
      << "forgotten by the daemon too";
  auto again = view_->Lookup(As(kAlice), big.attr.ino, ".");
  ASSERT_OK(again);
  EXPECT_TRUE(SameAttr(again->attr, big.attr));
  EXPECT_TRUE(Content(*view_, again->attr) == testing::RandomBytes(3 << 20, 1));
  auto attr = view_->GetAttr(As(kAlice), big.attr.ino);
  ASSERT_OK(attr) << "held again: one reference";
  view_->Forget(big.attr.ino, 1);
  EXPECT_EQ(ErrnoOf(view_->GetAttr(As(kAlice), big.attr.ino).status()), ESTALE);
}

// ".." from the deepest folder climbs folder by folder to the snapshot
// folder, the user folder and the root (whose parent is itself), in a View
// that knew none of them.
TEST_F(ViewExportTest, DotDotClimbsToTheRootFromAForgottenFolder) {
  uint64_t root_ino = 0;
  std::map<std::string, Seen> seen = WalkSnapshot(&root_ino);
  ASSERT_OK_AND_ASSIGN(uint64_t user, PathIno("alice"));
  const std::vector<uint64_t> chain = {
      seen.at("/docs/deep/deeper").attr.ino, seen.at("/docs/deep").attr.ino,
      seen.at("/docs").attr.ino, root_ino, user, View::kRootIno, View::kRootIno};
  View fresh(store_.get());
  for (size_t i = 0; i + 1 < chain.size(); ++i) {
    auto up = fresh.Lookup(As(kAlice), chain[i], "..");
    ASSERT_OK(up) << i;
    EXPECT_EQ(up->attr.ino, chain[i + 1]) << i;
    EXPECT_TRUE(S_ISDIR(up->attr.mode));
  }
  auto in_many = fresh.Lookup(As(kAlice), seen.at("/many/m1500-sub").attr.ino, "..");
  ASSERT_OK(in_many);
  EXPECT_EQ(in_many->attr.ino, seen.at("/many").attr.ino);
  EXPECT_EQ(ErrnoOf(fresh.Lookup(As(kAlice), seen.at("/z.txt").attr.ino, "..").status()), ENOTDIR);
  // The history views are folders too: ".." of .versions/docs is .versions,
  // and of .versions and .deleted the user folder, in a View that knew them
  // or not.
  ASSERT_OK_AND_ASSIGN(uint64_t versions, PathIno("alice/.versions"));
  ASSERT_OK_AND_ASSIGN(uint64_t versions_docs, PathIno("alice/.versions/docs"));
  ASSERT_OK_AND_ASSIGN(uint64_t deleted, PathIno("alice/.deleted"));
  auto up = view_->Lookup(As(kAlice), versions_docs, "..");
  ASSERT_OK(up);
  EXPECT_EQ(up->attr.ino, versions);
  for (uint64_t view_dir : {versions, deleted}) {
    auto to_user = fresh.Lookup(As(kAlice), view_dir, "..");
    ASSERT_OK(to_user);
    EXPECT_EQ(to_user->attr.ino, user);
  }
}

// Access is the namespace's, as for any lookup: bob cannot reach alice's
// files by their numbers; anyone sees the user folders themselves.
TEST_F(ViewExportTest, DotIsCheckedLikeAnyLookup) {
  uint64_t root_ino = 0;
  std::map<std::string, Seen> seen = WalkSnapshot(&root_ino);
  View fresh(store_.get());
  const uint64_t report = seen.at("/docs/report.txt").attr.ino;
  EXPECT_EQ(ErrnoOf(fresh.Lookup(As(kBob), report, ".").status()), EACCES);
  EXPECT_EQ(ErrnoOf(fresh.Lookup(As(kBob), root_ino, ".").status()), EACCES);
  EXPECT_EQ(ErrnoOf(fresh.Lookup(As(kBob), seen.at("/docs").attr.ino, "..").status()), EACCES);
  ASSERT_OK_AND_ASSIGN(uint64_t alice, PathIno("alice"));
  auto user = fresh.Lookup(As(kBob), alice, ".");
  ASSERT_OK(user);
  EXPECT_EQ(user->attr.mode, S_IFDIR | 0700u);
  EXPECT_OK(fresh.Lookup(As(kAlice), report, ".").status());
  EXPECT_OK(fresh.Lookup(kRoot, report, ".").status());
}

// What the mount never gave out, or no longer has, is ESTALE, never another
// file: an unknown number, an ordinal past the end, the ordinal of a hard
// link's name, a link group past the table, a user-folder local nobody
// exports, a forgotten snapshot (until it is undeleted: same number, same
// inodes), and a husk's earlier number.
TEST_F(ViewExportTest, WhatIsGoneOrNeverWasIsStale) {
  uint64_t root_ino = 0;
  std::map<std::string, Seen> seen = WalkSnapshot(&root_ino);
  const uint64_t number = InoNumber(root_ino);
  ASSERT_OK_AND_ASSIGN(const uint64_t user, PathIno("alice"));
  View fresh(store_.get());
  auto stale = [&](uint64_t ino) { return ErrnoOf(fresh.Lookup(kRoot, ino, ".").status()); };
  EXPECT_EQ(stale(MakeIno(1u << 20, 5)), ESTALE) << "a number nobody has";
  EXPECT_EQ(stale(MakeIno(0, 2)), ESTALE) << "the mount's own space has only the root";
  EXPECT_EQ(stale(MakeIno(number, seen.size() + 1)), ESTALE) << "past the last entry";
  EXPECT_EQ(stale(MakeIno(number, seen.at("/z.txt").ordinal)), ESTALE) << "a hard link's name";
  EXPECT_EQ(stale(MakeIno(number, kLinkFlag | snap_.links.size())), ESTALE);
  EXPECT_EQ(stale(MakeIno(InoNumber(user), 9)), ESTALE) << "no node of a user folder";
  ASSERT_EQ(snap_.links.size(), 2u);
  EXPECT_OK(fresh.Lookup(kRoot, seen.at("/z.txt").attr.ino, ".").status());

  const uint64_t leaf = seen.at("/docs/deep/deeper/leaf.txt").attr.ino;
  ASSERT_OK(gc::ForgetSnapshot(store_.get(), "alice", snap_.name, kTime).status());
  EXPECT_EQ(stale(leaf), ESTALE) << "forgotten";
  EXPECT_EQ(stale(root_ino), ESTALE);
  ASSERT_OK(gc::Undelete(store_.get(), "alice", snap_.name));
  auto back = fresh.Lookup(kRoot, leaf, ".");
  ASSERT_OK(back) << "undeleted: the same number, the same inodes";
  EXPECT_EQ(Content(fresh, back->attr), "at the bottom\n");

  ASSERT_OK(gc::PinPath(store_.get(), "alice", snap_.name, "docs/deep", 0, kTime).status());
  ASSERT_OK(gc::ForgetSnapshot(store_.get(), "alice", snap_.name, kTime).status());
  // A remount: the kernel holds nothing (while it holds a node, it never asks).
  View after(store_.get());
  EXPECT_EQ(ErrnoOf(after.Lookup(kRoot, leaf, ".").status()), ESTALE) << "a husk has a new number";
  ASSERT_OK(after.Lookup(kRoot, user, ".").status());
  auto husk = after.Lookup(kRoot, user, snap_.name);
  ASSERT_OK(husk);
  EXPECT_NE(InoNumber(husk->attr.ino), number);
  uint64_t in_husk = husk->attr.ino;
  for (const char* name : {"docs", "deep", "deeper", "leaf.txt"}) {
    auto e = after.Lookup(kRoot, in_husk, name);
    ASSERT_OK(e) << name;
    in_husk = e->attr.ino;
  }
  View again(store_.get());
  auto pinned = again.Lookup(kRoot, in_husk, ".");
  ASSERT_OK(pinned) << "the husk's own inodes work";
  EXPECT_EQ(Content(again, pinned->attr), "at the bottom\n");
}

// A snapshot committed after the index was built is found: its number is
// newer than any the index saw, so a miss reads the records again at once
// (not only after the one-second interval of other misses).
TEST_F(ViewExportTest, ASnapshotCommittedLaterIsFound) {
  View fresh(store_.get());
  uint64_t root_ino = 0;
  WalkSnapshot(&root_ino);
  ASSERT_OK(fresh.Lookup(kRoot, root_ino, ".").status());  // builds the index
  ASSERT_OK(testing::WriteFile(src_ + "/new.txt", "new"));
  auto later = testing::BackupOrFail(store_.get(), "alice", src_, kTime + 86400);
  auto found = fresh.Lookup(kRoot, MakeIno(later.number, 0), ".");
  ASSERT_OK(found);
  EXPECT_TRUE(S_ISDIR(found->attr.mode));
  auto file = fresh.Lookup(kRoot, found->attr.ino, "new.txt");
  ASSERT_OK(file);
  View other(store_.get());
  auto again = other.Lookup(kRoot, file->attr.ino, ".");
  ASSERT_OK(again);
  EXPECT_EQ(Content(other, again->attr), "new");
}

}  // namespace
}  // namespace keepfs::fs
