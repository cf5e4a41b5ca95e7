// keepfs store-restore on real stores and real store-backup copies: a
// restore into an empty directory is a whole store (clean, exact counts,
// byte-identical files), also from a copy taken while backups and gc ran; a
// damaged file of the copy stops it by name with the marker left (the store
// refuses to open) and --resume finishes it; --replace over a damaged store
// keeps its matching packs and moves the rest aside; a store in use is
// refused; a pack missing from the copy is reported by the audit with every
// snapshot and path it hurts.
#include "store/store_restore.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <algorithm>
#include <map>
#include <set>
#include <thread>

#include "gc/prune.h"
#include "snapshot/quarantine.h"
#include "snapshot/repo.h"
#include "snapshot/restore_audit.h"
#include "store/backup_manifest.h"
#include "store/file_util.h"
#include "store/pack.h"
#include "store/restore_marker.h"
#include "store/store_backup.h"
#include "tests/testing/gc_util.h"
#include "tests/testing/store_copy_util.h"
#include "tests/testing/test_util.h"

namespace keepfs {
namespace {

namespace fs = std::filesystem;

class StoreRestoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(store_, testing::InitAndOpen(tmp_.Join("store")));
    for (const char* user : {"alice", "bob"}) ASSERT_OK(MakeDirs(tmp_.Join(user)));
  }
  void Day(const std::string& user, int d) {
    testing::BackupDay(store_.get(), user, tmp_.Join(user), d);
  }
  // Three days of alice, two of bob (sharing her chunks), then a copy.
  void DaysAndCopy() {
    for (int d = 1; d <= 3; ++d) Day("alice", d);
    for (int d = 1; d <= 2; ++d) Day("bob", d);
    Copy();
  }
  void Copy() {
    StoreBackupOptions o;
    o.dest = backup_;
    EXPECT_OK(BackupStore(store_.get(), o).status());
  }
  StoreRestoreOptions Options(const std::string& into) {
    StoreRestoreOptions o;
    o.backup = backup_;
    o.store = into;
    o.audit = [](Store* s) { return snapshot::AuditRestoredStore(s, {/*verify_data=*/true}); };
    return o;
  }
  // The copy's own file, no longer a hard link of the store's (on one
  // filesystem store-backup links packs), so it can be damaged alone.
  std::string UnlinkedBackupFile(const std::string& rel) {
    const std::string path = backup_ + "/" + rel;
    std::string bytes = testing::ReadFile(path).value();
    EXPECT_EQ(::unlink(path.c_str()), 0);
    EXPECT_OK(testing::WriteFile(path, bytes));
    return path;
  }
  BackupManifest Manifest() { return ReadBackupManifest(backup_).value(); }
  std::string LastPackRel() {
    std::string last;
    for (const auto& [rel, f] : Manifest().files) {
      if (rel.rfind("packs/", 0) == 0) last = rel;
    }
    return last;
  }
  // The snapshots of each user, by name.
  std::map<std::string, std::set<std::string>> SnapshotNames(Store* s) {
    std::map<std::string, std::set<std::string>> out;
    for (const char* user : {"alice", "bob"}) {
      auto snaps = snapshot::Repo(s).ListSnapshots(user);
      EXPECT_OK(snaps);
      if (snaps.ok()) {
        for (const auto& snap : *snaps) out[user].insert(snap.name);
      }
    }
    return out;
  }

  testing::TempDir tmp_;
  std::string backup_ = tmp_.Join("backup");
  std::unique_ptr<Store> store_;
};

