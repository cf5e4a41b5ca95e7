#include "tools/server/spool.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <tuple>

#include <spdlog/spdlog.h>

#include "snapshot/catalog.h"
#include "snapshot/ingest.h"
#include "snapshot/repo.h"
#include "store/file_util.h"

namespace keepfs::server {

namespace {

Status Untrusted(std::string msg) { return Status(StatusCode::kPermissionDenied, std::move(msg)); }

std::string FlagPath(const SpoolPush& p) { return p.dir + "/" + kSpoolFlag; }
std::string DataPath(const SpoolPush& p) { return p.dir + "/" + kSpoolData; }

// The flag as it is now: false if it is gone (or is not a regular file).
bool StatFlag(const std::string& path, struct stat* st) {
  return ::lstat(path.c_str(), st) == 0 && S_ISREG(st->st_mode);
}

bool SameFlag(const SpoolPush& p, const struct stat& st) {
  return static_cast<uint64_t>(st.st_ino) == p.flag_ino && st.st_mtim.tv_sec == p.flag_mtime_sec &&
         st.st_mtim.tv_nsec == p.flag_mtime_nsec;
}

// A snapshot of this push's data/ at exactly the flag's time, if one is committed.
Result<std::optional<snapshot::SnapshotRecord>> AlreadyCommitted(Store* store, const SpoolPush& p) {
  snapshot::Repo repo(store);
  for (uint32_t seq = 0;; ++seq) {
    auto rec = repo.FindSnapshot(p.user, snapshot::FormatSnapshotName(p.flag_mtime_sec, seq));
    if (!rec.ok()) {
      if (rec.status().code() == StatusCode::kNotFound) return std::optional<snapshot::SnapshotRecord>();
      return rec.status();
    }
    if (rec->source == DataPath(p)) return std::optional<snapshot::SnapshotRecord>(*rec);
  }
}

}  // namespace

std::optional<SpoolPush> FindFinishedPush(const std::string& spool, const std::string& user) {
  if (!snapshot::ValidateUserName(user).ok()) return std::nullopt;  // ".", "..", anything else
  SpoolPush p;
  p.user = user;
  p.dir = spool + "/" + user;
  struct stat st;
  if (!StatFlag(FlagPath(p), &st)) return std::nullopt;
  p.flag_mtime_sec = st.st_mtim.tv_sec;
  p.flag_mtime_nsec = st.st_mtim.tv_nsec;
  p.flag_ino = static_cast<uint64_t>(st.st_ino);
  return p;
}

Result<std::vector<SpoolPush>> FindFinishedPushes(const std::string& spool) {
  DIR* d = ::opendir(spool.c_str());
  if (!d) return Status::FromErrno(errno, "reading the spool " + spool);
  std::vector<SpoolPush> out;
  while (dirent* de = ::readdir(d)) {
    if (auto p = FindFinishedPush(spool, de->d_name)) out.push_back(std::move(*p));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end(), [](const SpoolPush& a, const SpoolPush& b) {
    return std::tie(a.flag_mtime_sec, a.flag_mtime_nsec, a.user) <
           std::tie(b.flag_mtime_sec, b.flag_mtime_nsec, b.user);
  });
  return out;
}

Status CheckSpoolTrust(Store* store, const SpoolPush& push) {
  uint32_t uid = 0;
  const StoreConfig config = store->config();
  if (auto it = config.users.find(push.user); it != config.users.end()) uid = it->second.uid;
  struct stat st;
  if (::lstat(push.dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Untrusted(push.dir + " is not a directory (a symlink is not taken)");
  }
  if (st.st_uid != uid) {
    return Untrusted(push.dir + " is owned by uid " + std::to_string(st.st_uid) +
                                    ", not by " + push.user + "'s uid " + std::to_string(uid) +
                                    " ([users." + push.user + "] in config.toml)");
  }
  if (st.st_mode & 022) {
    return Untrusted(push.dir + " is writable by others than " + push.user +
                                    "; chmod go-w it");
  }
  if (::lstat(DataPath(push).c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Untrusted(DataPath(push) + " is not a directory (a symlink is not taken)");
  }
  if (!StatFlag(FlagPath(push), &st) || st.st_uid != uid) {
    return Untrusted(FlagPath(push) + " is not a regular file owned by " + push.user);
  }
  return Status::OK();
}

Result<SpoolIngestResult> IngestPush(Store* store, const SpoolPush& push,
                                     const IngestPushOptions& options) {
  const std::atomic<bool>* cancel = options.cancel;
  KEEPFS_RETURN_IF_ERROR(CheckSpoolTrust(store, push));
  SpoolIngestResult r;
  KEEPFS_ASSIGN_OR_RETURN(auto found, AlreadyCommitted(store, push));
  if (found) {
    r.snapshot = *found;
    r.already_committed = true;
  } else {
    // Watches the flag (and the caller's cancel) while the push is read: a
    // flag that goes away or changes means the laptop is pushing again.
    std::atomic<bool> stop{false}, done{false};
    std::thread watch([&] {
      while (!done) {
        struct stat st;
        if ((cancel && cancel->load()) || !StatFlag(FlagPath(push), &st) || !SameFlag(push, st)) {
          stop = true;
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
    snapshot::BackupOptions o;
    o.user = push.user;
    o.source = DataPath(push);
    o.time_sec = push.flag_mtime_sec;
    o.cancel = &stop;
    o.source_fs = options.source_fs;
    snapshot::BackupProgress local;
    auto rec = snapshot::Backup(store, o, options.progress ? options.progress : &local);
    done = true;
    watch.join();
    if (!rec.ok()) {
      if (rec.status().code() == StatusCode::kCancelled && !(cancel && cancel->load())) {
        return Status::Cancelled(push.user + "'s flag was removed or renewed while the push was "
                                 "read (a new push started); nothing committed, the next flag "
                                 "is taken as it comes");
      }
      return rec.status();
    }
    r.snapshot = *rec;
  }
  // Committed: the flag goes, unless it was renewed meanwhile (a new push
  // finished): that one is the next pass's.
  struct stat st;
  if (StatFlag(FlagPath(push), &st) && SameFlag(push, st)) {
    if (::unlink(FlagPath(push).c_str()) != 0 && errno != ENOENT) {
      return Status::FromErrno(errno, "removing " + FlagPath(push));
    }
  }
  return r;
}

}  // namespace keepfs::server
