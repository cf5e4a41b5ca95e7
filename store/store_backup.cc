#include "store/store_backup.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <filesystem>
#include <memory>
#include <mutex>

#include "store/backup_manifest.h"
#include "store/chunk_store.h"
#include "store/file_util.h"
#include "store/kv_store.h"
#include "store/pack.h"

namespace keepfs {

namespace {

// What Place puts: a file (path), which may be hard-linked, or a stream
// (read) of a pack without a local file.
struct Source {
  std::string path;
  ReadNext read;
};

// Puts src at dest/rel: a hard link when src is a file on the same
// filesystem, else a copy through tmp; either way durable (file and
// directory synced).
Result<BackupFile> Place(const Source& src, const std::string& dest, const std::string& rel,
                         bool* linked) {
  const std::string final_path = dest + "/" + rel;
  const std::string dir = final_path.substr(0, final_path.rfind('/'));
  KEEPFS_RETURN_IF_ERROR(MakeDirs(dir));
  ::unlink(final_path.c_str());  // a leftover of an interrupted run, named by no manifest
  *linked = !src.path.empty() && ::link(src.path.c_str(), final_path.c_str()) == 0;
  BackupFile e;
  if (*linked) {
    KEEPFS_ASSIGN_OR_RETURN(e, CopyHashing(final_path, ""));
  } else {
    std::string tmp = dest + "/tmp/" + std::to_string(::getpid()) + ".copy";
    KEEPFS_ASSIGN_OR_RETURN(e, src.path.empty() ? CopyHashing(src.read, tmp)
                                                : CopyHashing(src.path, tmp));
    if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
      return Status::FromErrno(errno, "renaming into " + final_path);
    }
  }
  KEEPFS_RETURN_IF_ERROR(FsyncDir(dir));
  return e;
}

// Pack id's bytes, size of them, read from packs in order.
ReadNext PackReader(const PackStore& packs, uint64_t id, uint64_t size) {
  auto off = std::make_shared<uint64_t>(0);
  return [&packs, id, size, off](char* buf, size_t len) -> Result<size_t> {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(len, size - *off));
    if (n > 0) KEEPFS_RETURN_IF_ERROR(packs.Read(id, *off, n, buf));
    *off += n;
    return n;
  };
}

void RemoveTree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

}  // namespace