TEST_F(StoreRestoreTest, IntoAnEmptyDirectoryYieldsAWholeStore) {
  DaysAndCopy();
  const auto want = SnapshotNames(store_.get());
  const std::string at = tmp_.Join("restored");
  ASSERT_OK_AND_ASSIGN(StoreRestoreResult r, RestoreStore(Options(at)));
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.generation, 1u);
  EXPECT_EQ(r.store_id, store_->meta().store_id);
  EXPECT_GT(r.packs, 0u);
  EXPECT_EQ(r.packs_copied, r.packs);
  EXPECT_EQ(r.packs_skipped, 0u);
  EXPECT_GT(r.meta_files, 0u);
  EXPECT_EQ(r.audit.problems, 0u);
  EXPECT_TRUE(r.audit.damaged.empty());
  EXPECT_EQ(r.audit.snapshots, 5u);
  EXPECT_TRUE(r.moved_aside.empty());
  EXPECT_FALSE(PathExists(at + "/RESTORING"));
  EXPECT_FALSE(PathExists(at + "/meta.restoring"));
  auto restored = Store::Open(at, OpenMode::kReadOnly);
  ASSERT_OK(restored);
  EXPECT_EQ((*restored)->meta().store_id, store_->meta().store_id);
  EXPECT_EQ(SnapshotNames(restored->get()), want);
  testing::ExpectDaysWhole(restored->get(), {"alice", "bob"}, "restored");
  // Every pack byte-identical to the original store's.
  for (uint64_t id : ListPackFiles(store_->dir())) {
    EXPECT_TRUE(testing::ReadFile(at + "/" + PackRelPath(id)).value() ==
                testing::ReadFile(store_->dir() + "/" + PackRelPath(id)).value())
        << PackRelPath(id);
  }
  EXPECT_EQ(ListPackFiles(at).size(), ListPackFiles(store_->dir()).size());
}

TEST_F(StoreRestoreTest, RefusesWhatItCannotUseAndTouchesNothing) {
  DaysAndCopy();
  auto refused = [&](StoreRestoreOptions o, StatusCode code, const std::string& says) {
    auto r = RestoreStore(o);
    EXPECT_CODE(r.status(), code) << o.store;
    EXPECT_NE(r.status().message().find(says), std::string::npos) << r.status().message();
    EXPECT_FALSE(PathExists(o.store + "/RESTORING")) << o.store;
  };
  // A directory with somebody's files.
  const std::string foreign = tmp_.Join("foreign");
  ASSERT_OK(MakeDirs(foreign));
  ASSERT_OK(testing::WriteFile(foreign + "/notes.txt", "mine"));
  refused(Options(foreign), StatusCode::kInvalidArgument, "holds no keepfs store");
  EXPECT_EQ(fs::directory_iterator(foreign)->path().filename(), "notes.txt");
  EXPECT_FALSE(PathExists(foreign + "/lock"));
  // A store, without --replace.
  refused(Options(store_->dir()), StatusCode::kInvalidArgument, "--replace");
  // --resume without an interrupted restore.
  StoreRestoreOptions resume = Options(tmp_.Join("new"));
  resume.resume = true;
  refused(resume, StatusCode::kInvalidArgument, "no interrupted restore");
  EXPECT_FALSE(PathExists(tmp_.Join("new")));
  // A BACKUP without a MANIFEST.
  StoreRestoreOptions no_manifest = Options(tmp_.Join("new"));
  no_manifest.backup = tmp_.Join("alice");
  refused(no_manifest, StatusCode::kNotFound, "has no MANIFEST");
  EXPECT_FALSE(PathExists(tmp_.Join("new")));
  // A BACKUP whose file is missing: refused before STORE is touched.
  const std::string pack = backup_ + "/" + LastPackRel();
  ASSERT_EQ(::rename(pack.c_str(), (pack + ".away").c_str()), 0);
  refused(Options(tmp_.Join("new")), StatusCode::kCorruption, LastPackRel() + ": missing");
  EXPECT_FALSE(PathExists(tmp_.Join("new")));
}

