// View without FUSE: inode numbers, access by namespace, listings, reads.
#include "fs/view.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "fs/inode.h"
#include "gc/collector.h"
#include "gc/pins.h"
#include "gc/prune.h"
#include "store/pack.h"
#include "snapshot/ingest.h"
#include "snapshot/repo.h"
#include "store/file_util.h"
#include "tests/testing/backup_util.h"
#include "tests/testing/test_util.h"

namespace keepfs::fs {
namespace {

constexpr int64_t kTime = 1790823600;  // 2026-10-01T03:00:00Z
constexpr uint32_t kAlice = 2001, kBob = 2002;

Caller As(uint32_t uid, uint32_t gid = 100) { return Caller{uid, gid, nullptr}; }
const Caller kRoot = As(0, 0);

class ViewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = tmp_.Join("src");
    ASSERT_OK(MakeDirs(src_ + "/docs/deep"));
    ASSERT_OK(testing::WriteFile(src_ + "/docs/report.txt", "quarterly report\n", 0640));
    ASSERT_OK(testing::WriteFile(src_ + "/docs/deep/big.bin", testing::RandomBytes(3 << 20, 1)));
    ASSERT_OK(testing::WriteFile(src_ + "/z.txt", "last"));
    ASSERT_EQ(::link((src_ + "/z.txt").c_str(), (src_ + "/docs/z-link").c_str()), 0);
    ASSERT_EQ(::symlink("docs/report.txt", (src_ + "/to-report").c_str()), 0);
    ASSERT_EQ(::chown((src_ + "/docs/report.txt").c_str(), 1234, 1234), 0);
    ASSERT_OK_AND_ASSIGN(store_, testing::InitAndOpen(tmp_.Join("store")));
    ASSERT_OK(store_->SetUser("alice", {kAlice, kAlice}));
    ASSERT_OK(store_->SetUser("bob", {kBob, kBob}));
    Backup("alice", kTime);
    Backup("bob", kTime);
    view_ = std::make_unique<View>(store_.get());
  }

  snapshot::SnapshotRecord Backup(const std::string& user, int64_t t) {
    return testing::BackupOrFail(store_.get(), user, src_, t);
  }

  // Looks path up component by component from the root as caller.
  Result<EntryOut> Walk(const Caller& c, const std::string& path) {
    uint64_t ino = View::kRootIno;
    EntryOut last;
    last.attr.ino = ino;
    size_t pos = 0;
    while (pos < path.size()) {
      size_t slash = path.find('/', pos);
      std::string part = path.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos);
      pos = slash == std::string::npos ? path.size() : slash + 1;
      KEEPFS_ASSIGN_OR_RETURN(last, view_->Lookup(c, ino, part));
      if (last.attr.ino == 0) return Status::NotFound(path);
      if (part == "latest" && pos < path.size()) {  // follow it, as the kernel would
        KEEPFS_ASSIGN_OR_RETURN(std::string target, view_->ReadLink(c, last.attr.ino));
        KEEPFS_ASSIGN_OR_RETURN(last, view_->Lookup(c, ino, target));
      }
      ino = last.attr.ino;
    }
    return last;
  }

  // Every name in the directory ino, with its attributes.
  std::map<std::string, EntryOut> List(const Caller& c, uint64_t ino, size_t batch = 1000) {
    std::map<std::string, EntryOut> out;
    auto h = view_->OpenDir(c, ino);
    EXPECT_OK(h);
    if (!h.ok()) return out;
    uint64_t off = 0;
    while (true) {
      size_t got = 0;
      EXPECT_OK(view_->ReadDir(*h, off, false, [&](std::string_view name, const EntryOut& e,
                                                    uint64_t next) {
        if (got == batch) return false;
        EXPECT_TRUE(out.emplace(std::string(name), e).second) << "listed twice: " << name;
        off = next;
        ++got;
        return true;
      }));
      if (got == 0) break;
    }
    view_->ReleaseDir(*h);
    return out;
  }

  std::string ReadAll(const Caller& c, uint64_t ino) {
    auto h = view_->Open(c, ino, O_RDONLY);
    EXPECT_OK(h);
    if (!h.ok()) return "";
    std::string all, part;
    for (uint64_t off = 0;; off += part.size()) {
      Status s = view_->Read(*h, off, 128 * 1024, &part);
      EXPECT_OK(s);
      if (!s.ok() || part.empty()) break;
      all += part;
    }
    view_->Release(*h);
    return all;
  }

  testing::TempDir tmp_;
  std::string src_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<View> view_;
};

