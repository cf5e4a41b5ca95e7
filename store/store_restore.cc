#include "store/store_restore.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <set>

#include "store/backup_manifest.h"
#include "store/file_util.h"
#include "store/object_id.h"
#include "store/restore_marker.h"

namespace keepfs {

namespace {

namespace fs = std::filesystem;

constexpr char kPacksPrefix[] = "packs/";
constexpr char kMetaStaging[] = "meta.restoring";
constexpr char kCopyTmp[] = "tmp/store-restore.copy";

std::string Parent(const std::string& path) { return path.substr(0, path.rfind('/')); }

bool IsPack(const std::string& rel) { return rel.rfind(kPacksPrefix, 0) == 0; }

// What STORE holds now.
enum class Target { kEmpty, kStore, kRestoring, kForeign };

Result<Target> Inspect(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT) return Target::kEmpty;
    return Status::FromErrno(errno, "looking at " + dir);
  }
  if (!S_ISDIR(st.st_mode)) return Status::InvalidArgument(dir + " is not a directory");
  if (PathExists(dir + "/" + kRestoreMarkerName)) return Target::kRestoring;
  bool store = false, other = false;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename();
    // A restore killed before its marker was in place leaves at most these:
    // the lock file it took and the marker's temporary file.
    if (name == "lock" || name == AtomicTempPath(kRestoreMarkerName)) continue;
    (name == "config.toml" || name == "meta" || name == "packs" ? store : other) = true;
  }
  if (ec) return Status::FromErrno(ec.value(), "listing " + dir);
  return store ? Target::kStore : other ? Target::kForeign : Target::kEmpty;
}

class Restorer {
 public:
  explicit Restorer(const StoreRestoreOptions& o) : o_(o) {}
  Result<StoreRestoreResult> Run();

 private:
  Status ReadBackup();
  Status Admit(Target target);
  Status Sweep();
  Status CopyPacks();
  Status CopyMeta();
  Status CopyConfig();
  Status Audit(const UniqueFd& lock);
  // OK when got is what the manifest says of rel; else Corruption naming it.
  Status Matches(const std::string& rel, const BackupFile& got) const;
  // Moves STORE/packs/REL to STORE/packs.replaced.TIME/REL.
  Status MovePackAside(const std::string& rel, std::set<std::string>* dirs);
  // STORE/NAME.replaced.TIME[SUFFIX], or with .1, .2, ... if that is taken.
  std::string AsideName(const std::string& name, const std::string& suffix) const;
  void Progress(const std::string& phase, uint64_t done, uint64_t total) const {
    if (o_.progress) o_.progress(phase, done, total);
  }

  const StoreRestoreOptions& o_;
  std::string backup_, store_;  // absolute
  BackupManifest m_;
  RestoreMarker marker_;
  StoreRestoreResult r_;
};

