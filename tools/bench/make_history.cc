// keepfs_make_history: a big store, fast, for the memory and history
// benchmarks (tools/bench/nas_memory.sh, tools/bench/history.sh).
//
// One user holds N snapshots (default 1,000, one a day) of a tree of M files
// (default 1,000,000) in folders of about P (default 1,000):
//
//   docs/                 report.txt (changes in snapshot 0, 10, 20, ...: 100
//                         versions in 1,000 snapshots), readme.txt and 8 more
//                         files that never change
//   tNN/fMMM/             data.log (96-288 KiB, chunked into packs), then
//                         fileNNNNNNN.EXT (16 B - 4 KiB, inline)
//
// Each snapshot after the first changes K (default 5) random files of the
// tNN/ folders. Backing a million files up 1,000 times would take hours, so
// the tool does what a backup with a perfect files cache would do: it stores
// only the files that changed, each through the real FileIngester, rewrites
// only the folders above them (WriteTree: an unchanged folder keeps its tree
// id), and commits every snapshot through snapshot::CommitSnapshot, the
// commit of every backup (reference counts, holders, usage, the synced
// snapshot record). `keepfs check` passes on the result.
//
//   keepfs_make_history --store DIR [--user alice] [--snapshots 1000]
//       [--files 1000000] [--per-folder 1000] [--changes 5] [--seed 1] [--jobs 2]
//
// DIR is created (keepfs init defaults) unless it is a store already; the
// user must have no snapshots there yet.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "snapshot/accounting.h"
#include "snapshot/catalog.h"
#include "snapshot/commit.h"
#include "snapshot/file_ingester.h"
#include "snapshot/meta_buffer.h"
#include "snapshot/repo.h"
#include "store/file_util.h"
#include "store/store.h"
#include "store/thread_pool.h"
#include "tools/bench/synthetic_files.h"

namespace keepfs::bench {
namespace {

using snapshot::Entry;
using snapshot::EntryType;

struct Args {
  std::string store;
  std::string user = "alice";
  uint64_t snapshots = 1000;
  uint64_t files = 1000000;
  uint64_t per_folder = 1000;
  uint64_t changes = 5;
  uint64_t seed = 1;
  int jobs = 2;
  int64_t start = 1672542000;  // 2023-01-01 03:00:00 UTC; one snapshot a day from there
};

constexpr const char* kDocs[] = {"report.txt", "readme.txt", "budget.csv", "letter.odt",
                                 "notes.md",   "photo.jpg",  "plan.txt",   "slides.odp",
                                 "table.ods",  "todo.txt"};
constexpr uint64_t kDocCount = sizeof kDocs / sizeof kDocs[0];
constexpr uint64_t kReport = 0;  // docs/report.txt: changes every kReportEvery snapshots
constexpr uint64_t kReportEvery = 10;
constexpr const char* kExts[] = {".txt", ".md", ".c", ".h", ".json", ".csv", ".py", ".log"};
constexpr size_t kMetaFlushBytes = 16 << 20;

struct FileState {
  ObjectId content;
  uint64_t size = 0;
  int64_t mtime = 0;
  uint32_t version = 0;
};

// A folder of files (docs/ or a leaf fMMM/): files [first, first + count).
struct Folder {
  std::string name;
  uint64_t first = 0, count = 0;
  ObjectId tree;
  int64_t mtime = 0;
  bool dirty = true;
};

// A top folder tNN/: leaves [first, first + count) of the leaf folders.
struct Top {
  std::string name;
  uint64_t first = 0, count = 0;
  ObjectId tree;
  uint64_t below = 0;
  int64_t mtime = 0;
  bool dirty = true;
};

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double Seconds(int64_t since_ns) { return static_cast<double>(NowNs() - since_ns) / 1e9; }

// What one snapshot stores: the objects of its commit. Members in
// destruction order: ingesters drain into the chunk pool, whose jobs add to
// the hold and fresh.
struct Pass {
  explicit Pass(Store* store)
      : meta(store, kMetaFlushBytes), hold(store->guard().NewBackupHold()),
        commits_at_start(store->backup_commits()) {}
  snapshot::MetaBuffer meta;
  snapshot::NewObjects fresh;
  std::unique_ptr<ObjectGuard::Hold> hold;
  uint64_t commits_at_start;
  snapshot::IngestCounters counters;
  ThreadPool chunk_pool{2, 8};
  std::mutex mu;
  std::map<std::thread::id, std::unique_ptr<snapshot::FileIngester>> ingesters;  // GUARDED_BY(mu)
};

class Generator {
 public:
  Generator(Store* store, const Args& a) : store_(store), a_(a) {}
  Status Run();

