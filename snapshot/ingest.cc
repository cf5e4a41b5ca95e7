#include "snapshot/ingest.h"

#include <dirent.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <future>
#include <map>
#include <thread>
#include <unordered_map>

#include "snapshot/accounting.h"
#include "snapshot/catalog.h"
#include "snapshot/commit.h"
#include "snapshot/posix_meta.h"
#include "snapshot/repo.h"
#include "store/coding.h"
#include "store/file_util.h"
#include "store/thread_pool.h"

namespace keepfs::snapshot {

namespace {

// Metadata batches of at most half a memtable ([mount] metadata_write_buffer;
// 16 MiB by default, 4 MiB with the small profile): a larger batch only
// forces a memtable switch, and the buffer is a large part of a backup's
// memory on a small NAS (docs/nas.md, "Low-memory profile").
size_t MetaFlushBytes(const Store& store) {
  return std::min<size_t>(16 << 20, store.config().mount.metadata_write_buffer_bytes / 2);
}
constexpr int kMaxDepth = 4096;
// Files of one folder whose results the walk may hold before it takes the
// oldest one's (WalkDir).
constexpr size_t kJobWindow = 256;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A files-cache hit must give everything the tree entry needs without
// touching the file: the content id and the xattrs (setting an xattr moves
// ctime, so a matching ctime means the cached xattrs are current).
struct CachedFile {
  ObjectId content;
  uint64_t generation = 0;  // content generation when the entry was written
  uint64_t hole_bytes = 0;
  std::vector<Xattr> xattrs;
};

std::string EncodeCacheValue(const struct stat& st, const ObjectId& content, uint64_t generation,
                             uint64_t hole_bytes, const std::vector<Xattr>& xattrs) {
  std::string v;
  Encoder enc(&v);
  enc.PutVarint(st.st_ino);
  enc.PutVarint(static_cast<uint64_t>(st.st_size));
  enc.PutSignedVarint(st.st_mtim.tv_sec);
  enc.PutVarint(static_cast<uint64_t>(st.st_mtim.tv_nsec));
  enc.PutSignedVarint(st.st_ctim.tv_sec);
  enc.PutVarint(static_cast<uint64_t>(st.st_ctim.tv_nsec));
  enc.PutBytes(content.AsBytes());
  enc.PutVarint(generation);
  enc.PutVarint(hole_bytes);
  EncodeXattrs(enc, xattrs);
  return v;
}

// True and *out set when the cached value matches st exactly. Unreadable
// entries (including those of an older layout) are simply misses.
bool CacheMatches(std::string_view value, const struct stat& st, CachedFile* out) {
  Decoder dec(value);
  uint64_t ino, size, mns, cns;
  int64_t ms, cs;
  std::string_view id;
  if (!dec.GetVarint(&ino) || !dec.GetVarint(&size) || !dec.GetSignedVarint(&ms) ||
      !dec.GetVarint(&mns) || !dec.GetSignedVarint(&cs) || !dec.GetVarint(&cns) ||
      !dec.GetBytes(32, &id) || !dec.GetVarint(&out->generation) ||
      !dec.GetVarint(&out->hole_bytes) || out->hole_bytes > size || !DecodeXattrs(dec, &out->xattrs) || !dec.empty()) {
    return false;
  }
  if (ino != st.st_ino || size != static_cast<uint64_t>(st.st_size) || ms != st.st_mtim.tv_sec ||
      mns != static_cast<uint64_t>(st.st_mtim.tv_nsec) || cs != st.st_ctim.tv_sec ||
      cns != static_cast<uint64_t>(st.st_ctim.tv_nsec)) {
    return false;
  }
  std::memcpy(out->content.bytes.data(), id.data(), 32);
  return true;
}

uint64_t LinkId(const struct stat& st) {
  uint64_t h = st.st_dev * 0x9e3779b97f4a7c15ULL ^ st.st_ino * 0xc2b2ae3d27d4eb4fULL;
  return h ? h : 1;
}

using FileFuture = std::shared_future<Result<FileResult>>;

// An error of the store itself, not of one source file: the backup stops.
bool IsFatal(const Status& s) {
  return s.code() == StatusCode::kNoSpace || s.IsCorruption() ||
         s.code() == StatusCode::kInternal;
}

class Walker {
 public:
  Walker(Store* store, const BackupOptions& options, BackupProgress* progress)
      : store_(store),
        options_(options),
        progress_(progress),
        meta_(store, MetaFlushBytes(*store)),
        chunk_pool_(options.workers, static_cast<size_t>(options.workers) * 4),
        cache_prefix_(FilesCachePrefix(options.user, options.source)),
        pool_(options.workers, static_cast<size_t>(options.workers) * 4) {
    if (options.use_files_cache) cache_it_ = store->kv().NewIterator(cache_prefix_);
  }