Status Restorer::ReadBackup() {
  char real[PATH_MAX];
  if (!::realpath(o_.backup.c_str(), real)) return Status::FromErrno(errno, "backup " + o_.backup);
  backup_ = real;
  store_ = fs::absolute(o_.store).lexically_normal().string();
  while (store_.size() > 1 && store_.back() == '/') store_.pop_back();
  KEEPFS_ASSIGN_OR_RETURN(m_, ReadBackupManifest(backup_));
  // Presence and sizes only: the hashes are checked while copying, so that
  // every byte is read once.
  const std::string meta_prefix = m_.MetaDir() + "/";
  uint64_t done = 0, meta_files = 0;
  std::vector<std::string> problems;
  for (const auto& [rel, want] : m_.files) {
    Progress("backup", done++, m_.files.size());
    if (IsPack(rel)) {
      ++r_.packs;
    } else if (rel.rfind(meta_prefix, 0) == 0) {
      ++meta_files;
    } else if (rel != m_.ConfigFile()) {
      problems.push_back(rel + ": not a file of a store backup");
    }
    struct stat st;
    if (::stat((backup_ + "/" + rel).c_str(), &st) != 0) {
      problems.push_back(rel + ": missing");
    } else if (static_cast<uint64_t>(st.st_size) != want.size) {
      problems.push_back(rel + ": " + std::to_string(st.st_size) +
                         " bytes where the MANIFEST says " + std::to_string(want.size));
    }
  }
  if (meta_files == 0) problems.push_back(meta_prefix + ": the MANIFEST names no metadata");
  if (!m_.files.count(m_.ConfigFile())) problems.push_back(m_.ConfigFile() + ": not listed");
  if (!problems.empty()) {
    std::string list;
    for (size_t i = 0; i < problems.size() && i < 5; ++i) list += (i ? "; " : "") + problems[i];
    if (problems.size() > 5) list += "; and " + std::to_string(problems.size() - 5) + " more";
    return Status::Corruption(backup_ + " does not match its MANIFEST (" + list +
                              "); nothing was restored. 'keepfs store-backup --verify " +
                              backup_ + "' checks every file");
  }
  // Packs on RADOS go back into RADOS, which this restore cannot do yet:
  // refused before anything is touched.
  KEEPFS_ASSIGN_OR_RETURN(std::string config, ReadSmallFile(backup_ + "/" + m_.ConfigFile()));
  auto parsed = ParseStoreConfig(config, backup_ + "/" + m_.ConfigFile());
  if (parsed.ok() && !parsed->packs.spec.empty()) {
    return Status::NotSupported(backup_ + " is a copy of a store whose packs are in " +
                                parsed->packs.spec +
                                "; store-restore brings back stores with local packs only. "
                                "Nothing was restored");
  }
  r_.store_id = m_.store_id;
  r_.generation = m_.generation;
  return Status::OK();
}

// Decides whether this run may go on with STORE as it is; sets marker_.
Status Restorer::Admit(Target target) {
  if (target == Target::kRestoring) {
    KEEPFS_ASSIGN_OR_RETURN(std::optional<RestoreMarker> marker, ReadRestoreMarker(store_));
    if (!marker) return Status::Busy(store_ + " changed while being looked at; try again");
    const std::string& from = marker->backup;
    if (!o_.resume) {
      return Status::InvalidArgument(store_ + " holds an interrupted restore from " + from +
                                     "; continue it with: keepfs store-restore --resume " + from +
                                     " " + store_);
    }
    if (marker->store_id != m_.store_id || from != backup_) {
      return Status::InvalidArgument(
          store_ + " is being restored from " + from + " (store " + marker->store_id +
          "), not from " + backup_ + " (store " + m_.store_id +
          "); resume with: keepfs store-restore --resume " + from + " " + store_);
    }
    if (marker->generation != m_.generation) {
      return Status::InvalidArgument(
          store_ + " was being restored from generation " + std::to_string(marker->generation) +
          " of " + backup_ + ", which has moved on to generation " +
          std::to_string(m_.generation) + " since (a store-backup ran into it): the two cannot "
          "be mixed. Start over into an empty directory: keepfs store-restore " + backup_ +
          " NEWDIR (and remove " + store_ + " once that is done)");
    }
    marker_ = *marker;
    r_.resumed = true;
    return Status::OK();
  }
  if (o_.resume) {
    return Status::InvalidArgument(store_ + " holds no interrupted restore to resume (no " +
                                   kRestoreMarkerName + " marker); run without --resume");
  }
  if (target == Target::kForeign) {
    return Status::InvalidArgument(store_ + " is not empty and holds no keepfs store; give an "
                                   "empty or new directory");
  }
  if (target == Target::kStore && !o_.replace) {
    return Status::InvalidArgument(
        store_ + " already holds a keepfs store (or what is left of one); to replace it with the "
        "backup, pass --replace: its packs that match the backup are kept, and its metadata, "
        "config and other packs are moved aside (*.replaced.TIME), never deleted");
  }
  const bool fresh = target == Target::kEmpty;
  marker_ = RestoreMarker{backup_, m_.generation, m_.store_id, std::time(nullptr),
                          /*packs_verified=*/fresh, /*meta_ours=*/fresh};
  return Status::OK();
}