// A file open through the mount stays readable to the end although its
// snapshot is forgotten and the collector deletes everything else of it and
// repacks its pack: the open file's hold keeps its chunks, the repack moves
// them and the old pack is removed while the file is open. Once it is
// closed, the next run collects them.
TEST_F(ViewTest, AnOpenFileOutlivesForgetCollectionAndRepack) {
  std::string carol_src = tmp_.Join("carol");
  ASSERT_OK(MakeDirs(carol_src));
  const std::string keep = testing::RandomBytes(2 << 20, 61);
  ASSERT_OK(testing::WriteFile(carol_src + "/keep.bin", keep));
  ASSERT_OK(testing::WriteFile(carol_src + "/drop.bin", testing::RandomBytes(6 << 20, 62)));
  ASSERT_OK(store_->SetUser("carol", {kAlice, kAlice}));
  const auto fixture_packs = ListPackFiles(store_->dir());
  auto snap = testing::BackupOrFail(store_.get(), "carol", carol_src, kTime);
  std::vector<uint64_t> carols;
  for (uint64_t id : ListPackFiles(store_->dir())) {
    if (std::count(fixture_packs.begin(), fixture_packs.end(), id) == 0) carols.push_back(id);
  }
  ASSERT_FALSE(carols.empty());
  ASSERT_OK_AND_ASSIGN(EntryOut file, Walk(kRoot, "carol/" + snap.name + "/keep.bin"));
  ASSERT_OK_AND_ASSIGN(uint64_t h, view_->Open(kRoot, file.attr.ino, O_RDONLY));
  std::string head;
  ASSERT_OK(view_->Read(h, 0, 64 << 10, &head));

  ASSERT_OK(gc::ForgetSnapshot(store_.get(), "carol", snap.name, kTime).status());
  gc::GcOptions o;
  o.config.undelete_window_sec = 0;
  o.config.min_free_bytes = 0;
  o.config.small_pack_bytes = 0;
  ASSERT_OK_AND_ASSIGN(gc::GcResult r, gc::CollectGarbage(store_.get(), o));
  EXPECT_GT(r.kept_in_flight, 0u) << "keep.bin's chunks";
  EXPECT_GT(r.chunks, 0u) << "drop.bin's chunks";
  EXPECT_GT(r.packs_repacked, 0u);
  const auto packs_after = ListPackFiles(store_->dir());
  for (uint64_t id : carols) {
    EXPECT_EQ(std::count(packs_after.begin(), packs_after.end(), id), 0)
        << "carol's pack was replaced while keep.bin was open";
  }
  std::string all = head, part;
  for (uint64_t off = head.size();; off += part.size()) {
    ASSERT_OK(view_->Read(h, off, 128 << 10, &part));
    if (part.empty()) break;
    all += part;
  }
  EXPECT_TRUE(all == keep) << "read to the end after the repack";
  view_->Release(h);
  ASSERT_OK_AND_ASSIGN(r, gc::CollectGarbage(store_.get(), o));
  EXPECT_EQ(r.kept_in_flight, 0u);
  EXPECT_GT(r.chunks, 0u) << "closed: keep.bin's chunks go too";
}

