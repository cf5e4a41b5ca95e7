#include "store/restore_marker.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <sstream>

#include "store/file_util.h"
#include "store/store.h"

namespace keepfs {

namespace {
constexpr char kMarkerMagic[] = "keepfs-store-restore 1";

std::string MarkerPath(const std::string& store_dir) {
  return store_dir + "/" + kRestoreMarkerName;
}
}  // namespace

Status WriteRestoreMarker(const std::string& store_dir, const RestoreMarker& m) {
  if (m.backup.find('\n') != std::string::npos) {
    return Status::InvalidArgument("the backup's path holds a newline; move it elsewhere");
  }
  std::string text = std::string(kMarkerMagic) + "\nbackup " + m.backup + "\ngeneration " +
                     std::to_string(m.generation) + "\nstore " + m.store_id + "\nstarted " +
                     std::to_string(m.started) + "\npacks " +
                     (m.packs_verified ? "verified" : "unverified") + "\nmeta " +
                     (m.meta_ours ? "ours" : "theirs") + "\nend\n";
  return WriteFileAtomic(MarkerPath(store_dir), text);
}

Result<std::optional<RestoreMarker>> ReadRestoreMarker(const std::string& store_dir) {
  const std::string path = MarkerPath(store_dir);
  if (!PathExists(path)) return std::optional<RestoreMarker>();
  KEEPFS_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path));
  std::istringstream in(text);
  std::string line;
  RestoreMarker m;
  bool ended = false;
  if (!std::getline(in, line) || line != kMarkerMagic) {
    return Status::Corruption(path + " is damaged (first line)");
  }
  while (!ended && std::getline(in, line)) {
    const size_t space = line.find(' ');
    const std::string word = line.substr(0, space);
    const std::string rest = space == std::string::npos ? "" : line.substr(space + 1);
    if (word == "backup") {
      m.backup = rest;
    } else if (word == "generation") {
      m.generation = std::strtoull(rest.c_str(), nullptr, 10);
    } else if (word == "store") {
      m.store_id = rest;
    } else if (word == "started") {
      m.started = std::strtoll(rest.c_str(), nullptr, 10);
    } else if (word == "packs") {
      m.packs_verified = rest == "verified";
    } else if (word == "meta") {
      m.meta_ours = rest == "ours";
    } else if (word == "end") {
      ended = true;
    } else {
      return Status::Corruption(path + " is damaged (unknown line '" + line + "')");
    }
  }
  if (!ended || m.backup.empty() || m.generation == 0 || m.store_id.empty()) {
    return Status::Corruption(path + " is damaged (incomplete)");
  }
  return std::optional<RestoreMarker>(std::move(m));
}

Status RemoveRestoreMarker(const std::string& store_dir) {
  if (::unlink(MarkerPath(store_dir).c_str()) != 0 && errno != ENOENT) {
    return Status::FromErrno(errno, "removing " + MarkerPath(store_dir));
  }
  // A rewrite's temporary file, if a kill interrupted one.
  ::unlink((MarkerPath(store_dir) + ".tmp").c_str());
  return FsyncDir(store_dir);
}

Status RefuseIfRestoring(const std::string& store_dir) {
  if (!PathExists(MarkerPath(store_dir))) return Status::OK();
  auto marker = ReadRestoreMarker(store_dir);
  if (!marker.ok()) {
    return Status::InvalidArgument(
        store_dir + " is half-restored (keepfs store-restore was interrupted) and its " +
        kRestoreMarkerName + " marker is unreadable (" + marker.status().message() +
        "); restore the backup again into an empty directory");
  }
  const std::string& backup = (*marker)->backup;
  if (pid_t pid = Store::LockHolder(store_dir); pid > 0) {
    return Status::InvalidArgument(store_dir + " is being restored from " + backup + " by PID " +
                                   std::to_string(pid) +
                                   " (keepfs store-restore); wait for it to finish");
  }
  return Status::InvalidArgument(store_dir + " is half-restored from " + backup +
                                 " (keepfs store-restore was interrupted); finish it with: "
                                 "keepfs store-restore --resume " + backup + " " + store_dir);
}

}  // namespace keepfs