  Result<SnapshotRecord> Run();

 private:
  // Writes the directory's tree and sets *below to the number of entries
  // under it (the dir entry's size).
  Result<ObjectId> WalkDir(SourceDir& dir, const std::string& key, const std::string& path,
                           int depth, uint64_t* below);
  Status VisitChild(SourceDir& dir, const std::string& name, const std::string& key,
                    const std::string& path, int depth, Entry* e, std::optional<FileFuture>* job);
  FileFuture StartFile(SourceDir& dir, const std::string& name, const std::string& key,
                       const struct stat& st);
  std::optional<CachedFile> CacheLookup(const std::string& key, const struct stat& st);
  // Adds a files-cache hit's content and its chunks to the hold; false if
  // the content or a chunk is gone (the file is read again).
  Result<bool> HoldCached(const CachedFile& cached, const struct stat& st);
  FileIngester* IngesterForThisThread();
  void AddError(const std::string& path, const std::string& message) {
    std::lock_guard<std::mutex> lock(errors_mu_);
    errors_.push_back({path, message});
  }

  Store* store_;
  const BackupOptions& options_;
  BackupProgress* progress_;
  MetaBuffer meta_;
  NewObjects new_objects_;  // what this backup stored: its commit reads none of it back
  // Everything the backup found or stored, so that the garbage collector
  // leaves it alone until the commit references it (ObjectGuard).
  // Destroyed after the chunk pool, whose workers add to it.
  std::unique_ptr<ObjectGuard::Hold> hold_ = store_->guard().NewBackupHold();
  ThreadPool chunk_pool_;  // compresses and packs new chunks; outlives the ingesters
  std::mutex ingesters_mu_;
  std::map<std::thread::id, std::unique_ptr<FileIngester>> ingesters_;  // GUARDED_BY
  std::mutex errors_mu_;
  std::vector<SnapshotError> errors_;  // GUARDED_BY(errors_mu_)
  // Walker-thread state.
  std::string cache_prefix_;
  std::unique_ptr<KvIterator> cache_it_;
  uint64_t generation_ = 0;  // the store's content generation when the walk began
  uint64_t deletions_ = 0;   // ObjectGuard::deletions() read together with generation_
  std::map<std::pair<dev_t, ino_t>, FileFuture> hardlinks_;
  std::map<uint64_t, uint64_t> link_counts_;  // link_id -> names kept in the snapshot
  uint64_t others_ = 0;
  uint64_t bytes_logical_ = 0;
  uint64_t since_flush_ = 0;
  Status fatal_;  // a store error seen anywhere below: the walk unwinds with it
  ThreadPool pool_;  // last: joined first, before the state its jobs use
};

FileIngester* Walker::IngesterForThisThread() {
  std::lock_guard<std::mutex> lock(ingesters_mu_);
  auto& slot = ingesters_[std::this_thread::get_id()];
  if (!slot) {
    slot = std::make_unique<FileIngester>(store_, &meta_, &progress_->counters, &chunk_pool_,
                                          &new_objects_, hold_.get());
  }
  return slot.get();
}

// Files-cache entries are keyed by path components joined with NUL, which
// sorts exactly like the depth-first name-ordered walk. So one forward
// iterator follows the walk, and the entries it passes over belong to files
// that no longer exist: they are deleted.
//
// An entry written under the current generation names a content whose
// chunks all still exist (every batch of the garbage collector that deletes
// anything bumps the generation, docs/gc.md), so a hit costs only the read
// of the content's record (HoldCached). An older entry is checked against
// the store once and re-stamped.
std::optional<CachedFile> Walker::CacheLookup(const std::string& key, const struct stat& st) {
  if (!cache_it_) return std::nullopt;
  while (cache_it_->Valid() && cache_it_->key() < key) {
    meta_.Delete(std::string(cache_it_->key()));
    cache_it_->Next();
  }
  if (!cache_it_->Valid() || cache_it_->key() != key) return std::nullopt;
  CachedFile cached;
  bool match = CacheMatches(cache_it_->value(), st, &cached);
  cache_it_->Next();
  if (!match) return std::nullopt;
  auto held = HoldCached(cached, st);
  if (!held.ok() || !*held) return std::nullopt;
  if (cached.generation != generation_) {
    meta_.Put(key, EncodeCacheValue(st, cached.content, generation_, cached.hole_bytes, cached.xattrs));
  }
  return cached;
}

// The commit will reference the content and, through it, its chunks; they
// may be unreferenced right now (the snapshot that had them was pruned), so
// all of them go into the hold, under the guard, before they are trusted.
// Whether they still exist needs asking only when something was deleted
// since the entry was written (its generation is older) or since the walk
// began (a collector ran meanwhile).
Result<bool> Walker::HoldCached(const CachedFile& cached, const struct stat& st) {
  auto shared = store_->guard().Shared();
  hold_->Add('o', cached.content);
  bool verify = cached.generation != generation_ || store_->guard().deletions() != deletions_;
  // A file up to inline_max is stored inside its content record: no chunks.
  if (static_cast<uint64_t>(st.st_size) <= store_->meta().inline_max && !verify) return true;
  std::string value;
  KEEPFS_ASSIGN_OR_RETURN(bool found, store_->kv().Get(ContentKey(cached.content), &value));
  if (!found) return false;
  return HoldBelowContent(store_, hold_.get(), value, verify);
}

FileFuture Walker::StartFile(SourceDir& dir, const std::string& name, const std::string& rel_key,
                             const struct stat& st) {
  std::string key = cache_prefix_ + rel_key;
  if (auto cached = CacheLookup(key, st)) {
    progress_->counters.files.fetch_add(1, std::memory_order_relaxed);
    progress_->counters.files_cached.fetch_add(1, std::memory_order_relaxed);
    std::promise<Result<FileResult>> done;
    FileResult r;
    r.content_id = cached->content;
    r.size = static_cast<uint64_t>(st.st_size);
    r.hole_bytes = cached->hole_bytes;
    r.st = st;
    r.xattrs = std::move(cached->xattrs);
    done.set_value(std::move(r));
    return done.get_future().share();
  }
  std::string cache_key = options_.use_files_cache ? key : std::string();
  return pool_
      .Submit([this, d = &dir, name, cache_key]() -> Result<FileResult> {
        auto r = IngesterForThisThread()->Ingest(*d, name);
        if (r.ok() && !r->unstable && r->xattr_error.empty() && !cache_key.empty()) {
          meta_.Put(cache_key, EncodeCacheValue(r->st, r->content_id, generation_, r->hole_bytes, r->xattrs));
        }
        return r;
      })
      .share();
}

Status Walker::VisitChild(SourceDir& dir, const std::string& name, const std::string& key,
                          const std::string& path, int depth, Entry* e,
                          std::optional<FileFuture>* job) {
  struct stat st;
  KEEPFS_RETURN_IF_ERROR(dir.Stat(name, &st));
  KEEPFS_ASSIGN_OR_RETURN(*e, EntryFromStat(name, st));
  if (e->type != EntryType::kFile) {  // a file's xattrs come with its content (FileResult)
    auto xattrs = dir.Xattrs(name);
    if (xattrs.ok()) {
      e->xattrs = std::move(*xattrs);
    } else {
      AddError(path, xattrs.status().message() + " (stored without xattrs)");
    }
  }
  switch (e->type) {
    case EntryType::kFile:
      if (st.st_nlink > 1) {
        e->link_id = LinkId(st);
        auto [it, fresh] = hardlinks_.try_emplace({st.st_dev, st.st_ino});
        if (fresh) it->second = StartFile(dir, name, key, st);
        *job = it->second;
      } else {
        *job = StartFile(dir, name, key, st);
      }
      return Status::OK();
    case EntryType::kDir: {
      KEEPFS_ASSIGN_OR_RETURN(std::unique_ptr<SourceDir> child, dir.OpenDir(name));
      KEEPFS_ASSIGN_OR_RETURN(e->ref, WalkDir(*child, key, path, depth + 1, &e->size));
      return Status::OK();
    }
    case EntryType::kSymlink: {
      KEEPFS_ASSIGN_OR_RETURN(e->target, dir.ReadLink(name));
      e->size = e->target.size();
      ++others_;
      return Status::OK();
    }
    default:
      ++others_;
      return Status::OK();
  }
}

Result<ObjectId> Walker::WalkDir(SourceDir& dir, const std::string& key, const std::string& path,
                                 int depth, uint64_t* below) {
  if (depth > kMaxDepth) return Status::NotSupported("directory nesting deeper than 4096");
  progress_->SetCurrent(path);
  KEEPFS_ASSIGN_OR_RETURN(std::vector<std::string> names, dir.List());
  std::sort(names.begin(), names.end());  // byte order, the order trees are stored in
  std::vector<Entry> entries(names.size());
  std::vector<std::optional<FileFuture>> jobs(names.size());
  std::vector<bool> keep(names.size(), true);
  // Jobs read through dir: on an early return, wait for them before the
  // caller closes it.
  struct WaitAll {
    std::vector<std::optional<FileFuture>>& jobs;
    ~WaitAll() {
      for (auto& j : jobs)
        if (j) j->wait();
    }
  } wait_all{jobs};
  auto child_path = [&](size_t i) { return path.empty() ? names[i] : path + "/" + names[i]; };
  // Takes what the file's job read into its entry and lets the job go.
  auto finish = [&](size_t i) -> Status {
    if (!keep[i] || !jobs[i]) return Status::OK();
    const Result<FileResult> r = jobs[i]->get();
    jobs[i].reset();
    if (!r.ok()) {
      // An error of the store itself (not of this one file) aborts the backup.
      if (IsFatal(r.status()) || !store_->chunks().write_status().ok()) {
        return fatal_ = r.status().WithContext(child_path(i));
      }
      AddError(child_path(i), r.status().message());
      keep[i] = false;
      return Status::OK();
    }
    if (r->unstable) AddError(child_path(i), r->unstable_why);
    if (!r->xattr_error.empty()) {
      AddError(child_path(i), r->xattr_error + " (stored without xattrs)");
    }
    Entry& e = entries[i];
    std::string name = std::move(e.name);
    uint64_t link_id = e.link_id;
    auto fresh = EntryFromStat(std::move(name), r->st);  // metadata matching the content read
    if (fresh.ok()) e = std::move(*fresh);
    e.link_id = link_id;
    e.xattrs = r->xattrs;
    e.ref = r->content_id;
    e.size = r->size;
    e.hole_bytes = r->hole_bytes;
    bytes_logical_ += r->size;
    return Status::OK();
  };
  size_t finished = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    if (options_.cancel && options_.cancel->load()) {
      return fatal_ = Status::Cancelled("backup cancelled; nothing was committed");
    }
    std::string child_key = key.empty() ? names[i] : key + '\0' + names[i];
    Status s = VisitChild(dir, names[i], child_key, child_path(i), depth, &entries[i], &jobs[i]);
    if (!s.ok()) {
      if (!fatal_.ok()) return fatal_;
      if (IsFatal(s) || !store_->chunks().write_status().ok()) return fatal_ = s;
      AddError(child_path(i), s.message());
      keep[i] = false;
    }
    // Only a window of files is in flight: a folder of a million files must
    // not hold a million results (a stat, xattrs and a future each) at once.
    // The pool's queue is far shorter, so the oldest job is done or nearly.
    while (finished + kJobWindow <= i) KEEPFS_RETURN_IF_ERROR(finish(finished++));
    if (++since_flush_ >= 1024) {
      since_flush_ = 0;
      if (Status f = meta_.MaybeFlush(); !f.ok()) return fatal_ = f;
    }
  }
  while (finished < names.size()) KEEPFS_RETURN_IF_ERROR(finish(finished++));
  // The kept entries, compacted in place (a copy would double the memory of
  // a huge folder).
  size_t kept = 0;
  *below = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (!keep[i]) continue;
    *below += EntrySpan(entries[i]);
    if (entries[i].link_id != 0) ++link_counts_[entries[i].link_id];
    if (kept != i) entries[kept] = std::move(entries[i]);
    ++kept;
  }
  entries.resize(kept);
  std::vector<std::string>().swap(names);
  progress_->counters.dirs.fetch_add(1, std::memory_order_relaxed);
  auto tree = WriteTree(std::move(entries), [this](std::string encoded) -> Result<ObjectId> {
    ObjectId id = Sha256::Of(encoded);
    std::string tkey = TreeKey(id);
    // Everything below the node is in the hold already (the walk found or
    // stored it); now the node itself, before the lookup.
    auto shared = store_->guard().Shared();
    hold_->Add('t', id);
    KEEPFS_ASSIGN_OR_RETURN(bool exists, store_->kv().Contains(tkey));
    if (!exists) {
      meta_.Put(std::move(tkey), std::move(encoded));
      new_objects_.AddTree(id);
    }
    return id;
  });
  if (!tree.ok()) fatal_ = tree.status();
  return tree;
}