// Everything logged while it lives (the default logger's lines, debug up).
class LogCapture {
 public:
  LogCapture() : old_(spdlog::default_logger()) {
    auto logger = std::make_shared<spdlog::logger>(
        "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(text_));
    logger->set_level(spdlog::level::debug);
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(old_); }
  std::string text() const { return text_.str(); }

 private:
  std::ostringstream text_;
  std::shared_ptr<spdlog::logger> old_;
};

// A snapshot pruned under a reader who still holds its inodes (a cp -a or
// tar inside it, names the kernel cached): once gc has collected its trees
// and contents, what the reader asks next is ENOENT or ESTALE, as for a
// folder deleted under a shell; never EIO with a damage line in the log,
// which are for data missing from a snapshot the store still has. So is the
// old snapshot of a husk (its number changed). The soak test found this
// (tools/bench/soak.h): opens in a collected snapshot were EIO, logged as
// "content ... is missing".
TEST_F(ViewTest, ASnapshotCollectedUnderAReaderIsGoneNotDamaged) {
  const std::string carol_src = tmp_.Join("carol");
  ASSERT_OK(MakeDirs(carol_src + "/sub/deeper"));
  ASSERT_OK(store_->SetUser("carol", {kAlice, kAlice}));
  std::vector<snapshot::SnapshotRecord> snaps;
  for (int i = 0; i < 2; ++i) {
    ASSERT_OK(testing::WriteFile(carol_src + "/top.bin", testing::RandomBytes(300 << 10, 71 + i)));
    ASSERT_OK(
        testing::WriteFile(carol_src + "/sub/a.bin", testing::RandomBytes(200 << 10, 73 + i)));
    ASSERT_OK(testing::WriteFile(carol_src + "/sub/deeper/b.bin",
                                 testing::RandomBytes(200 << 10, 75 + i)));
    snaps.push_back(testing::BackupOrFail(store_.get(), "carol", carol_src, kTime + i));
  }
  // What the kernel holds of each: top.bin, and the folder deeper, found
  // (so sub's tree was read) and opened, but not listed yet.
  struct Held {
    uint64_t top = 0, deeper = 0, listing = 0;
  } held[2];
  for (int i = 0; i < 2; ++i) {
    const std::string at = "carol/" + snaps[i].name;
    ASSERT_OK_AND_ASSIGN(EntryOut top, Walk(kRoot, at + "/top.bin"));
    ASSERT_OK_AND_ASSIGN(EntryOut deeper, Walk(kRoot, at + "/sub/deeper"));
    ASSERT_OK_AND_ASSIGN(held[i].listing, view_->OpenDir(kRoot, deeper.attr.ino));
    held[i] = {top.attr.ino, deeper.attr.ino, held[i].listing};
  }
  // The first goes; the second becomes a husk of sub/a.bin (a new number).
  ASSERT_OK(gc::PinPath(store_.get(), "carol", snaps[1].name, "sub/a.bin", 0, kTime).status());
  ASSERT_OK(gc::ForgetSnapshot(store_.get(), "carol", snaps[0].name, kTime).status());
  ASSERT_OK(gc::ForgetSnapshot(store_.get(), "carol", snaps[1].name, kTime).status());
  gc::GcOptions o;
  o.config.undelete_window_sec = 0;
  o.config.min_free_bytes = 0;
  ASSERT_OK_AND_ASSIGN(gc::GcResult r, gc::CollectGarbage(store_.get(), o));
  ASSERT_GE(r.trees, 4u) << "deeper's trees";
  ASSERT_GE(r.contents, 4u) << "top.bin's and b.bin's contents";

  LogCapture log;
  for (int i = 0; i < 2; ++i) {
    SCOPED_TRACE(i == 0 ? "forgotten" : "made a husk");
    auto opened = view_->Open(kRoot, held[i].top, O_RDONLY);
    ASSERT_FALSE(opened.ok());
    EXPECT_EQ(ErrnoOf(opened.status()), ESTALE) << opened.status().ToString();
    auto looked = view_->Lookup(kRoot, held[i].deeper, "b.bin");
    ASSERT_FALSE(looked.ok());
    EXPECT_EQ(ErrnoOf(looked.status()), ENOENT) << looked.status().ToString();
    auto take_all = [](std::string_view, const EntryOut&, uint64_t) { return true; };
    Status listed = view_->ReadDir(held[i].listing, 0, false, take_all);
    EXPECT_EQ(ErrnoOf(listed), ESTALE) << listed.ToString();
    view_->ReleaseDir(held[i].listing);
  }
  EXPECT_EQ(log.text().find("[error]"), std::string::npos) << log.text();
  EXPECT_NE(log.text().find("the snapshot is gone"), std::string::npos) << log.text();
  // The husk still serves its pinned file, under its new number.
  ASSERT_OK_AND_ASSIGN(EntryOut kept, Walk(kRoot, "carol/" + snaps[1].name + "/sub/a.bin"));
  EXPECT_EQ(ReadAll(kRoot, kept.attr.ino), testing::RandomBytes(200 << 10, 74));
}

TEST_F(ViewTest, LayoutAndOwners) {
  auto root = List(kRoot, View::kRootIno);
  ASSERT_EQ(root.count("alice"), 1u);
  ASSERT_EQ(root.count("bob"), 1u);
  const Attr& a = root["alice"].attr;
  EXPECT_EQ(a.mode, S_IFDIR | 0700u);
  EXPECT_EQ(a.uid, kAlice);
  ASSERT_OK_AND_ASSIGN(EntryOut looked, Walk(As(kAlice), "alice"));  // the kernel looks up first
  EXPECT_EQ(looked.attr.ino, a.ino);
  auto home = List(As(kAlice), a.ino);
  ASSERT_EQ(home.count("latest"), 1u);
  ASSERT_EQ(home.count("2026-10-01_030000"), 1u);
  ASSERT_OK_AND_ASSIGN(EntryOut latest, Walk(As(kAlice), "alice/latest"));
  EXPECT_EQ(latest.attr.ino, home["latest"].attr.ino);
  EXPECT_TRUE(S_ISLNK(latest.attr.mode));
  ASSERT_OK_AND_ASSIGN(std::string target, view_->ReadLink(As(kAlice), latest.attr.ino));
  EXPECT_EQ(target, "2026-10-01_030000");
  ASSERT_OK_AND_ASSIGN(EntryOut report, Walk(As(kAlice), "alice/latest/docs/report.txt"));
  EXPECT_EQ(report.attr.uid, 1234u) << "stored owner shown as backed up";
  EXPECT_EQ(report.attr.mode, S_IFREG | 0640u);
  EXPECT_EQ(ReadAll(As(kAlice), report.attr.ino), "quarterly report\n")
      << "the owner reads whatever the stored mode and owner";
}

TEST_F(ViewTest, OthersCannotEnterANamespace) {
  ASSERT_OK_AND_ASSIGN(EntryOut alice, Walk(As(kBob), "alice"));  // visible, like any 0700 dir
  EXPECT_EQ(ErrnoOf(view_->OpenDir(As(kBob), alice.attr.ino).status()), EACCES);
  EXPECT_EQ(ErrnoOf(view_->Lookup(As(kBob), alice.attr.ino, "latest").status()), EACCES);
  EXPECT_EQ(ErrnoOf(view_->Lookup(As(kBob), alice.attr.ino, "2026-10-01_030000").status()),
            EACCES);
  // Even a node that alice's walk put in the table stays closed to bob.
  ASSERT_OK_AND_ASSIGN(EntryOut file, Walk(As(kAlice), "alice/latest/docs/report.txt"));
  EXPECT_EQ(ErrnoOf(view_->Open(As(kBob), file.attr.ino, O_RDONLY).status()), EACCES);
  EXPECT_EQ(ErrnoOf(view_->GetAttr(As(kBob), file.attr.ino).status()), EACCES);
  EXPECT_EQ(ErrnoOf(view_->ListXattr(As(kBob), file.attr.ino).status()), EACCES);
  EXPECT_EQ(ErrnoOf(view_->Access(As(kBob), file.attr.ino, R_OK)), EACCES);
  // bob reads his own; root reads anything.
  ASSERT_OK_AND_ASSIGN(EntryOut own, Walk(As(kBob), "bob/latest/z.txt"));
  EXPECT_EQ(ReadAll(As(kBob), own.attr.ino), "last");
  EXPECT_EQ(ReadAll(kRoot, file.attr.ino), "quarterly report\n");
}

TEST_F(ViewTest, AdminGroupMayEnterEveryNamespace) {
  std::string path = store_->dir() + "/config.toml";
  ASSERT_OK_AND_ASSIGN(std::string text, ReadSmallFile(path));
  size_t at = text.find("# admin_group");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 13, "admin_group = 777\n#");
  ASSERT_OK(WriteFileAtomic(path, text));
  std::string dir = store_->dir();
  view_.reset();
  store_.reset();
  ASSERT_OK_AND_ASSIGN(store_, Store::Open(dir, OpenMode::kReadWrite));
  view_ = std::make_unique<View>(store_.get());
  Caller admin{3000, 100, [](uint32_t g) { return g == 777; }};
  ASSERT_OK_AND_ASSIGN(EntryOut file, Walk(admin, "alice/latest/docs/report.txt"));
  EXPECT_EQ(ReadAll(admin, file.attr.ino), "quarterly report\n");
  Caller other{3001, 100, [](uint32_t) { return false; }};
  EXPECT_EQ(ErrnoOf(Walk(other, "alice/latest").status()), EACCES);
}