 private:
  void Layout();
  std::string FileName(uint64_t i) const;
  size_t FileSize(uint64_t i, uint32_t version) const;
  snapshot::FileIngester* Ingester(Pass& pass);
  Status StoreFile(Pass& pass, uint64_t i, uint32_t version, int64_t mtime);
  Result<ObjectId> WriteFolder(Pass& pass, std::vector<Entry> entries);
  Status WriteLeaf(Pass& pass, Folder& f);
  Status StoreAll(Pass& pass, int64_t mtime);
  Result<ObjectId> WriteUpper(Pass& pass, int64_t time);
  Status Commit(Pass& pass, int64_t time);

  Store* store_;
  Args a_;
  std::vector<FileState> files_;
  std::vector<Folder> folders_;  // [0] is docs/, then the leaves in top order
  std::vector<Top> tops_;
  uint64_t bytes_logical_ = 0;
  uint64_t changed_files_ = 0;  // of the snapshot being made
};

void Generator::Layout() {
  const uint64_t leaf_files = a_.files > kDocCount ? a_.files - kDocCount : 0;
  const uint64_t leaves = std::max<uint64_t>(1, (leaf_files + a_.per_folder - 1) / a_.per_folder);
  const uint64_t per_top = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(std::sqrt(leaves))));
  files_.resize(kDocCount + leaf_files);
  folders_.push_back({"docs", 0, kDocCount});
  uint64_t next = kDocCount;
  for (uint64_t l = 0; l < leaves; ++l) {
    uint64_t n = leaf_files / leaves + (l < leaf_files % leaves ? 1 : 0);
    char name[32];
    std::snprintf(name, sizeof name, "f%03llu", static_cast<unsigned long long>(l % per_top));
    folders_.push_back({name, next, n});
    next += n;
    if (l % per_top == 0) {
      std::snprintf(name, sizeof name, "t%02llu", static_cast<unsigned long long>(l / per_top));
      tops_.push_back({name, 1 + l, 0});
    }
    ++tops_.back().count;
  }
}

std::string Generator::FileName(uint64_t i) const {
  if (i < kDocCount) return kDocs[i];
  // The first file of a leaf is its big one.
  auto leaf = std::upper_bound(folders_.begin() + 1, folders_.end(), i,
                               [](uint64_t x, const Folder& f) { return x < f.first; }) - 1;
  if (i == leaf->first) return "data.log";
  char name[48];
  std::snprintf(name, sizeof name, "file%07llu%s", static_cast<unsigned long long>(i),
                kExts[Mix(i) % (sizeof kExts / sizeof kExts[0])]);
  return name;
}

size_t Generator::FileSize(uint64_t i, uint32_t version) const {
  uint64_t h = Mix(a_.seed ^ Mix(i * 7919 + version));
  if (i < kDocCount) return 2000 + h % 2000;
  auto leaf = std::upper_bound(folders_.begin() + 1, folders_.end(), i,
                               [](uint64_t x, const Folder& f) { return x < f.first; }) - 1;
  if (i == leaf->first) return (96 << 10) + h % (192 << 10);
  if (h % 20 == 0) return 1024 + (h >> 8) % 3072;  // 5%: 1-4 KiB
  return 16 + (h >> 8) % 1000;
}

snapshot::FileIngester* Generator::Ingester(Pass& pass) {
  std::lock_guard<std::mutex> lock(pass.mu);
  auto& slot = pass.ingesters[std::this_thread::get_id()];
  if (!slot) {
    slot = std::make_unique<snapshot::FileIngester>(store_, &pass.meta, &pass.counters,
                                                    &pass.chunk_pool, &pass.fresh, pass.hold.get());
  }
  return slot.get();
}

Status Generator::StoreFile(Pass& pass, uint64_t i, uint32_t version, int64_t mtime) {
  std::string name = FileName(i);
  OneFileDir dir(name, SyntheticText(a_.seed, i, version, FileSize(i, version)), mtime, i + 1);
  KEEPFS_ASSIGN_OR_RETURN(snapshot::FileResult r, Ingester(pass)->Ingest(dir, name));
  FileState& s = files_[i];
  s.content = r.content_id;
  s.size = r.size;
  s.mtime = mtime;
  s.version = version;
  return Status::OK();
}

// As the backup's walker writes a folder: every node goes into the hold, and
// a node the store lacks is written and recorded as new.
Result<ObjectId> Generator::WriteFolder(Pass& pass, std::vector<Entry> entries) {
  std::sort(entries.begin(), entries.end(),
            [](const Entry& x, const Entry& y) { return x.name < y.name; });
  return snapshot::WriteTree(std::move(entries), [&](std::string encoded) -> Result<ObjectId> {
    ObjectId id = Sha256::Of(encoded);
    std::string key = snapshot::TreeKey(id);
    auto shared = store_->guard().Shared();
    pass.hold->Add('t', id);
    KEEPFS_ASSIGN_OR_RETURN(bool exists, store_->kv().Contains(key));
    if (!exists) {
      pass.meta.Put(std::move(key), std::move(encoded));
      pass.fresh.AddTree(id);
    }
    return id;
  });
}

