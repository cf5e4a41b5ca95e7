#include "store/store_backup.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <filesystem>
#include <map>
#include <sstream>

#include "store/chunk_store.h"
#include "store/file_util.h"
#include "store/kv_store.h"
#include "store/pack.h"

namespace keepfs {

namespace {

constexpr char kManifestMagic[] = "keepfs-store-backup 1";

struct FileEntry {
  uint64_t size = 0;
  std::string sha256;  // hex
};

struct Manifest {
  std::string store_id;
  uint64_t generation = 0;
  int64_t created = 0;
  std::map<std::string, FileEntry> files;  // path relative to DEST
};

std::string EncodeManifest(const Manifest& m) {
  std::string o = std::string(kManifestMagic) + "\nstore " + m.store_id + "\ngeneration " +
                  std::to_string(m.generation) + "\ncreated " + std::to_string(m.created) + "\n";
  for (const auto& [path, f] : m.files) {
    o += "file " + path + " " + std::to_string(f.size) + " " + f.sha256 + "\n";
  }
  return o + "end\n";
}

Result<Manifest> ParseManifest(const std::string& text, const std::string& where) {
  std::istringstream in(text);
  std::string line;
  Manifest m;
  auto bad = [&](const std::string& why) {
    return Status::Corruption(where + " is damaged (" + why + "); it cannot be trusted");
  };
  if (!std::getline(in, line) || line != kManifestMagic) return bad("first line");
  bool ended = false;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string word;
    f >> word;
    if (word == "store") {
      f >> m.store_id;
    } else if (word == "generation") {
      f >> m.generation;
    } else if (word == "created") {
      f >> m.created;
    } else if (word == "file") {
      std::string path;
      FileEntry e;
      if (!(f >> path >> e.size >> e.sha256) || path.find("..") != std::string::npos ||
          path.empty() || path[0] == '/' || e.sha256.size() != 64) {
        return bad("file line '" + line + "'");
      }
      m.files[path] = e;
    } else if (word == "end") {
      ended = true;
      break;
    } else {
      return bad("unknown line '" + line + "'");
    }
  }
  if (!ended || m.store_id.empty() || m.generation == 0) return bad("incomplete");
  return m;
}

// Streams src into dst (created, must not exist), fsyncs it; returns the
// SHA-256 of the bytes. dst empty: only hashes.
Result<FileEntry> CopyHashing(const std::string& src, const std::string& dst) {
  UniqueFd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) return Status::FromErrno(errno, "opening " + src);
  UniqueFd out;
  if (!dst.empty()) {
    out = UniqueFd(::open(dst.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!out.valid()) return Status::FromErrno(errno, "creating " + dst);
  }
  std::string buf(1 << 20, '\0');
  Sha256 sha;
  FileEntry e;
  for (;;) {
    ssize_t n = ::read(in.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, "reading " + src);
    if (n == 0) break;
    sha.Update(buf.data(), static_cast<size_t>(n));
    e.size += static_cast<uint64_t>(n);
    if (out.valid()) KEEPFS_RETURN_IF_ERROR(WriteAll(out.get(), buf.data(), static_cast<size_t>(n), dst));
  }
  if (out.valid()) KEEPFS_RETURN_IF_ERROR(FsyncFd(out.get(), dst));
  e.sha256 = sha.Finish().ToHex();
  return e;
}

// Puts src at dest_dir/rel: a hard link when both are on one filesystem,
// else a copy through tmp; either way durable (file and directory synced).
Result<FileEntry> Place(const std::string& src, const std::string& dest, const std::string& rel,
                        bool* linked) {
  const std::string final_path = dest + "/" + rel;
  const std::string dir = final_path.substr(0, final_path.rfind('/'));
  KEEPFS_RETURN_IF_ERROR(MakeDirs(dir));
  ::unlink(final_path.c_str());  // a leftover of an interrupted run, named by no manifest
  *linked = ::link(src.c_str(), final_path.c_str()) == 0;
  FileEntry e;
  if (*linked) {
    KEEPFS_ASSIGN_OR_RETURN(e, CopyHashing(final_path, ""));
  } else {
    std::string tmp = dest + "/tmp/" + std::to_string(::getpid()) + ".copy";
    KEEPFS_ASSIGN_OR_RETURN(e, CopyHashing(src, tmp));
    if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
      return Status::FromErrno(errno, "renaming into " + final_path);
    }
  }
  KEEPFS_RETURN_IF_ERROR(FsyncDir(dir));
  return e;
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
  Manifest old;
  if (PathExists(dest + "/MANIFEST")) {
    KEEPFS_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(dest + "/MANIFEST"));
    KEEPFS_ASSIGN_OR_RETURN(old, ParseManifest(text, dest + "/MANIFEST"));
    if (old.store_id != store->meta().store_id) {
      return Status::InvalidArgument(dest + " holds a backup of another store (" + old.store_id +
                                     "); give an empty or new directory");
    }
  } else {
    // No copy yet. What may be here is a first run's that was stopped
    // before its manifest: only files of this layout, marked as this
    // store's (STARTED). Anything else is somebody's data: refused.
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dest, ec)) {
      std::string name = e.path().filename();
      bool ours = name == "packs" || name == "tmp" || name == "STARTED" ||
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
  KEEPFS_RETURN_IF_ERROR(MakeDirs(dest + "/packs"));
  RemoveTree(dest + "/tmp");
  KEEPFS_RETURN_IF_ERROR(MakeDirs(dest + "/tmp"));
  if (old.generation == 0) {
    KEEPFS_RETURN_IF_ERROR(WriteFileAtomic(dest + "/STARTED", store->meta().store_id));
  }
  Manifest m;
  m.store_id = store->meta().store_id;
  m.generation = old.generation + 1;
  m.created = std::time(nullptr);
  StoreBackupResult r;
  r.generation = m.generation;

  // 1. While no pack file can be removed: the metadata as of now, and a hard
  //    link of every pack it indexes, so none can go before it is copied.
  const std::string staging =
      store->dir() + "/tmp/store-backup." + std::to_string(::getpid());
  RemoveTree(staging);
  KEEPFS_RETURN_IF_ERROR(MakeDirs(staging + "/packs"));
  std::vector<std::pair<uint64_t, uint64_t>> packs;  // id, size
  {
    std::lock_guard<std::mutex> no_retiring(store->chunks().retire_mu());
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
      std::string from = store->dir() + "/" + PackRelPath(id);
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
    KEEPFS_ASSIGN_OR_RETURN(FileEntry e,
                            Place(staging + "/packs/" + std::to_string(id), dest, rel, &linked));
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
    KEEPFS_ASSIGN_OR_RETURN(FileEntry f, CopyHashing(e.path(), dest + "/tmp/meta.copy"));
    if (::rename((dest + "/tmp/meta.copy").c_str(), to.c_str()) != 0) {
      return Status::FromErrno(errno, "renaming metadata file " + name);
    }
    m.files[meta_rel + "/" + name] = f;
    r.bytes_copied += f.size;
  }
  if (ec) return Status::FromErrno(ec.value(), "listing the metadata checkpoint");
  KEEPFS_RETURN_IF_ERROR(FsyncDir(dest + "/" + meta_rel));
  const std::string config_rel = "config." + std::to_string(m.generation) + ".toml";
  KEEPFS_ASSIGN_OR_RETURN(FileEntry cfg,
                          CopyHashing(store->dir() + "/config.toml", dest + "/" + config_rel));
  m.files[config_rel] = cfg;
  KEEPFS_RETURN_IF_ERROR(FsyncDir(dest));

  // 4. The commit point.
  KEEPFS_RETURN_IF_ERROR(WriteFileAtomic(dest + "/MANIFEST", EncodeManifest(m)));

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
  KEEPFS_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(dest + "/MANIFEST"));
  KEEPFS_ASSIGN_OR_RETURN(Manifest m, ParseManifest(text, dest + "/MANIFEST"));
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