TEST_F(ViewTest, InodesAreStableDistinctAndShareHardLinks) {
  ASSERT_OK_AND_ASSIGN(EntryOut z, Walk(kRoot, "alice/latest/z.txt"));
  ASSERT_OK_AND_ASSIGN(EntryOut zl, Walk(kRoot, "alice/latest/docs/z-link"));
  EXPECT_EQ(z.attr.ino, zl.attr.ino) << "hard links share an inode";
  EXPECT_EQ(z.attr.nlink, 2u);
  EXPECT_NE(z.attr.ino & kLinkFlag, 0u);
  ASSERT_OK_AND_ASSIGN(EntryOut bz, Walk(kRoot, "bob/latest/z.txt"));
  EXPECT_NE(bz.attr.ino, z.attr.ino) << "distinct per snapshot";
  // Every entry of the snapshot has its own number, and listing and lookup agree.
  std::set<uint64_t> seen;
  std::function<void(uint64_t, const std::string&)> walk = [&](uint64_t dir, const std::string& p) {
    for (const auto& [name, e] : List(kRoot, dir)) {
      if (name == "." || name == "..") continue;
      ASSERT_OK_AND_ASSIGN(EntryOut looked, view_->Lookup(kRoot, dir, name));
      EXPECT_EQ(looked.attr.ino, e.attr.ino) << p + "/" + name;
      if (e.attr.ino != z.attr.ino) {
        EXPECT_TRUE(seen.insert(e.attr.ino).second) << name;
      }
      if (S_ISDIR(e.attr.mode)) walk(e.attr.ino, p + "/" + name);
    }
  };
  ASSERT_OK_AND_ASSIGN(EntryOut snap, Walk(kRoot, "alice/2026-10-01_030000"));
  walk(snap.attr.ino, "");
  EXPECT_EQ(seen.size(), 5u);  // docs, deep, big.bin, report.txt, to-report (z.txt not counted)
  // A new View (a remount) gives the same numbers.
  view_ = std::make_unique<View>(store_.get());
  ASSERT_OK_AND_ASSIGN(EntryOut again, Walk(kRoot, "alice/latest/docs/deep/big.bin"));
  view_ = std::make_unique<View>(store_.get());
  ASSERT_OK_AND_ASSIGN(EntryOut third, Walk(kRoot, "alice/latest/docs/deep/big.bin"));
  EXPECT_EQ(again.attr.ino, third.attr.ino);
  EXPECT_EQ(seen.count(again.attr.ino), 1u);
}