Entry DirEntry(const std::string& name, const ObjectId& tree, uint64_t below, int64_t mtime) {
  Entry e;
  e.name = name;
  e.type = EntryType::kDir;
  e.mode = 0755;
  e.uid = e.gid = 1000;
  e.mtime_sec = mtime;
  e.size = below;
  e.ref = tree;
  return e;
}

Status Generator::WriteLeaf(Pass& pass, Folder& f) {
  std::vector<Entry> entries(f.count);
  for (uint64_t k = 0; k < f.count; ++k) {
    const FileState& s = files_[f.first + k];
    Entry& e = entries[k];
    e.name = FileName(f.first + k);
    e.mode = 0644;
    e.uid = e.gid = 1000;
    e.mtime_sec = s.mtime;
    e.size = s.size;
    e.ref = s.content;
  }
  KEEPFS_ASSIGN_OR_RETURN(f.tree, WriteFolder(pass, std::move(entries)));
  f.dirty = false;
  return Status::OK();
}

// The first snapshot: every file, a leaf folder per job on a.jobs threads.
Status Generator::StoreAll(Pass& pass, int64_t mtime) {
  std::mutex mu;
  Status first_error;
  {
    ThreadPool pool(a_.jobs, static_cast<size_t>(a_.jobs) * 2);
    for (Folder& f : folders_) {
      pool.Submit([&, folder = &f] {
        Status s;
        for (uint64_t k = 0; k < folder->count && s.ok(); ++k) {
          s = StoreFile(pass, folder->first + k, 0, mtime);
        }
        if (s.ok()) s = WriteLeaf(pass, *folder);
        if (s.ok()) s = pass.meta.MaybeFlush();
        std::lock_guard<std::mutex> lock(mu);
        if (!s.ok() && first_error.ok()) first_error = s;
      });
    }
  }  // joins
  for (const FileState& s : files_) bytes_logical_ += s.size;
  return first_error;
}

// Rewrites the dirty top folders and the root; returns the root tree.
Result<ObjectId> Generator::WriteUpper(Pass& pass, int64_t time) {
  std::vector<Entry> root;
  root.push_back(DirEntry(folders_[0].name, folders_[0].tree, folders_[0].count, folders_[0].mtime));
  for (Top& t : tops_) {
    if (t.dirty) {
      std::vector<Entry> entries;
      t.below = 0;
      for (uint64_t l = t.first; l < t.first + t.count; ++l) {
        const Folder& f = folders_[l];
        entries.push_back(DirEntry(f.name, f.tree, f.count, f.mtime));
        t.below += 1 + f.count;
      }
      KEEPFS_ASSIGN_OR_RETURN(t.tree, WriteFolder(pass, std::move(entries)));
      t.mtime = time;
      t.dirty = false;
    }
    root.push_back(DirEntry(t.name, t.tree, t.below, t.mtime));
  }
  return WriteFolder(pass, std::move(root));
}

Status Generator::Commit(Pass& pass, int64_t time) {
  snapshot::SnapshotRecord rec;
  rec.user = a_.user;
  rec.source = "/home/" + a_.user;
  rec.hostname = "keepfs_make_history";
  rec.started_ns = NowNs();
  rec.time_sec = time;
  KEEPFS_ASSIGN_OR_RETURN(rec.root, WriteUpper(pass, time));
  rec.root_meta = snapshot::RootMeta{0755, 1000, 1000, time, 0, {}};
  const auto& c = pass.counters;
  rec.stats = {files_.size(),       folders_.size() + tops_.size() + 1, 0, bytes_logical_,
               c.bytes_read.load(), c.bytes_new.load(), c.bytes_stored.load(),
               files_.size() - changed_files_};
  snapshot::CommitOptions o;
  o.fresh = &pass.fresh;
  o.commits_at_start = pass.commits_at_start;
  return snapshot::CommitSnapshot(store_, &pass.meta, std::move(rec), o).status();
}