Result<StoreRestoreResult> Restorer::Run() {
  KEEPFS_RETURN_IF_ERROR(ReadBackup());
  KEEPFS_ASSIGN_OR_RETURN(Target target, Inspect(store_));
  KEEPFS_RETURN_IF_ERROR(Admit(target));  // a refusal leaves STORE untouched
  if (pid_t pid = Store::LockHolder(store_); pid > 0) {
    return Status::Busy(store_ + " is in use by PID " + std::to_string(pid) +
                        "; unmount it (keepfs umount) or stop the server first");
  }
  if (!PathExists(store_)) {
    KEEPFS_RETURN_IF_ERROR(MakeDirs(store_, 0700));
    KEEPFS_RETURN_IF_ERROR(FsyncDir(Parent(store_).empty() ? "/" : Parent(store_)));
  }
  // The restored store holds every user's data: root's alone, as keepfs init
  // makes it (docs/security.md), whatever the umask or the directory given.
  // A file system without Unix modes (vfat, exfat) refuses chmod; there the
  // mount's options decide who reads.
  if (::chmod(store_.c_str(), 0700) != 0 && errno != EPERM && errno != EOPNOTSUPP) {
    return Status::FromErrno(errno, "chmod 700 " + store_);
  }
  // Held to the end: no mount, server or second restore can start on STORE.
  KEEPFS_ASSIGN_OR_RETURN(UniqueFd lock, Store::LockExclusive(store_));
  // Looked at again under the lock, in case STORE changed before it.
  KEEPFS_ASSIGN_OR_RETURN(target, Inspect(store_));
  KEEPFS_RETURN_IF_ERROR(Admit(target));
  if (!r_.resumed) KEEPFS_RETURN_IF_ERROR(WriteRestoreMarker(store_, marker_));
  KEEPFS_RETURN_IF_ERROR(MakeDirs(store_ + "/packs"));
  KEEPFS_RETURN_IF_ERROR(MakeDirs(store_ + "/tmp"));
  ::unlink((store_ + "/" + kCopyTmp).c_str());  // a killed run's partial copy
  if (!marker_.packs_verified) KEEPFS_RETURN_IF_ERROR(Sweep());
  KEEPFS_RETURN_IF_ERROR(CopyPacks());
  KEEPFS_RETURN_IF_ERROR(CopyMeta());
  KEEPFS_RETURN_IF_ERROR(CopyConfig());
  KEEPFS_RETURN_IF_ERROR(Audit(lock));
  KEEPFS_RETURN_IF_ERROR(RemoveRestoreMarker(store_));
  return r_;
}

Status Restorer::Matches(const std::string& rel, const BackupFile& got) const {
  const BackupFile& want = m_.files.at(rel);
  if (got.size == want.size && got.sha256 == want.sha256) return Status::OK();
  const std::string what = got.size != want.size
                               ? " has " + std::to_string(got.size) +
                                     " bytes where the MANIFEST says " + std::to_string(want.size)
                               : ": its SHA-256 differs from the MANIFEST";
  return Status::Corruption(backup_ + "/" + rel + what + ": the backup is damaged, and the "
                            "restore stopped there (" + store_ + " stays marked half-restored). "
                            "'keepfs store-backup --verify " + backup_ + "' lists every damaged "
                            "file; restore from an intact copy");
}

std::string Restorer::AsideName(const std::string& name, const std::string& suffix) const {
  const std::string base = name + ".replaced." + std::to_string(marker_.started);
  std::string rel = base + suffix;
  int i = 0;
  while (PathExists(store_ + "/" + rel)) rel = base + "." + std::to_string(++i) + suffix;
  return rel;
}