TEST_F(ViewTest, LatestMovesWithoutARemount) {
  ASSERT_OK_AND_ASSIGN(EntryOut latest, Walk(As(kAlice), "alice/latest"));
  ASSERT_OK(testing::WriteFile(src_ + "/new.txt", "new"));
  auto rec = Backup("alice", kTime + 3600);
  ASSERT_OK_AND_ASSIGN(std::string target, view_->ReadLink(As(kAlice), latest.attr.ino));
  EXPECT_EQ(target, rec.name);
  ASSERT_OK_AND_ASSIGN(EntryOut fresh, Walk(As(kAlice), "alice/" + rec.name + "/new.txt"));
  EXPECT_EQ(ReadAll(As(kAlice), fresh.attr.ino), "new");
  ASSERT_OK_AND_ASSIGN(EntryOut old, Walk(As(kAlice), "alice/2026-10-01_030000"));
  EXPECT_EQ(view_->Lookup(As(kAlice), old.attr.ino, "new.txt")->attr.ino, 0u)
      << "the old snapshot does not change";
}

TEST_F(ViewTest, WritesAreReadOnly) {
  ASSERT_OK_AND_ASSIGN(EntryOut file, Walk(kRoot, "alice/latest/z.txt"));
  for (int flags : {O_WRONLY, O_RDWR, O_RDONLY | O_TRUNC}) {
    EXPECT_EQ(ErrnoOf(view_->Open(kRoot, file.attr.ino, flags).status()), EROFS) << flags;
  }
  EXPECT_EQ(ErrnoOf(view_->Access(kRoot, file.attr.ino, W_OK)), EROFS);
}