TEST_F(StoreRestoreTest, ADamagedPackStopsItByNameLeavingTheMarkerAndResumeFinishes) {
  DaysAndCopy();
  const std::string rel = LastPackRel();  // the last one copied: the others are in place
  const std::string path = UnlinkedBackupFile(rel);
  const std::string good = testing::ReadFile(path).value();
  ASSERT_OK(testing::FlipByte(path, good.size() / 2));
  const std::string at = tmp_.Join("restored");
  auto r = RestoreStore(Options(at));
  EXPECT_CODE(r.status(), StatusCode::kCorruption);
  EXPECT_NE(r.status().message().find(rel + ": its SHA-256 differs from the MANIFEST"),
            std::string::npos)
      << r.status().message();
  ASSERT_TRUE(PathExists(at + "/RESTORING"));
  EXPECT_FALSE(PathExists(at + "/" + rel)) << "a bad copy never gets its final name";
  EXPECT_FALSE(PathExists(at + "/meta")) << "nothing after the bad pack proceeds";
  EXPECT_FALSE(PathExists(at + "/config.toml"));
  // Every way in refuses the half-restored store, saying what to do.
  const std::string advice = at + " is half-restored from " + fs::canonical(backup_).string() +
                             " (keepfs store-restore was interrupted); finish it with: keepfs "
                             "store-restore --resume " + fs::canonical(backup_).string() + " " + at;
  for (OpenMode mode : {OpenMode::kReadOnly, OpenMode::kReadWrite}) {
    auto s = Store::Open(at, mode);
    EXPECT_CODE(s.status(), StatusCode::kInvalidArgument);
    EXPECT_EQ(s.status().message(), advice);
  }
  EXPECT_EQ(Store::Init(at, testing::SmallChunkOptions()).message(), advice);
  // A fresh run is refused too: it is --resume that continues.
  auto again = RestoreStore(Options(at));
  EXPECT_NE(again.status().message().find("--resume"), std::string::npos);

  ASSERT_OK(testing::WriteFile(path, good));  // the intact copy is back
  StoreRestoreOptions o = Options(at);
  o.resume = true;
  ASSERT_OK_AND_ASSIGN(StoreRestoreResult done, RestoreStore(o));
  EXPECT_TRUE(done.resumed);
  EXPECT_TRUE(done.ok());
  EXPECT_EQ(done.packs_copied, 1u);
  EXPECT_EQ(done.packs_skipped, done.packs - 1);
  EXPECT_FALSE(PathExists(at + "/RESTORING"));
  auto restored = Store::Open(at, OpenMode::kReadOnly);
  ASSERT_OK(restored);
  testing::ExpectDaysWhole(restored->get(), {"alice", "bob"}, "resumed");
}