Status Restorer::MovePackAside(const std::string& rel, std::set<std::string>* dirs) {
  // Always the same directory for one restore (the marker's time), so that a
  // resumed sweep adds to it.
  const std::string aside = "packs.replaced." + std::to_string(marker_.started);
  const std::string from = store_ + "/" + rel;
  const std::string to = store_ + "/" + aside + "/" + rel.substr(sizeof(kPacksPrefix) - 1);
  KEEPFS_RETURN_IF_ERROR(MakeDirs(Parent(to)));
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return Status::FromErrno(errno, "moving " + from + " aside to " + to);
  }
  dirs->insert(Parent(from));
  dirs->insert(Parent(to));
  if (++r_.packs_moved_aside == 1) r_.moved_aside.push_back(aside + "/");
  return Status::OK();
}

// --replace: what packs/ holds is the replaced store's until checked. A file
// the manifest lists with the same size and SHA-256 is the backup's pack and
// stays; everything else is moved aside, as is the old config.toml.
Status Restorer::Sweep() {
  std::vector<std::string> files;  // relative to STORE
  std::error_code ec;
  for (fs::recursive_directory_iterator it(store_ + "/packs", ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->is_directory(ec) && !it->is_symlink(ec)) continue;
    files.push_back(it->path().string().substr(store_.size() + 1));
  }
  if (ec) return Status::FromErrno(ec.value(), "listing " + store_ + "/packs");
  std::set<std::string> dirs;
  uint64_t done = 0;
  for (const std::string& rel : files) {
    Progress("sweep", done++, files.size());
    auto want = m_.files.find(rel);
    struct stat st;
    if (want != m_.files.end() && ::lstat((store_ + "/" + rel).c_str(), &st) == 0 &&
        S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) == want->second.size) {
      KEEPFS_ASSIGN_OR_RETURN(BackupFile got, CopyHashing(store_ + "/" + rel, ""));
      if (got.sha256 == want->second.sha256) {
        ++r_.packs_kept;
        continue;
      }
    }
    KEEPFS_RETURN_IF_ERROR(MovePackAside(rel, &dirs));
  }
  if (PathExists(store_ + "/config.toml")) {
    const std::string aside = AsideName("config", ".toml");
    if (::rename((store_ + "/config.toml").c_str(), (store_ + "/" + aside).c_str()) != 0) {
      return Status::FromErrno(errno, "moving " + store_ + "/config.toml aside");
    }
    r_.moved_aside.push_back(aside);
  }
  for (const std::string& dir : dirs) KEEPFS_RETURN_IF_ERROR(FsyncDir(dir));
  KEEPFS_RETURN_IF_ERROR(FsyncDir(store_));
  marker_.packs_verified = true;
  return WriteRestoreMarker(store_, marker_);
}

Status Restorer::CopyPacks() {
  const std::string tmp = store_ + "/" + kCopyTmp;
  uint64_t done = 0;
  for (const auto& [rel, want] : m_.files) {
    if (!IsPack(rel)) continue;
    Progress("packs", done++, r_.packs);
    const std::string to = store_ + "/" + rel;
    struct stat st;
    if (::lstat(to.c_str(), &st) == 0) {
      // Only a whole, verified copy ever gets the final name (below), and
      // the sweep has left only the backup's packs.
      if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) == want.size) {
        ++r_.packs_skipped;
        continue;
      }
      std::set<std::string> dirs;  // not ours, whatever it is: kept aside
      KEEPFS_RETURN_IF_ERROR(MovePackAside(rel, &dirs));
      for (const std::string& dir : dirs) KEEPFS_RETURN_IF_ERROR(FsyncDir(dir));
    }
    KEEPFS_ASSIGN_OR_RETURN(BackupFile got, CopyHashing(backup_ + "/" + rel, tmp));
    if (Status s = Matches(rel, got); !s.ok()) {
      ::unlink(tmp.c_str());
      return s;
    }
    const std::string dir = Parent(to);
    if (!PathExists(dir)) {
      KEEPFS_RETURN_IF_ERROR(MakeDirs(dir));
      KEEPFS_RETURN_IF_ERROR(FsyncDir(store_ + "/packs"));
    }
    if (::rename(tmp.c_str(), to.c_str()) != 0) {
      return Status::FromErrno(errno, "renaming into " + to);
    }
    KEEPFS_RETURN_IF_ERROR(FsyncDir(dir));
    ++r_.packs_copied;
    r_.bytes_copied += got.size;
  }
  return Status::OK();
}

