// LoadServerConfig: read keepfs.toml, parse it, and check what it names on
// the file system before the server starts anything. A path that does not
// exist is most often a disk that is not mounted (yet): the message says so.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "store/file_util.h"
#include "tools/server/server_config.h"

namespace keepfs::server {

namespace {
namespace fs = std::filesystem;

// p made absolute against dir (itself absolute); "" stays "".
std::string Resolve(const fs::path& dir, const std::string& p) {
  if (p.empty()) return p;
  fs::path path(p);
  if (path.is_relative()) path = dir / path;
  std::string out = path.lexically_normal().string();
  if (out.size() > 1 && out.back() == '/') out.pop_back();  // "dest/": its parent is not dest
  return out;
}

// OK when dir is an existing directory; else the message, naming the key.
Status CheckDir(const ServerConfig& c, std::string_view key, const std::string& dir,
                std::string_view missing_hint) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      return Status::InvalidArgument(c.Where(key) + ": " + dir +
                                     " does not exist (is its disk mounted?); " +
                                     std::string(missing_hint));
    }
    return Status::InvalidArgument(c.Where(key) + ": cannot look at " + dir + ": " +
                                   std::strerror(err) + "; fix the path or its permissions");
  }
  if (!S_ISDIR(st.st_mode)) {
    return Status::InvalidArgument(c.Where(key) + ": " + dir + " is not a directory; fix the path");
  }
  return Status::OK();
}

Status CheckStore(const ServerConfig& c) {
  std::string init = "keepfs init --store " + c.store;
  KEEPFS_RETURN_IF_ERROR(
      CheckDir(c, "store", c.store, "fix the path, or create a store there with " + init));
  struct stat st;
  if (::stat((c.store + "/config.toml").c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Status::InvalidArgument(c.Where("store") + ": " + c.store +
                                   " is not a keepfs store (it has no config.toml); fix the "
                                   "path, or create a store there with " +
                                   init);
  }
  return Status::OK();
}

// A file or directory the server creates itself: only its parent must exist.
Status CheckParent(const ServerConfig& c, std::string_view key, const std::string& path) {
  std::string parent = fs::path(path).parent_path().string();
  return CheckDir(c, key, parent, "create it or fix the path of " + path);
}
}  // namespace

Result<ServerConfig> LoadServerConfig(const std::string& path) {
  Result<std::string> text = ReadSmallFile(path);
  if (!text.ok()) {
    int err = text.status().saved_errno();
    std::string why = err ? std::strerror(err) : text.status().message();
    return Status::InvalidArgument(
        path + ": cannot read the config file: " + why +
        "; create it (the minimal config is store = \"...\", mountpoint = \"...\", spool = "
        "\"...\", docs/config.md) or give its path with --config");
  }
  KEEPFS_ASSIGN_OR_RETURN(ServerConfig c, ParseServerConfig(*text, path));

  std::error_code ec;
  fs::path dir = fs::absolute(fs::path(path), ec).parent_path();
  if (ec) return Status::InvalidArgument(path + ": cannot make the path absolute: " + ec.message());
  c.store = Resolve(dir, c.store);
  c.mountpoint = Resolve(dir, c.mountpoint);
  c.spool = Resolve(dir, c.spool);
  c.socket = Resolve(dir, c.socket);
  c.schedule.store_backup_dest = Resolve(dir, c.schedule.store_backup_dest);
  c.log.file = Resolve(dir, c.log.file);

  KEEPFS_RETURN_IF_ERROR(CheckStore(c));
  KEEPFS_RETURN_IF_ERROR(CheckDir(c, "mountpoint", c.mountpoint, "create it or fix the path"));
  KEEPFS_RETURN_IF_ERROR(CheckDir(c, "spool", c.spool, "create it or fix the path"));
  if (c.schedule.store_backup.every != Schedule::Every::kOff) {
    KEEPFS_RETURN_IF_ERROR(
        CheckParent(c, "schedule.store_backup_dest", c.schedule.store_backup_dest));
  }
  if (!c.log.file.empty()) KEEPFS_RETURN_IF_ERROR(CheckParent(c, "log.file", c.log.file));
  return c;
}

}  // namespace keepfs::server