Result<StoreBackupResult> BackupStore(Store* store, const StoreBackupOptions& options) {
  namespace fs = std::filesystem;
  const std::string dest = options.dest;
  if (dest.empty()) return Status::InvalidArgument("store-backup needs a destination directory");
  // A copy inside the store (STORE/packs/copy) is no copy: it dies with the
  // store's disk, and its files would sit among the store's own.
  if (PathIsInside(dest, store->dir())) {
    return Status::InvalidArgument(dest + " is inside the store " + store->dir() +
                                   "; a store backup belongs outside it, best on another disk");
  }
  auto progress = [&](const std::string& phase, uint64_t done, uint64_t total) {
    if (options.progress) options.progress(phase, done, total);
  };
  std::unique_lock<std::mutex> one(store->store_backup_mu(), std::try_to_lock);
  if (!one.owns_lock()) return Status::Busy("a store-backup is already running on this store");
  // A killed run's staging links (STORE/tmp/store-backup.*) would keep
  // retired packs' space: no other run can be going, so they all go.
  {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(store->dir() + "/tmp", ec)) {
      if (e.path().filename().string().rfind("store-backup.", 0) == 0) RemoveTree(e.path());
    }
  }
  BackupManifest old;
  if (PathExists(dest + "/MANIFEST")) {
    KEEPFS_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(dest + "/MANIFEST"));
    KEEPFS_ASSIGN_OR_RETURN(old, ParseBackupManifest(text, dest + "/MANIFEST"));
    if (old.store_id != store->meta().store_id) {
      return Status::InvalidArgument(dest + " holds a backup of another store (" + old.store_id +
                                     "); give an empty or new directory");
    }
  } else {
    // No copy yet. What may be here is a first run's that was stopped
    // before its manifest: only files of this layout, marked as this
    // store's (STARTED). Anything else is somebody's data: refused. A kill
    // inside an atomic write leaves its temporary (STARTED.tmp,
    // MANIFEST.tmp): ours too.
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dest, ec)) {
      std::string name = e.path().filename();
      bool ours = name == "packs" || name == "tmp" || name == "STARTED" ||
                  name == AtomicTempPath("STARTED") || name == AtomicTempPath("MANIFEST") ||
                  name.rfind("meta.", 0) == 0 || name.rfind("config.", 0) == 0;
      if (!ours) {
        return Status::InvalidArgument(dest + " is not empty and holds no store backup; give an "
                                       "empty or new directory");
      }
    }
    if (PathExists(dest + "/STARTED")) {
      KEEPFS_ASSIGN_OR_RETURN(std::string id, ReadSmallFile(dest + "/STARTED"));
      if (id != store->meta().store_id) {
        return Status::InvalidArgument(dest + " holds a stopped first backup of another store (" +
                                       id + "); give an empty or new directory");
      }
    }
  }
  // The copy holds every user's data: root's alone, like the store
  // (docs/security.md), whatever the umask or the directory given.
  KEEPFS_RETURN_IF_ERROR(MakeDirs(dest, 0700));
  // A file system without Unix modes (vfat, exfat) refuses chmod; there the
  // mount's options decide who reads.
  if (::chmod(dest.c_str(), 0700) != 0 && errno != EPERM && errno != EOPNOTSUPP) {
    return Status::FromErrno(errno, "chmod 700 " + dest);
  }
  KEEPFS_RETURN_IF_ERROR(MakeDirs(dest + "/packs"));
  RemoveTree(dest + "/tmp");
  KEEPFS_RETURN_IF_ERROR(MakeDirs(dest + "/tmp"));
  if (old.generation == 0) {
    KEEPFS_RETURN_IF_ERROR(WriteFileAtomic(dest + "/STARTED", store->meta().store_id));
  }
  BackupManifest m;
  m.store_id = store->meta().store_id;
  m.generation = old.generation + 1;
  m.created = std::time(nullptr);
  StoreBackupResult r;
  r.generation = m.generation;

  // 1. While no pack can be removed: the metadata as of now, and a hard
  //    link of every pack it indexes, so none can go before it is copied.
  //    Packs without a local file (RADOS) cannot be linked: for them no
  //    pack is removed until all are copied (gc's removals wait meanwhile).
  const std::string staging =
      store->dir() + "/tmp/store-backup." + std::to_string(::getpid());
  RemoveTree(staging);
  KEEPFS_RETURN_IF_ERROR(MakeDirs(staging + "/packs"));
  std::vector<std::pair<uint64_t, uint64_t>> packs;  // id, size
  const bool remote = store->packs().LocalPath(0).empty();
  std::unique_lock<std::mutex> remote_no_retiring(store->chunks().retire_mu(), std::defer_lock);
  {
    std::unique_lock<std::mutex> no_retiring(store->chunks().retire_mu(), std::defer_lock);
    (remote ? remote_no_retiring : no_retiring).lock();
    KEEPFS_RETURN_IF_ERROR(store->kv().Checkpoint(staging + "/meta"));
    KvOptions ro;
    ro.read_only = true;
    KEEPFS_ASSIGN_OR_RETURN(std::unique_ptr<KvStore> snap, KvStore::Open(staging + "/meta", ro));
    auto it = snap->NewIterator("p");
    for (; it->Valid(); it->Next()) {
      std::optional<uint64_t> id = ChunkStore::PackIdFromKey(it->key());
      if (!id) continue;
      KEEPFS_ASSIGN_OR_RETURN(PackInfo info, ChunkStore::DecodePackInfo(it->value()));
      if (info.condemned) continue;  // nothing points into it
      packs.emplace_back(*id, info.size);
    }
    KEEPFS_RETURN_IF_ERROR(it->status());
    for (const auto& [id, size] : packs) {
      if (remote) break;
      std::string from = store->packs().LocalPath(id);
      std::string to = staging + "/packs/" + std::to_string(id);
      if (::link(from.c_str(), to.c_str()) != 0) {
        return Status::FromErrno(errno, "linking " + from + " for the backup");
      }
    }
  }
  struct Cleanup {
    std::string path;
    ~Cleanup() { RemoveTree(path); }
  } cleanup{staging};

  // 2. Packs: those the previous copy has (same size) stay; the rest are
  //    linked or copied in.
  uint64_t done = 0;
  for (const auto& [id, size] : packs) {
    progress("packs", done++, packs.size());
    const std::string rel = PackRelPath(id);
    auto prev = old.files.find(rel);
    struct stat st;
    if (prev != old.files.end() && prev->second.size == size &&
        ::stat((dest + "/" + rel).c_str(), &st) == 0 && static_cast<uint64_t>(st.st_size) == size) {
      m.files[rel] = prev->second;
      continue;
    }
    bool linked = false;
    const Source src = remote ? Source{"", PackReader(store->packs(), id, size)}
                              : Source{staging + "/packs/" + std::to_string(id), nullptr};
    KEEPFS_ASSIGN_OR_RETURN(BackupFile e, Place(src, dest, rel, &linked));
    if (e.size != size) {
      return Status::Corruption("pack " + rel + " has " + std::to_string(e.size) +
                                " bytes where its record says " + std::to_string(size));
    }
    m.files[rel] = e;
    ++r.packs_copied;
    if (linked) {
      ++r.packs_linked;
    } else {
      r.bytes_copied += e.size;
    }
  }
  r.packs = packs.size();

  // 3. Metadata and config, under this generation's names.
  progress("metadata", 0, 0);
  const std::string meta_rel = "meta." + std::to_string(m.generation);
  RemoveTree(dest + "/" + meta_rel);
  KEEPFS_RETURN_IF_ERROR(MakeDirs(dest + "/" + meta_rel));
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(staging + "/meta", ec)) {
    std::string name = e.path().filename();
    const std::string to = dest + "/" + meta_rel + "/" + name;
    ++r.meta_files;
    // A table file (*.sst) is immutable and its number never reused: one the
    // previous copy has with the same size is the same file, linked within
    // DEST instead of copied again.
    if (old.generation && name.ends_with(".sst")) {
      const std::string prev_rel = "meta." + std::to_string(old.generation) + "/" + name;
      auto prev = old.files.find(prev_rel);
      if (prev != old.files.end() && prev->second.size == e.file_size(ec) &&
          ::link((dest + "/" + prev_rel).c_str(), to.c_str()) == 0) {
        m.files[meta_rel + "/" + name] = prev->second;
        continue;
      }
    }
    // Otherwise copied, never linked to the store's: these are its own files.
    KEEPFS_ASSIGN_OR_RETURN(BackupFile f, CopyHashing(e.path(), dest + "/tmp/meta.copy"));
    if (::rename((dest + "/tmp/meta.copy").c_str(), to.c_str()) != 0) {
      return Status::FromErrno(errno, "renaming metadata file " + name);
    }
    m.files[meta_rel + "/" + name] = f;
    r.bytes_copied += f.size;
  }
  if (ec) return Status::FromErrno(ec.value(), "listing the metadata checkpoint");
  KEEPFS_RETURN_IF_ERROR(FsyncDir(dest + "/" + meta_rel));
  const std::string config_rel = "config." + std::to_string(m.generation) + ".toml";
  KEEPFS_ASSIGN_OR_RETURN(BackupFile cfg,
                          CopyHashing(store->dir() + "/config.toml", dest + "/" + config_rel));
  m.files[config_rel] = cfg;
  KEEPFS_RETURN_IF_ERROR(FsyncDir(dest));

  // 4. The commit point.
  KEEPFS_RETURN_IF_ERROR(WriteFileAtomic(dest + "/MANIFEST", EncodeBackupManifest(m)));

  // 5. Only now: what the new copy does not name goes (the previous
  //    generation's metadata and config, packs gc retired since).
  for (const auto& [path, f] : old.files) {
    if (m.files.count(path)) continue;
    ::unlink((dest + "/" + path).c_str());
    if (path.rfind("packs/", 0) == 0) ++r.packs_removed;
  }
  if (old.generation) {
    RemoveTree(dest + "/meta." + std::to_string(old.generation));
  }
  RemoveTree(dest + "/tmp");
  ::unlink((dest + "/STARTED").c_str());
  return r;
}

Result<StoreBackupVerifyResult> VerifyStoreBackup(const std::string& dest) {
  KEEPFS_ASSIGN_OR_RETURN(BackupManifest m, ReadBackupManifest(dest));
  StoreBackupVerifyResult r;
  for (const auto& [path, want] : m.files) {
    ++r.files;
    if (!PathExists(dest + "/" + path)) {
      r.problems.push_back(path + ": missing");
      continue;
    }
    auto got = CopyHashing(dest + "/" + path, "");
    if (!got.ok()) {
      r.problems.push_back(path + ": " + got.status().message());
      continue;
    }
    r.bytes += got->size;
    if (got->size != want.size) {
      r.problems.push_back(path + ": " + std::to_string(got->size) + " bytes where the manifest says " +
                           std::to_string(want.size));
    } else if (got->sha256 != want.sha256) {
      r.problems.push_back(path + ": SHA-256 differs from the manifest");
    }
  }
  return r;
}

}  // namespace keepfs