Status Restorer::CopyMeta() {
  const std::string staging = store_ + "/" + kMetaStaging;
  const std::string prefix = m_.MetaDir() + "/";
  std::error_code ec;
  fs::remove_all(staging, ec);  // a killed run's, perhaps incomplete
  if (ec) return Status::FromErrno(ec.value(), "removing " + staging);
  KEEPFS_RETURN_IF_ERROR(MakeDirs(staging));
  uint64_t total = 0, done = 0;
  for (const auto& [rel, want] : m_.files) total += rel.rfind(prefix, 0) == 0;
  for (const auto& [rel, want] : m_.files) {
    if (rel.rfind(prefix, 0) != 0) continue;
    Progress("metadata", done++, total);
    const std::string to = staging + "/" + rel.substr(prefix.size());
    KEEPFS_RETURN_IF_ERROR(MakeDirs(Parent(to)));
    KEEPFS_ASSIGN_OR_RETURN(BackupFile got, CopyHashing(backup_ + "/" + rel, to));
    KEEPFS_RETURN_IF_ERROR(Matches(rel, got));
    ++r_.meta_files;
    r_.bytes_copied += got.size;
  }
  KEEPFS_RETURN_IF_ERROR(FsyncDir(staging));
  const std::string meta = store_ + "/meta";
  if (PathExists(meta)) {
    if (marker_.meta_ours) {
      fs::remove_all(meta, ec);  // an interrupted run's copy of the same backup
      if (ec) return Status::FromErrno(ec.value(), "removing " + meta);
    } else {
      const std::string aside = AsideName("meta", "");
      if (::rename(meta.c_str(), (store_ + "/" + aside).c_str()) != 0) {
        return Status::FromErrno(errno, "moving " + meta + " aside");
      }
      r_.moved_aside.push_back(aside + "/");
    }
  }
  if (!marker_.meta_ours) {
    // From here any meta/ is this restore's own.
    KEEPFS_RETURN_IF_ERROR(FsyncDir(store_));
    marker_.meta_ours = true;
    KEEPFS_RETURN_IF_ERROR(WriteRestoreMarker(store_, marker_));
  }
  if (::rename(staging.c_str(), meta.c_str()) != 0) {
    return Status::FromErrno(errno, "renaming " + staging + " to " + meta);
  }
  return FsyncDir(store_);
}

Status Restorer::CopyConfig() {
  Progress("config", 0, 0);
  const std::string rel = m_.ConfigFile();
  // Read once: the bytes hashed are the bytes written.
  KEEPFS_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(backup_ + "/" + rel));
  KEEPFS_RETURN_IF_ERROR(Matches(rel, BackupFile{text.size(), Sha256::Of(text).ToHex()}));
  KEEPFS_RETURN_IF_ERROR(WriteFileAtomic(store_ + "/config.toml", text));
  r_.bytes_copied += text.size();
  return Status::OK();  // STORE/lock exists: it is held
}

Status Restorer::Audit(const UniqueFd& lock) {
  Progress("audit", 0, 0);
  auto opened = Store::OpenForRestore(store_, OpenMode::kReadWrite, lock);
  if (!opened.ok()) {
    return opened.status().WithContext("the restored store does not open (" + store_ +
                                       " stays marked half-restored)");
  }
  if (o_.audit) {
    KEEPFS_ASSIGN_OR_RETURN(r_.audit, o_.audit(opened->get()));
  }
  return Status::OK();  // closed here, before the marker goes
}

}  // namespace

Result<StoreRestoreResult> RestoreStore(const StoreRestoreOptions& options) {
  return Restorer(options).Run();
}

}  // namespace keepfs
