// View: the history views of a user's folder, /USER/.versions/ (a file's
// versions, snapshot/history.h) and /USER/.deleted/ (what was deleted
// lately, snapshot/deleted.h). Layout and caching: docs/mount.md.
//
// Nothing here is kept per snapshot: a view folder is (kind, user, path),
// resolved against the snapshots each time it is listed or looked in, with
// FileHistory's and DeletedSince's answers cached per user until one of the
// user's snapshots is committed or removed. Files in the views are the
// snapshots' own inodes (the same number as under /USER/SNAPSHOT/), so
// reading one reads that version, and the page cache is shared.
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <set>

#include "fs/inode.h"
#include "fs/view.h"
#include "fs/view_impl.h"
#include "snapshot/repo.h"

namespace keepfs::fs {

namespace {
using snapshot::EntryType;

// How long a deleted list is reused while no snapshot changes: the window
// moves with the clock.
constexpr int64_t kDeletedRefreshMs = 60'000;

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string Join(const std::string& rel, std::string_view name) {
  return rel.empty() ? std::string(name) : rel + "/" + std::string(name);
}

// FNV-1a: stable across runs and builds, so a folder keeps its number over
// remounts unless two live folders collide.
uint64_t PathHash(int kind, const std::string& rel) {
  uint64_t h = 1469598103934665603ull ^ static_cast<uint64_t>(kind);
  for (unsigned char c : rel) h = (h ^ c) * 1099511628211ull;
  return h;
}
}  // namespace

uint64_t View::HashedIno(uint64_t number, int kind, const std::string& rel) {
  uint64_t h = PathHash(kind, rel);
  std::lock_guard<std::mutex> lock(nodes_mu_);
  for (;; ++h) {
    uint64_t ino = MakeIno(number, kHashedLocal | (h & kMaxOrdinal));
    auto it = nodes_.find(ino);
    if (it == nodes_.end()) return ino;
    const Node& held = *it->second.first;
    if (held.kind == kind && held.rel == rel) return ino;
  }
}

std::shared_ptr<View::Node> View::ViewNode(const Node& parent, int kind, std::string rel) {
  auto n = std::make_shared<Node>();
  n->kind = static_cast<Node::Kind>(kind);
  n->user = parent.user;
  n->parent = parent.ino;
  const uint64_t number = InoNumber(parent.ino);
  if (rel.empty()) {
    n->ino = MakeIno(number, kind == Node::kDeletedDir ? kDeletedLocal : kVersionsLocal);
  } else {
    n->ino = HashedIno(number, kind, rel);
  }
  n->rel = std::move(rel);
  return n;
}

std::shared_ptr<View::Node> View::VersionsNode(const Node& parent, std::string rel, bool folder) {
  return ViewNode(parent, folder ? Node::kVersionsDir : Node::kHistoryDir, std::move(rel));
}

std::shared_ptr<View::Node> View::DeletedNode(const Node& parent, std::string rel) {
  return ViewNode(parent, Node::kDeletedDir, std::move(rel));
}

Result<std::shared_ptr<View::Node>> View::SnapEntryNode(const std::string& user,
                                                        const std::string& snapshot,
                                                        std::string_view rel) {
  KEEPFS_ASSIGN_OR_RETURN(std::shared_ptr<const SnapInfo> info, LoadSnap(user, snapshot));
  KEEPFS_ASSIGN_OR_RETURN(std::shared_ptr<Node> cur, SnapRootNode(std::move(info)));
  while (!rel.empty()) {
    size_t slash = rel.find('/');
    std::string_view name = rel.substr(0, slash);
    rel = slash == std::string_view::npos ? std::string_view() : rel.substr(slash + 1);
    if (name.empty()) continue;
    if (cur->entry.type != EntryType::kDir) return Status::NotFound("not a folder");
    auto hit = trees_->Lookup(cur->entry.ref, cur->ordinal + 1, name);
    if (!hit.ok()) return Status(StatusCode::kCorruption, hit.status().message(), EIO);
    if (!*hit) return Status::NotFound("no such entry");
    KEEPFS_ASSIGN_OR_RETURN(cur, EntryNode(cur, std::move((*hit)->entry), (*hit)->ordinal));
  }
  return cur;
}

Result<std::shared_ptr<View::Node>> View::FolderInNewest(const std::string& user,
                                                         const std::string& rel) {
  KEEPFS_ASSIGN_OR_RETURN(std::optional<std::string> newest, repo_->NewestSnapshotName(user));
  if (!newest) return Status::NotFound("no snapshots");
  auto n = SnapEntryNode(user, *newest, rel);
  if (n.ok() && (*n)->entry.type == EntryType::kDir) return n;
  if (!n.ok() && n.status().code() != StatusCode::kNotFound) return n.status();
  // A folder the newest snapshot lacks: the newest one that has it.
  KEEPFS_ASSIGN_OR_RETURN(std::vector<snapshot::SnapshotRecord> snaps, repo_->ListSnapshots(user));
  for (auto it = snaps.rbegin(); it != snaps.rend(); ++it) {
    auto e = repo_->ResolvePath(*it, rel);
    if (e.ok() && e->type == EntryType::kDir) return SnapEntryNode(user, it->name, rel);
  }
  return Status::NotFound("no snapshot has that folder");
}

Result<std::shared_ptr<const std::vector<snapshot::FileVersion>>> View::Versions(
    const std::string& user, const std::string& rel) {
  const auto key = std::make_pair(user, rel);
  {
    std::lock_guard<std::mutex> lock(history_->mu);
    auto it = history_->versions.find(key);
    if (it != history_->versions.end()) {
      if (!it->second.status.ok()) return it->second.status;
      return it->second.list;
    }
  }
  HistoryCache::Versions v;
  auto found = snapshot::FileHistory(*repo_, user, rel);
  if (found.ok()) {
    v.list = std::make_shared<const std::vector<snapshot::FileVersion>>(std::move(*found));
  } else {
    v.status = found.status();
    if (v.status.code() == StatusCode::kCorruption) {
      spdlog::error("{}/.versions/{}: {}", user, rel, v.status.message());
      return Status(StatusCode::kCorruption, v.status.message(), EIO);  // not cached
    }
  }
  std::lock_guard<std::mutex> lock(history_->mu);
  if (history_->versions.size() >= HistoryCache::kMaxVersions) history_->versions.clear();
  history_->versions[key] = v;
  if (!v.status.ok()) return v.status;
  return v.list;
}

Result<std::shared_ptr<const snapshot::DeletedList>> View::Deleted(const std::string& user,
                                                                   int64_t* since_out) {
  {
    std::lock_guard<std::mutex> lock(history_->mu);
    auto it = history_->deleted.find(user);
    if (it != history_->deleted.end() && SteadyMs() - it->second.at_ms < kDeletedRefreshMs) {
      if (since_out) *since_out = it->second.since;
      return it->second.list;
    }
  }
  int64_t window;
  {
    std::lock_guard<std::mutex> lock(config_mu_);
    window = config_.mount.deleted_window_sec;
  }
  HistoryCache::Deleted d;
  d.at_ms = SteadyMs();
  d.since = static_cast<int64_t>(std::time(nullptr)) - window;
  auto list = snapshot::DeletedSince(*repo_, user, d.since);
  if (!list.ok()) {
    spdlog::error("{}/.deleted: {}", user, list.status().message());
    return Status(StatusCode::kCorruption, list.status().message(), EIO);
  }
  d.list = std::make_shared<const snapshot::DeletedList>(std::move(*list));
  if (since_out) *since_out = d.since;
  std::lock_guard<std::mutex> lock(history_->mu);
  history_->deleted[user] = d;
  return d.list;
}

Result<View::DeletedPlace> View::FindDeleted(const std::string& user, const std::string& rel) {
  DeletedPlace place;
  KEEPFS_ASSIGN_OR_RETURN(place.list, Deleted(user));
  const auto& entries = place.list->entries;
  auto by_path = [](const snapshot::DeletedEntry& e, const std::string& p) { return e.path < p; };
  // The deleted entry at rel or at a folder above it (paths sorted by bytes).
  for (std::string up = rel; !up.empty();) {
    auto it = std::lower_bound(entries.begin(), entries.end(), up, by_path);
    if (it != entries.end() && it->path == up) {
      place.entry = &*it;
      KEEPFS_ASSIGN_OR_RETURN(place.base, SnapEntryNode(user, it->snapshot, rel));
      return place;
    }
    size_t slash = up.rfind('/');
    up = slash == std::string::npos ? std::string() : up.substr(0, slash);
  }
  const std::string prefix = rel.empty() ? rel : rel + "/";
  std::set<std::string> names;
  for (auto it = std::lower_bound(entries.begin(), entries.end(), prefix, by_path);
       it != entries.end() && it->path.compare(0, prefix.size(), prefix) == 0; ++it) {
    names.insert(it->path.substr(prefix.size(), it->path.find('/', prefix.size()) - prefix.size()));
  }
  if (names.empty() && !rel.empty()) return Status::NotFound("nothing deleted there");
  place.children.assign(names.begin(), names.end());
  return place;
}

Result<std::shared_ptr<View::Node>> View::LookupInHistory(const std::shared_ptr<const Node>& parent,
                                                          std::string_view name) {
  const Node& p = *parent;
  const std::string rel = Join(p.rel, name);
  if (p.kind == Node::kHistoryDir) {
    KEEPFS_ASSIGN_OR_RETURN(auto versions, Versions(p.user, p.rel));
    for (const auto& v : *versions) {
      if (v.name == name) return SnapEntryNode(p.user, v.first_snapshot, p.rel);
    }
    return std::shared_ptr<Node>();
  }
  if (p.kind == Node::kVersionsDir) {
    auto base = FolderInNewest(p.user, p.rel);
    if (base.ok()) {
      auto hit = trees_->Lookup((*base)->entry.ref, (*base)->ordinal + 1, name);
      if (!hit.ok()) return Status(StatusCode::kCorruption, hit.status().message(), EIO);
      if (*hit) return VersionsNode(p, rel, (*hit)->entry.type == EntryType::kDir);
    } else if (base.status().code() != StatusCode::kNotFound) {
      return base.status();
    }
    // Not in the folder now: any path some snapshot held can still be asked for.
    auto versions = Versions(p.user, rel);
    if (versions.ok()) return VersionsNode(p, rel, /*folder=*/false);
    if (versions.status().code() == StatusCode::kInvalidArgument) {  // a folder in every one
      return VersionsNode(p, rel, /*folder=*/true);
    }
    if (versions.status().code() == StatusCode::kNotFound) return std::shared_ptr<Node>();
    return versions.status();
  }
  // kDeletedDir
  if (p.rel.empty() && name == kMetaFiles[kDeletedIndexFile]) {
    return MetaFileNode(p, kDeletedIndexFile);
  }
  auto place = FindDeleted(p.user, rel);
  if (!place.ok()) {
    if (place.status().code() == StatusCode::kNotFound) return std::shared_ptr<Node>();
    return place.status();
  }
  if (place->base && place->base->entry.type != EntryType::kDir) return place->base;
  auto n = DeletedNode(p, rel);
  // Shown as the folder itself: a deleted one as last seen, one above
  // deleted entries as the newest snapshot has it.
  std::shared_ptr<Node> folder = place->base;
  if (!folder) {
    auto newest = FolderInNewest(p.user, rel);
    if (newest.ok()) folder = std::move(*newest);
  }
  if (folder) {
    n->entry = folder->entry;
    n->shows_entry = true;
  }
  return n;
}

Status View::OpenHistory(DirHandle& h) {
  const Node& n = *h.node;
  if (n.kind == Node::kHistoryDir) {
    auto versions = Versions(n.user, n.rel);
    if (!versions.ok()) {
      if (versions.status().code() == StatusCode::kCorruption) return versions.status();
      return Status::OK();  // gone since it was looked up: an empty folder
    }
    for (const auto& v : **versions) {
      auto node = SnapEntryNode(n.user, v.first_snapshot, n.rel);
      if (node.ok()) h.virtual_entries.push_back({v.name, std::move(*node)});
    }
    return Status::OK();
  }
  if (n.kind == Node::kVersionsDir) {
    auto base = FolderInNewest(n.user, n.rel);
    if (!base.ok()) return base.status().code() == StatusCode::kNotFound ? Status::OK() : base.status();
    h.base = std::move(*base);
  } else {
    if (n.rel.empty()) h.virtual_entries.push_back({kMetaFiles[kDeletedIndexFile],
                                                    MetaFileNode(n, kDeletedIndexFile)});
    auto place = FindDeleted(n.user, n.rel);
    if (!place.ok()) {
      return place.status().code() == StatusCode::kNotFound ? Status::OK() : place.status();
    }
    if (place->base && place->base->entry.type == EntryType::kDir) {
      h.base = std::move(place->base);
    } else {
      for (const std::string& name : place->children) {
        auto child = LookupInHistory(h.node, name);
        if (child.ok() && *child) h.virtual_entries.push_back({name, std::move(*child)});
      }
      return Status::OK();
    }
  }
  if (h.base) h.cursor.emplace(trees_.get(), h.base->entry.ref, h.base->ordinal + 1);
  return Status::OK();
}

Result<std::shared_ptr<View::Node>> View::CursorChild(const DirHandle& h, const snapshot::Entry& e,
                                                      uint64_t ordinal) {
  const Node& dir = *h.node;
  if (!dir.IsHistoryView()) return EntryNode(h.node, e, ordinal);
  const bool folder = e.type == EntryType::kDir;
  if (dir.kind == Node::kVersionsDir) return VersionsNode(dir, Join(dir.rel, e.name), folder);
  if (!folder) return EntryNode(h.base, e, ordinal);  // a file of a deleted folder: the snapshot's own
  auto n = DeletedNode(dir, Join(dir.rel, e.name));
  n->entry = e;
  n->shows_entry = true;
  return n;
}

Result<std::string> View::DeletedIndexText(const std::string& user) {
  int64_t since = 0;
  KEEPFS_ASSIGN_OR_RETURN(auto list, Deleted(user, &since));
  return snapshot::DeletedReport(user, *list, since, /*index=*/true);
}

}  // namespace keepfs::fs