TEST_F(ViewTest, DamagedChunkIsEioNeverWrongBytes) {
  ASSERT_OK_AND_ASSIGN(EntryOut big, Walk(kRoot, "alice/latest/docs/deep/big.bin"));
  // Damage every pack in the middle of its data.
  for (const auto& e : std::filesystem::recursive_directory_iterator(store_->dir() + "/packs")) {
    if (e.path().extension() == ".pack") {
      ASSERT_OK(testing::FlipByte(e.path().string(), 1000));
    }
  }
  view_ = std::make_unique<View>(store_.get());  // nothing cached
  ASSERT_OK_AND_ASSIGN(big, Walk(kRoot, "alice/latest/docs/deep/big.bin"));
  ASSERT_OK_AND_ASSIGN(uint64_t h, view_->Open(kRoot, big.attr.ino, O_RDONLY));
  // Chunks land in the pack in the order the chunk pool finishes them, so the
  // damaged one may be anywhere in the file: read until the error.
  ASSERT_OK_AND_ASSIGN(std::string source, testing::ReadFile(src_ + "/docs/deep/big.bin"));
  std::string got, part;
  Status s;
  while ((s = view_->Read(h, got.size(), 128 * 1024, &part)).ok() && !part.empty()) got += part;
  EXPECT_EQ(ErrnoOf(s), EIO);
  EXPECT_TRUE(part.empty()) << "no bytes from a failed read";
  EXPECT_LT(got.size(), source.size());
  EXPECT_TRUE(got == source.substr(0, got.size())) << "what was read before is right";
  view_->Release(h);
}

