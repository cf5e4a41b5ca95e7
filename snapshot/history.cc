#include "snapshot/history.h"

#include <map>
#include <tuple>

namespace keepfs::snapshot {

namespace {
// What makes two entries the same version: never the metadata alone (a
// touch is no new version), always the bytes.
using VersionKey = std::tuple<int, std::string, std::string, uint64_t>;

VersionKey KeyOf(const Entry& e) {
  return {static_cast<int>(e.type), std::string(e.ref.AsBytes()), e.target, e.rdev};
}
}  // namespace

std::string FileExtension(std::string_view path) {
  const size_t slash = path.find_last_of('/');
  std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
  size_t dot = base.find_last_of('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == base.size()) return "";
  return std::string(base.substr(dot));
}

Result<std::vector<FileVersion>> FileHistory(const Repo& repo, std::string_view user,
                                             std::string_view path) {
  KEEPFS_ASSIGN_OR_RETURN(std::vector<SnapshotRecord> snaps, repo.ListUserSnapshots(user));
  std::vector<FileVersion> out;
  std::map<VersionKey, size_t> seen;
  bool any_dir = false;
  const std::string ext = FileExtension(path);
  Repo::LookupMemo memo;  // the snapshots share most folders on the path
  for (const SnapshotRecord& s : snaps) {  // oldest first
    auto e = repo.ResolvePath(s, path, &memo);
    if (!e.ok()) {
      if (e.status().code() == StatusCode::kNotFound) continue;  // not there then
      return e.status().WithContext(std::string(user) + "/" + s.name);
    }
    if (e->type == EntryType::kDir) {
      any_dir = true;
      continue;
    }
    auto [it, fresh] = seen.emplace(KeyOf(*e), out.size());
    if (fresh) {
      FileVersion v;
      v.name = s.name + ext;
      v.first_snapshot = s.name;
      v.first_time = s.time_sec;
      v.entry = std::move(*e);
      out.push_back(std::move(v));
    }
    FileVersion& v = out[it->second];
    v.last_snapshot = s.name;
    v.last_time = s.time_sec;
    ++v.snapshots;
  }
  if (out.empty()) {
    if (any_dir) {
      return Status::InvalidArgument(std::string(path) + " is a folder in " + std::string(user) +
                                     "'s snapshots; its history is its files': ask for one of them");
    }
    return Status::NotFound("no snapshot of " + std::string(user) + " holds " + std::string(path));
  }
  return out;
}

}  // namespace keepfs::snapshot
