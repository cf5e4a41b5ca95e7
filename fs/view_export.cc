#include "fs/view_export.h"

#include <spdlog/spdlog.h>

#include <mutex>
#include <optional>

#include "fs/export_index.h"
#include "fs/inode.h"
#include "fs/view_impl.h"
#include "snapshot/catalog.h"
#include "snapshot/repo.h"

namespace keepfs::fs {

namespace {
using snapshot::EntryType;
using Node = View::Node;

Status Stale() { return Status(StatusCode::kNotFound, "inode is not known", ESTALE); }

bool IsDir(const Node& n) {
  switch (n.kind) {
    case Node::kRoot:
    case Node::kUserDir:
    case Node::kMetaDir:
    case Node::kVersionsDir:
    case Node::kHistoryDir:
    case Node::kDeletedDir: return true;
    case Node::kSnapRoot:
    case Node::kEntry: return n.entry.type == EntryType::kDir;
    case Node::kLatest:
    case Node::kMetaFile: return false;
  }
  return false;
}

}  // namespace

ExportIndex& ViewExport::Index(View& v) {
  std::call_once(v.export_once_, [&v] {
    v.export_ = std::make_shared<ExportIndex>(v.store_, v.repo_->node_source());
  });
  return *v.export_;
}

Result<std::shared_ptr<const Node>> ViewExport::KnownOrRebuilt(View& v, uint64_t ino) {
  if (auto n = v.FindNode(ino)) return n;
  KEEPFS_ASSIGN_OR_RETURN(std::shared_ptr<Node> n, NodeByIno(v, ino));
  return std::shared_ptr<const Node>(std::move(n));
}

std::shared_ptr<const Node> ViewExport::Hold(View& v, std::shared_ptr<const Node> n) {
  std::lock_guard<std::mutex> lock(v.nodes_mu_);
  // A node the table gained meanwhile is the same inode: keep the table's.
  auto [it, fresh] = v.nodes_.try_emplace(n->ino, std::move(n), 0);
  ++it->second.second;
  return it->second.first;
}

Result<EntryOut> ViewExport::LookupDot(View& v, const Caller& c, uint64_t ino,
                                       std::string_view name) {
  KEEPFS_ASSIGN_OR_RETURN(std::shared_ptr<const Node> n, KnownOrRebuilt(v, ino));
  // As Lookup: anyone may see /MOUNT and the user folders themselves.
  auto check = [&](const Node& x) {
    return x.kind == Node::kRoot || x.kind == Node::kUserDir ? Status::OK() : v.CheckAccess(c, x);
  };
  if (name == "..") {
    if (!IsDir(*n)) return Status(StatusCode::kInvalidArgument, "not a directory", ENOTDIR);
    KEEPFS_RETURN_IF_ERROR(check(*n));
    if (n->kind == Node::kRoot) {
      // The root is its own parent.
    } else if (n->up) {
      n = n->up;  // the folder it was found in
    } else {
      KEEPFS_ASSIGN_OR_RETURN(n, KnownOrRebuilt(v, n->parent));
    }
  }
  KEEPFS_RETURN_IF_ERROR(check(*n));
  return v.Reply(*Hold(v, std::move(n)));
}

Result<std::shared_ptr<Node>> ViewExport::NodeByIno(View& v, uint64_t ino) {
  const uint64_t number = InoNumber(ino), local = InoLocal(ino);
  if (number == 0) return Stale();  // the root never leaves the table
  KEEPFS_ASSIGN_OR_RETURN(std::optional<ExportIndex::Owner> owner, Index(v).Find(number));
  if (!owner) return Stale();
  auto dir = v.UserDirNode(owner->user);
  if (!dir.ok()) return dir.status().code() == StatusCode::kNotFound ? Stale() : dir.status();
  if (owner->snapshot.empty()) {
    if ((*dir)->ino != MakeIno(number, kUserDirLocal)) return Stale();
    return UserLocal(v, std::move(*dir), local);
  }
  auto info = v.LoadSnap(owner->user, owner->snapshot);
  if (!info.ok()) return info.status().code() == StatusCode::kNotFound ? Stale() : info.status();
  // The name may hold a husk now, under a new number: this inode is gone.
  if ((*info)->record.number != number) return Stale();
  std::shared_ptr<const View::SnapInfo> snap = std::move(*info);
  KEEPFS_ASSIGN_OR_RETURN(std::shared_ptr<Node> root, v.SnapRootNode(snap));
  root->parent = (*dir)->ino;
  if (local == 0) return root;
  uint64_t ordinal = local;
  if (local & kLinkFlag) {
    const uint64_t group = local & ~kLinkFlag;
    if (group >= snap->record.links.size()) return Stale();
    auto found = Index(v).LinkOrdinal(snap->record, snap->record.links[group].first);
    if (!found.ok()) {
      spdlog::error("{}: finding a hard link: {}", v.PathOf(*root), found.status().message());
      return Status(StatusCode::kCorruption, found.status().message(), EIO);
    }
    if (!*found) return Stale();
    ordinal = **found;
  }
  KEEPFS_ASSIGN_OR_RETURN(std::shared_ptr<Node> n, EntryByOrdinal(v, std::move(root), ordinal));
  // An ordinal that names a hard link's name is not an inode the mount gave out.
  if (n->ino != ino) return Stale();
  return n;
}

Result<std::shared_ptr<Node>> ViewExport::UserLocal(View& v, std::shared_ptr<Node> dir,
                                                    uint64_t local) {
  if (local == kUserDirLocal) return dir;
  if (local == kLatestLocal) {
    KEEPFS_ASSIGN_OR_RETURN(std::shared_ptr<Node> latest, v.LatestNode(*dir));
    if (!latest) return Stale();
    return latest;
  }
  std::shared_ptr<Node> meta = v.MetaDirNode(*dir);
  if (local == kMetaDirLocal) return meta;
  if (local >= kMetaFileLocal && local < kMetaFileLocal + kMetaFileCount) {
    return v.MetaFileNode(*meta, local - kMetaFileLocal);
  }
  if (local == kVersionsLocal) return v.VersionsNode(*dir, "", /*folder=*/true);
  std::shared_ptr<Node> deleted = v.DeletedNode(*dir, "");
  if (local == kDeletedLocal) return deleted;
  if (local == kMetaFileLocal + kDeletedIndexFile) return v.MetaFileNode(*deleted, kDeletedIndexFile);
  // The folders below .versions and .deleted are numbered by a hash of their
  // paths, which cannot be turned back into one.
  return Stale();
}

Result<std::shared_ptr<Node>> ViewExport::EntryByOrdinal(View& v, std::shared_ptr<Node> root,
                                                         uint64_t ordinal) {
  std::shared_ptr<Node> dir = std::move(root);
  // Each step goes one folder down: at most one step per path component.
  while (true) {
    if (dir->entry.type != EntryType::kDir) return Stale();
    auto hit = v.trees_->Covering(dir->entry.ref, dir->ordinal + 1, ordinal);
    if (!hit.ok()) return v.ReadFailure(*dir, hit.status(), ESTALE);
    if (!*hit) return Stale();
    KEEPFS_ASSIGN_OR_RETURN(std::shared_ptr<Node> n,
                            v.EntryNode(dir, std::move((*hit)->entry), (*hit)->ordinal));
    if (n->ordinal == ordinal) return n;
    dir = std::move(n);
  }
}

}  // namespace keepfs::fs