TEST_F(ViewTest, SeekDataAndHoleFollowTheRecipe) {
  std::string path = src_ + "/sparse";
  {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644));
    ASSERT_EQ(::ftruncate(fd.get(), 64 << 20), 0);
    std::string data = testing::RandomBytes(65536, 9);
    ASSERT_OK(PwriteAll(fd.get(), data.data(), data.size(), 8 << 20, path));
  }
  auto rec = Backup("alice", kTime + 60);
  ASSERT_OK_AND_ASSIGN(EntryOut e, Walk(kRoot, "alice/" + rec.name + "/sparse"));
  EXPECT_LT(e.attr.blocks * 512, 1u << 20) << "st_blocks counts data, not holes";
  ASSERT_OK_AND_ASSIGN(uint64_t h, view_->Open(kRoot, e.attr.ino, O_RDONLY));
  ASSERT_OK_AND_ASSIGN(uint64_t data, view_->SeekData(h, 0, SEEK_DATA));
  EXPECT_LE(data, 8u << 20);
  EXPECT_GT(data, 0u);
  ASSERT_OK_AND_ASSIGN(uint64_t hole, view_->SeekData(h, data, SEEK_HOLE));
  EXPECT_GE(hole, (8u << 20) + 65536);
  EXPECT_LT(hole, 64u << 20);
  EXPECT_EQ(ErrnoOf(view_->SeekData(h, hole + 1, SEEK_DATA).status()), ENXIO);
  EXPECT_EQ(ErrnoOf(view_->SeekData(h, 64 << 20, SEEK_HOLE).status()), ENXIO);
  std::string zeros;
  ASSERT_OK(view_->Read(h, 1000, 4096, &zeros));
  EXPECT_EQ(zeros, std::string(4096, '\0'));
  view_->Release(h);
}

TEST_F(ViewTest, BigDirectoryListsInBatchesWithStableOffsets) {
  ASSERT_OK(MakeDirs(src_ + "/many"));
  for (int i = 0; i < 6000; ++i) {
    std::string name = src_ + "/many/f" + std::to_string(i);
    if (i % 100 == 7) {  // some subfolders, so entries span different inode ranges
      ASSERT_OK(MakeDirs(name + "/sub"));
      ASSERT_OK(testing::WriteFile(name + "/sub/x", "x"));
    } else {
      ASSERT_OK(testing::WriteFile(name, std::to_string(i)));
    }
  }
  auto rec = Backup("alice", kTime + 120);
  ASSERT_OK_AND_ASSIGN(EntryOut many, Walk(kRoot, "alice/" + rec.name + "/many"));
  auto whole = List(kRoot, many.attr.ino, 100000);
  auto batched = List(kRoot, many.attr.ino, 37);
  EXPECT_EQ(whole.size(), 6002u);
  ASSERT_EQ(batched.size(), whole.size());
  for (const auto& [name, e] : whole) EXPECT_EQ(batched[name].attr.ino, e.attr.ino) << name;
  ASSERT_OK_AND_ASSIGN(EntryOut f5999, view_->Lookup(kRoot, many.attr.ino, "f5999"));
  EXPECT_EQ(f5999.attr.ino, whole["f5999"].attr.ino) << "lookup and listing agree across pages";
  std::set<uint64_t> inos;
  for (const auto& [name, e] : whole) {
    if (name != "." && name != "..") inos.insert(e.attr.ino);
  }
  EXPECT_EQ(inos.size(), 6000u);
  // The ordinals account for what is inside the subfolders: an entry's number
  // is its parent's plus the entries before it and everything below them.
  ASSERT_OK_AND_ASSIGN(EntryOut x, Walk(kRoot, "alice/" + rec.name + "/many/f5907/sub/x"));
  ASSERT_OK_AND_ASSIGN(EntryOut f5907, view_->Lookup(kRoot, many.attr.ino, "f5907"));
  EXPECT_EQ(x.attr.ino, f5907.attr.ino + 2);
  ASSERT_OK_AND_ASSIGN(EntryOut f5908, view_->Lookup(kRoot, many.attr.ino, "f5908"));
  EXPECT_EQ(f5908.attr.ino, f5907.attr.ino + 3);
}