Status Generator::Run() {
  KEEPFS_ASSIGN_OR_RETURN(auto existing, snapshot::Repo(store_).ListSnapshots(a_.user));
  if (!existing.empty()) {
    return Status::InvalidArgument("user " + a_.user + " already has snapshots in " + a_.store +
                                   ": use a fresh store or another --user");
  }
  Layout();
  const int64_t t0 = NowNs();
  {
    Pass pass(store_);
    changed_files_ = files_.size();
    for (Folder& f : folders_) f.mtime = a_.start - 3600;
    KEEPFS_RETURN_IF_ERROR(StoreAll(pass, a_.start - 3600));
    KEEPFS_RETURN_IF_ERROR(Commit(pass, a_.start));
  }
  const double first_s = Seconds(t0);
  std::cerr << "[make_history] snapshot 1/" << a_.snapshots << ": " << files_.size()
            << " files in " << folders_.size() + tops_.size() << " folders, " << first_s
            << " s\n";
  const int64_t t1 = NowNs();
  const uint64_t leaf_files = files_.size() - kDocCount;
  for (uint64_t n = 1; n < a_.snapshots; ++n) {
    const int64_t time = a_.start + static_cast<int64_t>(n) * 86400;
    Pass pass(store_);
    std::vector<uint64_t> changed;
    if (n % kReportEvery == 0) changed.push_back(kReport);
    for (uint64_t k = 0; k < a_.changes && leaf_files > 0; ++k) {
      changed.push_back(kDocCount + Mix(a_.seed * 1000003 + n * 131 + k) % leaf_files);
    }
    std::sort(changed.begin(), changed.end());
    changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
    changed_files_ = changed.size();
    for (uint64_t i : changed) {
      bytes_logical_ -= files_[i].size;
      KEEPFS_RETURN_IF_ERROR(StoreFile(pass, i, files_[i].version + 1, time - 3600));
      bytes_logical_ += files_[i].size;
      auto f = std::upper_bound(folders_.begin(), folders_.end(), i,
                                [](uint64_t x, const Folder& g) { return x < g.first; }) - 1;
      f->dirty = true;
      f->mtime = time - 3600;
      size_t leaf = static_cast<size_t>(f - folders_.begin());
      for (Top& t : tops_) {
        if (leaf >= t.first && leaf < t.first + t.count) t.dirty = true;
      }
    }
    for (Folder& f : folders_) {
      if (f.dirty) KEEPFS_RETURN_IF_ERROR(WriteLeaf(pass, f));
    }
    KEEPFS_RETURN_IF_ERROR(Commit(pass, time));
    if ((n + 1) % 100 == 0 || n + 1 == a_.snapshots) {
      std::cerr << "[make_history] snapshot " << n + 1 << "/" << a_.snapshots << ", "
                << Seconds(t1) << " s since the first\n";
    }
  }
  std::cout << "{\"snapshots\":" << a_.snapshots << ",\"files\":" << files_.size()
            << ",\"folders\":" << folders_.size() + tops_.size()
            << ",\"first_snapshot_s\":" << first_s << ",\"other_snapshots_s\":" << Seconds(t1)
            << ",\"total_s\":" << Seconds(t0) << "}\n";
  return Status::OK();
}

bool ParseArgs(int argc, char** argv, Args* a) {
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (k == "-h" || k == "--help") return false;
    if (i + 1 >= argc) return false;
    std::string v = argv[++i];
    char* end = nullptr;
    unsigned long long n = std::strtoull(v.c_str(), &end, 10);
    bool num = end && *end == '\0' && !v.empty();
    if (k == "--store") a->store = v;
    else if (k == "--user") a->user = v;
    else if (k == "--snapshots" && num && n > 0) a->snapshots = n;
    else if (k == "--files" && num && n > 0) a->files = n;
    else if (k == "--per-folder" && num && n > 0) a->per_folder = n;
    else if (k == "--changes" && num) a->changes = n;
    else if (k == "--seed" && num) a->seed = n;
    else if (k == "--jobs" && num && n > 0 && n <= 64) a->jobs = static_cast<int>(n);
    else return false;
  }
  return !a->store.empty();
}

int Main(int argc, char** argv) {
  Args a;
  if (!ParseArgs(argc, argv, &a)) {
    std::cerr << "usage: keepfs_make_history --store DIR [--user alice] [--snapshots 1000]\n"
                 "         [--files 1000000] [--per-folder 1000] [--changes 5] [--seed 1]"
                 " [--jobs 2]\n";
    return 2;
  }
  auto fail = [](const Status& s) {
    std::cerr << "keepfs_make_history: " << s.message() << "\n";
    return 1;
  };
  if (Status s = snapshot::ValidateUserName(a.user); !s.ok()) return fail(s);
  if (!PathExists(a.store + "/config.toml")) {
    if (Status s = Store::Init(a.store, InitOptions()); !s.ok()) return fail(s);
  }
  auto store = Store::Open(a.store, OpenMode::kReadWrite);
  if (!store.ok()) return fail(store.status());
  Generator g(store->get(), a);
  if (Status s = g.Run(); !s.ok()) return fail(s);
  return 0;
}

}  // namespace
}  // namespace keepfs::bench

int main(int argc, char** argv) {
  try {
    return keepfs::bench::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "keepfs_make_history: " << e.what() << "\n";
    return 1;
  }
}