// --resume continues only the restore the marker names: not from another
// copy, and not from the same copy once a store-backup moved it on to a
// newer generation (whose files replace the ones the restore started from).
TEST_F(StoreRestoreTest, AResumeRefusesAnotherBackupOrOneThatMovedOn) {
  DaysAndCopy();
  const std::string at = tmp_.Join("restored");
  const std::string path = UnlinkedBackupFile(LastPackRel());
  ASSERT_OK(testing::FlipByte(path, 100));
  ASSERT_CODE(RestoreStore(Options(at)).status(), StatusCode::kCorruption);
  ASSERT_TRUE(PathExists(at + "/RESTORING"));
  // Another copy of the same store.
  const std::string other = tmp_.Join("other-backup");
  {
    StoreBackupOptions b;
    b.dest = other;
    ASSERT_OK(BackupStore(store_.get(), b).status());
  }
  StoreRestoreOptions o = Options(at);
  o.resume = true;
  o.backup = other;
  auto r = RestoreStore(o);
  EXPECT_CODE(r.status(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("resume with: keepfs store-restore --resume " +
                                      fs::canonical(backup_).string()),
            std::string::npos)
      << r.status().message();
  // The same copy, moved on to generation 2 (which also replaces the damaged pack).
  ASSERT_EQ(::unlink(path.c_str()), 0);
  Day("alice", 4);
  Copy();
  o.backup = backup_;
  r = RestoreStore(o);
  EXPECT_CODE(r.status(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("has moved on to generation 2"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("Start over into an empty directory"), std::string::npos);
  EXPECT_TRUE(PathExists(at + "/RESTORING")) << "refused: the marker stays";
  // Starting over into an empty directory works.
  ASSERT_OK_AND_ASSIGN(StoreRestoreResult fresh, RestoreStore(Options(tmp_.Join("fresh"))));
  EXPECT_TRUE(fresh.ok());
  EXPECT_EQ(fresh.generation, 2u);
}

TEST_F(StoreRestoreTest, ACopyTakenWhileBackupsForgetsAndGcRunRestoresClean) {
  Day("alice", 1);
  Day("bob", 1);
  std::atomic<bool> stop{false};
  std::atomic<int> rounds{0};
  std::thread churn([&] {
    for (int d = 2; !stop && d < 400; ++d) {
      Day(d % 2 ? "alice" : "bob", d);
      for (const char* user : {"alice", "bob"}) {
        auto snaps = snapshot::Repo(store_.get()).ListSnapshots(user);
        if (snaps.ok() && snaps->size() > 3) {
          EXPECT_OK(gc::ForgetSnapshot(store_.get(), user, snaps->front().name, testing::kDay1)
                        .status());
        }
      }
      testing::RunGc(store_.get(), testing::ReclaimOptions(testing::kDay1 + 100 * 86400));
      ++rounds;
    }
  });
  for (int i = 0; i < 3; ++i) {
    Copy();
    const std::string at = tmp_.Join("live" + std::to_string(i));
    auto r = RestoreStore(Options(at));
    ASSERT_OK(r);
    EXPECT_TRUE(r->ok()) << i << ": "
                         << (r->audit.problem_lines.empty() ? "" : r->audit.problem_lines[0]);
    auto restored = Store::Open(at, OpenMode::kReadOnly);
    ASSERT_OK(restored);
    testing::ExpectDaysWhole(restored->get(), {"alice", "bob"}, at);
  }
  stop = true;
  churn.join();
  EXPECT_GT(rounds.load(), 0);
}

TEST_F(StoreRestoreTest, ReplaceOverADamagedStoreKeepsMatchingPacksAndMovesTheRestAside) {
  DaysAndCopy();
  const auto want = SnapshotNames(store_.get());
  const size_t copied_packs = ListPackFiles(store_->dir()).size();
  Day("alice", 4);  // after the copy: its pack is not in the manifest
  const std::string dir = store_->dir();
  const std::vector<uint64_t> packs = ListPackFiles(dir);
  ASSERT_GT(packs.size(), copied_packs);
  store_.reset();
  // The damage: a pack deleted, the metadata's CURRENT file garbage.
  const std::string lost = PackRelPath(packs.front());
  ASSERT_EQ(::unlink((dir + "/" + lost).c_str()), 0);
  ASSERT_OK(testing::WriteFile(dir + "/meta/CURRENT", "garbage\n"));
  EXPECT_FALSE(Store::Open(dir, OpenMode::kReadOnly).ok());

  auto refused = RestoreStore(Options(dir));
  EXPECT_NE(refused.status().message().find("--replace"), std::string::npos);
  StoreRestoreOptions o = Options(dir);
  o.replace = true;
  ASSERT_OK_AND_ASSIGN(StoreRestoreResult r, RestoreStore(o));
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.packs, copied_packs);
  EXPECT_EQ(r.packs_kept, copied_packs - 1) << "the matching packs are kept, hashed";
  EXPECT_EQ(r.packs_copied, 1u) << "only the deleted one is copied";
  EXPECT_EQ(r.packs_moved_aside, packs.size() - copied_packs) << "day 4's pack";
  // Moved aside, never deleted: the old metadata, config and unlisted pack.
  ASSERT_EQ(r.moved_aside.size(), 3u);
  std::string meta_aside, packs_aside, config_aside;
  for (const auto& m : r.moved_aside) {
    if (m.rfind("meta.", 0) == 0) {
      meta_aside = m;
    } else if (m.rfind("packs.", 0) == 0) {
      packs_aside = m;
    } else {
      config_aside = m;
    }
  }
  EXPECT_EQ(testing::ReadFile(dir + "/" + meta_aside + "/CURRENT").value(), "garbage\n");
  EXPECT_TRUE(PathExists(dir + "/" + packs_aside + PackRelPath(packs.back()).substr(6)))
      << packs_aside;
  EXPECT_TRUE(PathExists(dir + "/" + config_aside)) << config_aside;
  auto restored = Store::Open(dir, OpenMode::kReadOnly);
  ASSERT_OK(restored);
  EXPECT_EQ(SnapshotNames(restored->get()), want) << "the store as the copy had it";
  testing::ExpectDaysWhole(restored->get(), {"alice", "bob"}, "replaced");
}

// The states a kill can leave a --replace in, written as the marker would
// have them: right after the marker (packs unchecked, meta/ the old store's),
// the resume hashes every pack again and moves a damaged one aside with the
// old metadata; after the metadata is in place (meta/ the restore's own), a
// resume replaces it without moving it aside.
TEST_F(StoreRestoreTest, AResumedReplaceChecksPacksAgainAndMovesOnlyTheOldMetadataAside) {
  DaysAndCopy();
  const std::string dir = store_->dir();
  RestoreMarker marker{fs::canonical(backup_).string(), 1, store_->meta().store_id,
                       /*started=*/12345, /*packs_verified=*/false, /*meta_ours=*/false};
  store_.reset();
  // Same size, other bytes: the store's own copy (not the backup's link) damaged.
  const std::string damaged = dir + "/" + PackRelPath(ListPackFiles(dir).back());
  std::string bytes = testing::ReadFile(damaged).value();
  ASSERT_EQ(::unlink(damaged.c_str()), 0);
  bytes[bytes.size() / 2] ^= 1;
  ASSERT_OK(testing::WriteFile(damaged, bytes));
  ASSERT_OK(WriteRestoreMarker(dir, marker));
  StoreRestoreOptions o = Options(dir);
  o.resume = true;
  ASSERT_OK_AND_ASSIGN(StoreRestoreResult r, RestoreStore(o));
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.packs_kept, r.packs - 1);
  EXPECT_EQ(r.packs_moved_aside, 1u);
  EXPECT_EQ(r.packs_copied, 1u);
  EXPECT_EQ(r.moved_aside, (std::vector<std::string>{"packs.replaced.12345/",
                                                     "config.replaced.12345.toml",
                                                     "meta.replaced.12345/"}));
  EXPECT_TRUE(testing::ReadFile(dir + "/packs.replaced.12345" + damaged.substr(dir.size() + 6))
                  .value() == bytes);
  // A kill after the metadata was in place: the marker says meta/ is ours.
  marker.packs_verified = true;
  marker.meta_ours = true;
  ASSERT_OK(WriteRestoreMarker(dir, marker));
  ASSERT_OK_AND_ASSIGN(StoreRestoreResult again, RestoreStore(o));
  EXPECT_TRUE(again.ok());
  EXPECT_TRUE(again.moved_aside.empty()) << again.moved_aside.front();
  EXPECT_EQ(again.packs_skipped, again.packs);
  EXPECT_FALSE(PathExists(dir + "/meta.replaced.12345.1"));
  auto restored = Store::Open(dir, OpenMode::kReadOnly);
  ASSERT_OK(restored);
  testing::ExpectDaysWhole(restored->get(), {"alice", "bob"}, "resumed replace");
}

TEST_F(StoreRestoreTest, RefusedWhileAnotherProcessHoldsTheStoreLock) {
  DaysAndCopy();
  const std::string dir = store_->dir();
  store_.reset();
  // Another process holds the lock the way a mount or server does (an
  // fcntl lock; within one process it would not conflict).
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const std::string lock_path = dir + "/lock";  // no allocation in the child
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    int fd = ::open(lock_path.c_str(), O_RDWR);
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    char ok = fd >= 0 && ::fcntl(fd, F_SETLK, &fl) == 0 ? '1' : '0';
    (void)!::write(ready[1], &ok, 1);
    ::pause();
    ::_exit(0);
  }
  char ok = 0;
  ASSERT_EQ(::read(ready[0], &ok, 1), 1);
  ASSERT_EQ(ok, '1');
  StoreRestoreOptions o = Options(dir);
  o.replace = true;
  auto r = RestoreStore(o);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ::close(ready[0]);
  ::close(ready[1]);
  EXPECT_CODE(r.status(), StatusCode::kBusy);
  EXPECT_EQ(r.status().message(), dir + " is in use by PID " + std::to_string(child) +
                                      "; unmount it (keepfs umount) or stop the server first");
  EXPECT_FALSE(PathExists(dir + "/RESTORING"));
  EXPECT_OK(Store::Open(dir, OpenMode::kReadOnly).status()) << "the store was not touched";
}