// A plus listing carries attributes of files only for a process that stats
// what it lists (fs/listing_hints.h); folders always come complete, and what
// a listing does carry matches what a lookup answers.
TEST_F(ViewTest, PlusListingsCarryFileAttributesOnlyForProcessesThatStat) {
  auto plus_list = [&](uint32_t pid) {
    std::map<std::string, EntryOut> out;
    Caller c = kRoot;
    c.pid = pid;
    auto docs = Walk(c, "alice/latest/docs");
    EXPECT_OK(docs);
    if (!docs.ok()) return out;
    auto h = view_->OpenDir(c, docs->attr.ino);
    EXPECT_OK(h);
    if (!h.ok()) return out;
    EXPECT_OK(view_->ReadDir(*h, 0, true, [&](std::string_view name, const EntryOut& e, uint64_t) {
      out.emplace(std::string(name), e);
      return true;
    }));
    view_->ReleaseDir(*h);
    return out;
  };
  auto finder = plus_list(7001);
  ASSERT_EQ(finder.size(), 5u);  // . .. deep report.txt z-link
  EXPECT_FALSE(finder["deep"].name_only) << "folders always carry their entry";
  EXPECT_EQ(finder["deep"].attr.mode & S_IFMT, static_cast<uint32_t>(S_IFDIR));
  EXPECT_TRUE(finder["report.txt"].name_only);
  EXPECT_EQ(finder["report.txt"].attr.mode & S_IFMT, static_cast<uint32_t>(S_IFREG));
  EXPECT_TRUE(finder["z-link"].name_only);

  // Process 7001 now stats a name it was given without attributes.
  Caller c = kRoot;
  c.pid = 7001;
  ASSERT_OK_AND_ASSIGN(EntryOut report, Walk(c, "alice/latest/docs/report.txt"));
  EXPECT_EQ(report.attr.ino, finder["report.txt"].attr.ino) << "listing and lookup agree";
  auto stater = plus_list(7001);
  EXPECT_FALSE(stater["report.txt"].name_only);
  EXPECT_EQ(stater["report.txt"].attr.size, report.attr.size);
  EXPECT_EQ(stater["report.txt"].attr.mode, report.attr.mode);
  EXPECT_EQ(stater["z-link"].attr.nlink, 2u);

  // Another process has shown nothing yet.
  EXPECT_TRUE(plus_list(7002)["report.txt"].name_only);
}

TEST(ListingHintsTest, LearnsPerProcessAndStaysBounded) {
  ListingHints hints;
  hints.LookedUp(1);
  EXPECT_FALSE(hints.WantsAttrs(1)) << "a lookup without a names-only listing says nothing";
  hints.GaveNamesOnly(1);
  EXPECT_FALSE(hints.WantsAttrs(1));
  hints.LookedUp(1);
  EXPECT_TRUE(hints.WantsAttrs(1));
  for (uint32_t pid = 100; pid < 100 + 3 * ListingHints::kCapacity; ++pid) {
    hints.GaveNamesOnly(pid);
    if (pid % 64 == 0) hints.LookedUp(1);  // pid 1 stays recently seen
    EXPECT_LE(hints.size(), ListingHints::kCapacity);
  }
  EXPECT_TRUE(hints.WantsAttrs(1)) << "a recently seen process is kept";
  EXPECT_FALSE(hints.WantsAttrs(100)) << "the oldest are forgotten";
}

TEST_F(ViewTest, ForgottenNodesLeaveTheTable) {
  uint64_t before = view_->stats().nodes;
  ASSERT_OK_AND_ASSIGN(EntryOut e, Walk(kRoot, "alice/latest/docs/report.txt"));
  EXPECT_GT(view_->stats().nodes, before);
  ASSERT_OK_AND_ASSIGN(EntryOut again, Walk(kRoot, "alice/latest/docs/report.txt"));
  EXPECT_EQ(again.attr.ino, e.attr.ino);
  view_->Forget(e.attr.ino, 1);
  EXPECT_OK(view_->GetAttr(kRoot, e.attr.ino)) << "one reference left";
  view_->Forget(e.attr.ino, 1);
  EXPECT_EQ(ErrnoOf(view_->GetAttr(kRoot, e.attr.ino).status()), ESTALE);
}

}  // namespace
}  // namespace keepfs::fs