Result<SnapshotRecord> Walker::Run() {
  SnapshotRecord rec;
  rec.user = options_.user;
  rec.source = options_.source;
  rec.started_ns = NowNs();
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  rec.hostname = host;
  SourceFs* fs = options_.source_fs ? options_.source_fs : SourceFs::Posix();
  KEEPFS_ASSIGN_OR_RETURN(std::unique_ptr<SourceDir> root, fs->OpenRoot(options_.source));
  {
    struct stat st;
    KEEPFS_RETURN_IF_ERROR(root->StatSelf(&st));
    KEEPFS_ASSIGN_OR_RETURN(Entry self, EntryFromStat("", st));
    RootMeta m{self.mode, self.uid, self.gid, self.mtime_sec, self.mtime_nsec, {}};
    auto xattrs = root->XattrsSelf();
    if (xattrs.ok()) {
      m.xattrs = std::move(*xattrs);
    } else {
      AddError("", xattrs.status().message() + " (stored without xattrs)");
    }
    rec.root_meta = std::move(m);
  }
  {
    // Read together, under the guard, so that an unchanged deletions()
    // later means the generation is still current.
    auto shared = store_->guard().Shared();
    deletions_ = store_->guard().deletions();
    std::string value;
    KEEPFS_ASSIGN_OR_RETURN(bool found, store_->kv().Get(kContentGenerationKey, &value));
    if (found) {
      KEEPFS_ASSIGN_OR_RETURN(generation_, DecodeContentGeneration(value));
    }
  }
  // Before anything is stored: a backup that commits after this point may
  // hold what this one stores as new.
  const uint64_t commits_at_start = store_->backup_commits();
  uint64_t below = 0;
  // The walk recurses once per folder level, as deep as the source goes.
  Result<ObjectId> walked = Status::Internal("the walk did not run");
  RunWithStack(kTreeWalkStackBytes, [&] { walked = WalkDir(*root, "", "", 0, &below); });
  KEEPFS_ASSIGN_OR_RETURN(rec.root, std::move(walked));
  rec.links.assign(link_counts_.begin(), link_counts_.end());
  if (cache_it_) {  // entries after the last file visited are stale too
    for (; cache_it_->Valid(); cache_it_->Next()) meta_.Delete(std::string(cache_it_->key()));
  }
  rec.time_sec = options_.time_sec ? *options_.time_sec : rec.started_ns / 1000000000;
  if (options_.before_commit_for_test) {
    KEEPFS_RETURN_IF_ERROR(meta_.Flush());
    options_.before_commit_for_test();
  }
  const IngestCounters& c = progress_->counters;
  rec.stats = {c.files.load(), c.dirs.load(), others_, bytes_logical_, c.bytes_read.load(),
               c.bytes_new.load(), c.bytes_stored.load(), c.files_cached.load()};
  {
    std::lock_guard<std::mutex> lock(errors_mu_);
    rec.errors = errors_;
  }
  CommitOptions commit;
  commit.fresh = &new_objects_;
  commit.commits_at_start = commits_at_start;
  commit.cancel = options_.cancel;
  return CommitSnapshot(store_, &meta_, std::move(rec), commit);
}

}  // namespace

Result<SnapshotRecord> Backup(Store* store, const BackupOptions& options,
                              BackupProgress* progress) {
  KEEPFS_RETURN_IF_ERROR(ValidateUserName(options.user));
  if (!store->writable()) return Status::Internal("Backup needs a writable store");
  BackupOptions opts = options;
  if (opts.workers <= 0) {
    opts.workers = std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
  }
  BackupProgress local;
  Walker walker(store, opts, progress ? progress : &local);
  return walker.Run();
}

}  // namespace keepfs::snapshot