// A copy that lacks a pack (deleted from BACKUP and from its MANIFEST, so
// that the copy itself is consistent): the restore finishes, and its audit
// names exactly the snapshots and files that cannot be read.
TEST_F(StoreRestoreTest, APackMissingFromTheCopyIsReportedWithEverySnapshotItHurts) {
  DaysAndCopy();
  BackupManifest m = Manifest();
  const std::string lost = m.files.lower_bound("packs/")->first;  // the first: day 1's data
  ASSERT_EQ(lost.rfind("packs/", 0), 0u);
  ASSERT_EQ(::unlink((backup_ + "/" + lost).c_str()), 0);
  m.files.erase(lost);
  ASSERT_OK(WriteFileAtomic(backup_ + "/MANIFEST", EncodeBackupManifest(m)));
  const std::string at = tmp_.Join("restored");
  ASSERT_OK_AND_ASSIGN(StoreRestoreResult r, RestoreStore(Options(at)));
  EXPECT_FALSE(r.ok());
  EXPECT_GT(r.audit.problems, 0u);
  ASSERT_FALSE(r.audit.damaged.empty());
  EXPECT_FALSE(PathExists(at + "/RESTORING")) << "consistent and openable: the marker goes";
  auto restored = Store::Open(at, OpenMode::kReadOnly);
  ASSERT_OK(restored);
  // The oracle: the files that cannot be read back, snapshot by snapshot.
  std::map<std::string, std::vector<std::string>> unreadable;  // user/snapshot -> paths
  snapshot::Repo repo(restored->get());
  for (const char* user : {"alice", "bob"}) {
    ASSERT_OK_AND_ASSIGN(auto snaps, repo.ListSnapshots(user));
    for (const auto& s : snaps) {
      ASSERT_OK_AND_ASSIGN(auto node, repo.GetTreeNode(s.root));
      for (const auto& e : node.entries) {
        if (!testing::ReadSnapshotFile(restored->get(), s, e.name).ok()) {
          unreadable[std::string(user) + "/" + s.name].push_back(e.name);
        }
      }
    }
  }
  std::map<std::string, std::vector<std::string>> reported;
  for (const DamagedSnapshot& d : r.audit.damaged) reported[d.user + "/" + d.snapshot] = d.paths;
  EXPECT_FALSE(unreadable.empty());
  EXPECT_EQ(reported, unreadable);
  // And marked in the store, as repair marks what it cannot mend.
  ASSERT_OK_AND_ASSIGN(auto marked, snapshot::ListQuarantine(restored->get(), ""));
  std::map<std::string, std::vector<std::string>> quarantined;
  for (const auto& [who, q] : marked) {
    for (const auto& p : q.paths) quarantined[who.first + "/" + who.second].push_back(p.path);
  }
  for (auto& [snap, paths] : quarantined) std::sort(paths.begin(), paths.end());
  for (auto& [snap, paths] : unreadable) std::sort(paths.begin(), paths.end());
  EXPECT_EQ(quarantined, unreadable);
}

}  // namespace
}  // namespace keepfs
