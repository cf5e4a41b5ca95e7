#include "snapshot/diff.h"

#include <vector>

namespace keepfs::snapshot {

namespace {

std::string WhatChanged(const Entry& a, const Entry& b) {
  std::string what;
  auto add = [&](const char* w) { what += (what.empty() ? "" : ",") + std::string(w); };
  if (a.ref != b.ref || a.size != b.size || a.target != b.target || a.rdev != b.rdev) {
    add("content");
  }
  if (a.mode != b.mode) add("mode");
  if (a.uid != b.uid || a.gid != b.gid) add("owner");
  if (a.mtime_sec != b.mtime_sec || a.mtime_nsec != b.mtime_nsec) add("mtime");
  if (a.xattrs != b.xattrs) add("xattrs");
  if (a.link_id != b.link_id) add("links");
  return what;
}

class Differ {
 public:
  Differ(const Repo& repo, const std::function<Status(const DiffItem&)>& fn)
      : repo_(repo), fn_(fn) {}

  Status Dirs(const ObjectId& a, const ObjectId& b, const std::string& prefix) {
    if (a == b) return Status::OK();
    KEEPFS_ASSIGN_OR_RETURN(std::vector<Entry> ea, repo_.ListFolder(a));
    KEEPFS_ASSIGN_OR_RETURN(std::vector<Entry> eb, repo_.ListFolder(b));
    size_t i = 0, j = 0;
    while (i < ea.size() || j < eb.size()) {
      if (j == eb.size() || (i < ea.size() && ea[i].name < eb[j].name)) {
        KEEPFS_RETURN_IF_ERROR(Whole(DiffKind::kRemoved, ea[i++], prefix));
      } else if (i == ea.size() || eb[j].name < ea[i].name) {
        KEEPFS_RETURN_IF_ERROR(Whole(DiffKind::kAdded, eb[j++], prefix));
      } else {
        KEEPFS_RETURN_IF_ERROR(Pair(ea[i++], eb[j++], prefix));
      }
    }
    return Status::OK();
  }

 private:
  static std::string PathOf(const Entry& e, const std::string& prefix) {
    return prefix + e.name + (e.type == EntryType::kDir ? "/" : "");
  }

  Status Pair(const Entry& a, const Entry& b, const std::string& prefix) {
    if (a.type != b.type) {
      KEEPFS_RETURN_IF_ERROR(Whole(DiffKind::kRemoved, a, prefix));
      return Whole(DiffKind::kAdded, b, prefix);
    }
    if (a.type == EntryType::kDir) {
      Entry ma = a, mb = b;
      ma.ref = mb.ref = ObjectId();  // compare the folder's own metadata only
      std::string what = WhatChanged(ma, mb);
      if (!what.empty()) KEEPFS_RETURN_IF_ERROR(fn_({DiffKind::kChanged, PathOf(a, prefix), a.type, what}));
      return Dirs(a.ref, b.ref, PathOf(a, prefix));
    }
    std::string what = WhatChanged(a, b);
    if (what.empty()) return Status::OK();
    return fn_({DiffKind::kChanged, PathOf(a, prefix), a.type, what});
  }

  Status Whole(DiffKind kind, const Entry& e, const std::string& prefix) {
    KEEPFS_RETURN_IF_ERROR(fn_({kind, PathOf(e, prefix), e.type, ""}));
    if (e.type != EntryType::kDir) return Status::OK();
    return ForEachEntry(e.ref, repo_.node_source(), [&](const Entry& child) -> Result<bool> {
      KEEPFS_RETURN_IF_ERROR(Whole(kind, child, PathOf(e, prefix)));
      return true;
    });
  }

  const Repo& repo_;
  const std::function<Status(const DiffItem&)>& fn_;
};

}  // namespace

Status DiffTrees(const Repo& repo, const ObjectId& a, const ObjectId& b,
                 const std::function<Status(const DiffItem&)>& fn) {
  Differ d(repo, fn);
  return d.Dirs(a, b, "");
}

}  // namespace keepfs::snapshot
