#include "fs/view.h"

#include <pwd.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include "fs/chunk_reader.h"
#include "fs/inode.h"
#include "fs/view_export.h"
#include "fs/view_impl.h"
#include "snapshot/catalog.h"
#include "snapshot/repo.h"
#include "snapshot/users.h"

namespace keepfs::fs {

namespace {
using snapshot::Entry;
using snapshot::EntryType;

constexpr size_t kMaxCachedSnaps = 4096;

}  // namespace

uint32_t ModeBits(const snapshot::Entry& e) {
  uint32_t type = S_IFREG;
  switch (e.type) {
    case EntryType::kFile: type = S_IFREG; break;
    case EntryType::kDir: type = S_IFDIR; break;
    case EntryType::kSymlink: type = S_IFLNK; break;
    case EntryType::kFifo: type = S_IFIFO; break;
    case EntryType::kCharDev: type = S_IFCHR; break;
    case EntryType::kBlockDev: type = S_IFBLK; break;
    case EntryType::kSocket: type = S_IFSOCK; break;
  }
  return type | (e.mode & 07777);
}

namespace {

Status Denied() { return Status(StatusCode::kPermissionDenied, "not your namespace", EACCES); }
Status Stale() { return Status(StatusCode::kNotFound, "inode is not known", ESTALE); }
}  // namespace

int ErrnoOf(const Status& s) { return s.saved_errno() != 0 ? s.saved_errno() : s.ToErrno(); }

View::View(Store* store)
    : store_(store),
      repo_(std::make_unique<snapshot::Repo>(store)),
      history_(std::make_unique<HistoryCache>()) {
  config_ = store->config();
  store->SetSnapshotListener(
      [this](std::string_view user, std::string_view name) { SnapshotChanged(user, name); });
  const MountConfig& m = config_.mount;
  // Decoded trees get an eighth of the cache budget (at least 8 MiB): they are
  // small and hot; chunks get the rest.
  uint64_t tree_bytes = std::max<uint64_t>(8ull << 20, m.cache_bytes / 8);
  trees_ = std::make_unique<TreeCache>(repo_.get(), tree_bytes);
  chunks_ = std::make_unique<ChunkReader>(&store->chunks(), m.cache_bytes,
                                          m.readahead_chunks > 0 ? 2 : 0);
  auto root = std::make_shared<Node>();
  root->kind = Node::kRoot;
  root->ino = kRootIno;
  nodes_.reserve(1 << 16);
  nodes_[kRootIno] = {root, 1};
}

View::~View() { store_->SetSnapshotListener(nullptr); }

void View::SetInvalidator(Invalidator fn) {
  std::lock_guard<std::mutex> lock(invalidator_mu_);
  invalidator_ = std::move(fn);
}

void View::SnapshotChanged(std::string_view user, std::string_view name) {
  history_->Forget(std::string(user));
  {
    std::lock_guard<std::mutex> lock(meta_mu_);  // the reports change with the snapshots
    for (auto it = meta_cache_.lower_bound({std::string(user), 0});
         it != meta_cache_.end() && it->first.first == user;) {
      it = meta_cache_.erase(it);
    }
  }
  std::lock_guard<std::mutex> lock(invalidator_mu_);
  if (!invalidator_) return;
  auto dir = UserDirNode(std::string(user));
  if (!dir.ok()) return;  // a user the mount cannot show has nothing cached either
  invalidator_((*dir)->ino, std::string(name));
  invalidator_((*dir)->ino, "latest");
  // The history views follow the snapshots: the kernel forgets what it
  // learnt below them (names there also expire after a second).
  invalidator_((*dir)->ino, ".versions");
  invalidator_((*dir)->ino, ".deleted");
}

void View::ReloadConfig() {
  StoreConfig c = store_->config();
  std::lock_guard<std::mutex> lock(config_mu_);
  config_ = std::move(c);
  owners_.clear();
}

View::Owner View::OwnerOf(const std::string& user) {
  std::lock_guard<std::mutex> lock(config_mu_);
  if (auto it = owners_.find(user); it != owners_.end()) return it->second;
  Owner o;  // nobody mapped: root only
  if (auto it = config_.users.find(user); it != config_.users.end()) {
    o = {it->second.uid, it->second.gid};
  } else {
    // A server account of the same name, if there is one.
    struct passwd pw, *found = nullptr;
    char buf[4096];
    if (::getpwnam_r(user.c_str(), &pw, buf, sizeof buf, &found) == 0 && found) {
      o = {found->pw_uid, found->pw_gid};
    }
  }
  owners_[user] = o;
  return o;
}

bool View::Allowed(const Caller& c, const std::string& user) {
  if (c.uid == 0) return true;
  Owner o = OwnerOf(user);
  if (o.uid != 0 && c.uid == o.uid) return true;
  std::optional<uint32_t> admin;
  {
    std::lock_guard<std::mutex> lock(config_mu_);
    admin = config_.mount.admin_gid;
  }
  return admin && (c.gid == *admin || (c.in_group && c.in_group(*admin)));
}

Status View::CheckAccess(const Caller& c, const Node& n) {
  if (n.kind == Node::kRoot) return Status::OK();
  return Allowed(c, n.user) ? Status::OK() : Denied();
}

std::shared_ptr<const View::Node> View::FindNode(uint64_t ino) {
  std::lock_guard<std::mutex> lock(nodes_mu_);
  auto it = nodes_.find(ino);
  return it == nodes_.end() ? nullptr : it->second.first;
}

std::shared_ptr<const View::Node> View::Remember(std::shared_ptr<Node> node) {
  std::lock_guard<std::mutex> lock(nodes_mu_);
  auto [it, fresh] = nodes_.try_emplace(node->ino, node, 0);
  // The virtual nodes change ('latest' moves); snapshot nodes never do.
  if (!fresh && node->kind != Node::kSnapRoot && node->kind != Node::kEntry) {
    it->second.first = std::move(node);
  }
  ++it->second.second;
  return it->second.first;
}

void View::Forget(uint64_t ino, uint64_t nlookup) {
  if (ino == kRootIno) return;
  std::lock_guard<std::mutex> lock(nodes_mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) return;
  if (it->second.second <= nlookup) {
    nodes_.erase(it);
  } else {
    it->second.second -= nlookup;
  }
}

std::string View::SnapPath(const Node& n) {
  std::vector<const std::string*> parts;
  for (const Node* cur = &n; cur && cur->kind == Node::kEntry; cur = cur->up.get()) {
    parts.push_back(&cur->entry.name);
  }
  std::string path;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    if (!path.empty()) path += '/';
    path += **it;
  }
  return path;
}

std::string View::PathOf(const Node& n) {
  std::string path = n.user + "/" + (n.snap ? n.snap->name : std::string());
  std::string rel = SnapPath(n);
  return rel.empty() ? path : path + "/" + rel;
}

Attr View::AttrOf(const Node& n) {
  Attr a;
  a.ino = n.ino;
  const bool virtual_of_user = n.kind == Node::kUserDir || n.kind == Node::kLatest ||
                               n.kind == Node::kMetaDir || n.kind == Node::kMetaFile ||
                               (n.IsHistoryView() && !n.shows_entry);
  if (virtual_of_user) {  // the mount's own entries in a user's folder belong to the user
    Owner o = OwnerOf(n.user);
    a.uid = o.uid;
    a.gid = o.gid;
  }
  switch (n.kind) {
    case Node::kRoot:
      a.mode = S_IFDIR | 0755;
      a.nlink = 2;
      a.mtime_sec = store_->meta().created_unix;
      return a;
    case Node::kUserDir:
      a.mode = S_IFDIR | 0700;
      a.nlink = 2;
      a.mtime_sec = n.user_created;
      return a;
    case Node::kLatest:
      a.mode = S_IFLNK | 0777;
      a.size = n.entry.target.size();
      a.mtime_sec = n.entry.mtime_sec;
      return a;
    case Node::kDeletedDir:
      if (n.shows_entry) break;
      [[fallthrough]];
    case Node::kMetaDir:
    case Node::kVersionsDir:
    case Node::kHistoryDir:
      a.mode = S_IFDIR | 0500;
      a.nlink = 2;
      a.mtime_sec = static_cast<int64_t>(std::time(nullptr));
      return a;
    case Node::kMetaFile: {
      a.mode = S_IFREG | 0400;
      a.mtime_sec = static_cast<int64_t>(std::time(nullptr));
      auto text = MetaText(n.user, n.meta_file);
      a.size = text.ok() ? text->size() : 0;  // an error shows when it is opened
      a.blocks = (a.size + 511) / 512;
      return a;
    }
    case Node::kSnapRoot:
    case Node::kEntry:
      break;
  }
  const Entry& e = n.entry;
  a.mode = ModeBits(e);
  a.nlink = static_cast<uint32_t>(std::min<uint64_t>(n.nlink, UINT32_MAX));
  bool owner_view;
  {
    std::lock_guard<std::mutex> lock(config_mu_);
    owner_view = config_.mount.owner_view;
  }
  if (owner_view) {
    Owner o = OwnerOf(n.user);
    a.uid = o.uid;
    a.gid = o.gid;
  } else {
    a.uid = e.uid;
    a.gid = e.gid;
  }
  a.rdev = e.rdev;
  a.mtime_sec = e.mtime_sec;
  a.mtime_nsec = e.mtime_nsec;
  if (e.type == EntryType::kFile) {
    a.size = e.size;
    a.blocks = (e.size - std::min(e.hole_bytes, e.size) + 511) / 512;
  } else if (e.type == EntryType::kSymlink) {
    a.size = e.target.size();
  }
  return a;
}

double View::AttrTimeout(const Node& n) const {
  switch (n.kind) {
    case Node::kRoot:
    case Node::kUserDir:
    case Node::kVersionsDir:
    case Node::kHistoryDir:
    case Node::kDeletedDir: return kUserListTimeout;
    case Node::kLatest:
    case Node::kMetaDir:
    case Node::kMetaFile: return 0;  // generated: asked again every time
    case Node::kSnapRoot:
    case Node::kEntry: return kImmutableTimeout;
  }
  return 0;
}

EntryOut View::Reply(const Node& n) {
  EntryOut out;
  out.attr = AttrOf(n);
  out.attr_timeout = AttrTimeout(n);
  // Every name in a user's folder leads into the namespace: a path walk
  // through it is checked again once path_cache_seconds have passed.
  const bool in_user_dir = n.kind == Node::kLatest || n.kind == Node::kSnapRoot ||
                           n.kind == Node::kMetaDir || (n.IsHistoryView() && n.rel.empty());
  if (in_user_dir) {
    std::lock_guard<std::mutex> lock(config_mu_);
    out.entry_timeout = config_.mount.path_cache_seconds;
    return out;
  }
  switch (n.kind) {
    case Node::kRoot:
    case Node::kUserDir:
    case Node::kMetaDir:
    case Node::kMetaFile:
    case Node::kVersionsDir:
    case Node::kHistoryDir:
    case Node::kDeletedDir: out.entry_timeout = kUserListTimeout; break;
    case Node::kLatest:
    case Node::kSnapRoot: break;  // above
    case Node::kEntry: out.entry_timeout = kImmutableTimeout; break;
  }
  return out;
}

Result<std::shared_ptr<View::Node>> View::UserDirNode(const std::string& user) {
  if (!snapshot::ValidateUserName(user).ok()) return Status::NotFound("no such user");
  KEEPFS_ASSIGN_OR_RETURN(std::optional<snapshot::UserRecord> rec, snapshot::GetUser(*store_, user));
  if (!rec) return Status::NotFound("no such user");
  if (rec->number > kMaxNumber) return Status(StatusCode::kInternal, "number too large", EOVERFLOW);
  auto n = std::make_shared<Node>();
  n->kind = Node::kUserDir;
  n->ino = MakeIno(rec->number, kUserDirLocal);
  n->user = user;
  n->parent = kRootIno;
  n->user_created = rec->created_unix;
  return n;
}

Result<std::shared_ptr<const View::SnapInfo>> View::LoadSnap(const std::string& user,
                                                             const std::string& name) {
  std::string value;
  KEEPFS_ASSIGN_OR_RETURN(bool found, store_->kv().Get(snapshot::SnapshotKey(user, name), &value));
  if (!found) {
    std::lock_guard<std::mutex> lock(snaps_mu_);
    snaps_.erase(user + '/' + name);
    return Status::NotFound("no such snapshot");
  }
  return SnapFromValue(user, name, std::move(value));
}

Result<std::shared_ptr<const View::SnapInfo>> View::SnapFromValue(const std::string& user,
                                                                  const std::string& name,
                                                                  std::string value) {
  std::string key = user + '/' + name;
  {
    std::lock_guard<std::mutex> lock(snaps_mu_);
    auto it = snaps_.find(key);
    if (it != snaps_.end() && it->second->raw == value) return it->second;
  }
  auto rec = snapshot::DecodeSnapshotRecord(value);
  if (!rec.ok()) {
    spdlog::error("snapshot {}: {}", key, rec.status().message());
    return Status(StatusCode::kCorruption, rec.status().message(), EIO);
  }
  if (rec->number == 0 || rec->number > kMaxNumber) {
    spdlog::error("snapshot {} has no usable number; it cannot be mounted", key);
    return Status(StatusCode::kCorruption, "snapshot without a number", EIO);
  }
  auto info = std::make_shared<SnapInfo>();
  info->user = user;
  info->name = name;
  info->raw = std::move(value);
  info->record = std::move(*rec);
  info->record.user = user;
  info->record.name = name;
  std::lock_guard<std::mutex> lock(snaps_mu_);
  if (snaps_.size() >= kMaxCachedSnaps) snaps_.clear();
  snaps_[key] = info;
  return std::shared_ptr<const SnapInfo>(info);
}

bool View::SnapshotGone(const Node& n) {
  if (!n.snap) return false;
  // Prune and forget delete the record (or give the husk a new number) in
  // the batch that drops the counts; gc deletes only after that batch. So
  // when a read fails because gc took the object, this sees the change.
  auto info = LoadSnap(n.user, n.snap->name);
  if (!info.ok()) return info.status().code() == StatusCode::kNotFound;
  return (*info)->record.number != n.snap->record.number;
}

Status View::ReadFailure(const Node& n, const Status& s, int errno_if_gone) {
  if (SnapshotGone(n)) {
    spdlog::debug("{}: {} (the snapshot is gone)", PathOf(n), s.message());
    return Status(StatusCode::kNotFound, "the snapshot is gone", errno_if_gone);
  }
  spdlog::error("{}: {}", PathOf(n), s.message());
  return Status(StatusCode::kCorruption, s.message(), EIO);
}

Result<std::shared_ptr<View::Node>> View::SnapRootNode(std::shared_ptr<const SnapInfo> snap) {
  auto n = std::make_shared<Node>();
  n->kind = Node::kSnapRoot;
  n->ino = MakeIno(snap->record.number, 0);
  n->user = snap->user;
  Entry& e = n->entry;
  e.type = EntryType::kDir;
  e.ref = snap->record.root;
  e.mode = 0755;
  e.mtime_sec = snap->record.time_sec;
  if (const auto& m = snap->record.root_meta) {
    e.mode = m->mode;
    e.uid = m->uid;
    e.gid = m->gid;
    e.mtime_sec = m->mtime_sec;
    e.mtime_nsec = m->mtime_nsec;
    e.xattrs = m->xattrs;
  }
  n->snap = std::move(snap);
  return n;
}

Result<std::shared_ptr<View::Node>> View::LatestNode(const Node& user_dir) {
  KEEPFS_ASSIGN_OR_RETURN(std::optional<std::string> newest,
                          repo_->NewestSnapshotName(user_dir.user));
  if (!newest) return std::shared_ptr<Node>();
  int64_t time;
  uint32_t seq;
  KEEPFS_RETURN_IF_ERROR(snapshot::ParseSnapshotName(*newest, &time, &seq));
  auto n = std::make_shared<Node>();
  n->kind = Node::kLatest;
  n->ino = MakeIno(InoNumber(user_dir.ino), kLatestLocal);
  n->user = user_dir.user;
  n->parent = user_dir.ino;
  n->entry.target = *newest;
  n->entry.mtime_sec = time;
  return n;
}

Result<uint64_t> View::InoOf(const Node& parent, const Entry& entry, uint64_t ordinal,
                             uint64_t* nlink) {
  if (ordinal > kMaxOrdinal) {
    return Status(StatusCode::kNotSupported, "snapshot has too many entries", EOVERFLOW);
  }
  uint64_t local = ordinal;
  *nlink = 1;
  if (entry.link_id != 0) {
    const auto& links = parent.snap->record.links;
    auto it = std::lower_bound(links.begin(), links.end(), std::make_pair(entry.link_id, uint64_t{0}));
    if (it != links.end() && it->first == entry.link_id) {
      local = kLinkFlag | static_cast<uint64_t>(it - links.begin());
      *nlink = it->second;
    }
  }
  return MakeIno(parent.snap->record.number, local);
}

Result<std::shared_ptr<View::Node>> View::EntryNode(const std::shared_ptr<const Node>& parent,
                                                    Entry entry, uint64_t ordinal) {
  auto n = std::make_shared<Node>();
  KEEPFS_ASSIGN_OR_RETURN(n->ino, InoOf(*parent, entry, ordinal, &n->nlink));
  n->kind = Node::kEntry;
  n->user = parent->user;
  n->snap = parent->snap;
  n->ordinal = ordinal;
  n->parent = parent->ino;
  n->up = parent;
  n->entry = std::move(entry);
  return n;
}

Result<EntryOut> View::Lookup(const Caller& c, uint64_t parent_ino, std::string_view name) {
  if (name == "." || name == "..") return ViewExport::LookupDot(*this, c, parent_ino, name);
  auto parent = FindNode(parent_ino);
  if (!parent) return Stale();
  std::shared_ptr<Node> found;
  EntryOut negative;
  switch (parent->kind) {
    case Node::kRoot: {
      auto n = UserDirNode(std::string(name));
      if (!n.ok()) {
        if (n.status().code() != StatusCode::kNotFound) return n.status();
        negative.entry_timeout = kUserListTimeout;
        return negative;
      }
      found = std::move(*n);
      break;
    }
    case Node::kUserDir: {
      KEEPFS_RETURN_IF_ERROR(CheckAccess(c, *parent));
      std::string snap_name(name);
      if (name == ".keepfs") {
        found = MetaDirNode(*parent);
        break;
      }
      if (name == ".versions" || name == ".deleted") {
        found = name == ".versions" ? VersionsNode(*parent, "", /*folder=*/true)
                                    : DeletedNode(*parent, "");
        break;
      }
      if (name == "latest") {
        KEEPFS_ASSIGN_OR_RETURN(found, LatestNode(*parent));
        if (!found) return negative;
        break;
      }
      int64_t t;
      uint32_t seq;
      if (!snapshot::ParseSnapshotName(snap_name, &t, &seq).ok()) return negative;
      auto info = LoadSnap(parent->user, snap_name);
      if (!info.ok()) {
        if (info.status().code() == StatusCode::kNotFound) return negative;
        return info.status();
      }
      KEEPFS_ASSIGN_OR_RETURN(found, SnapRootNode(std::move(*info)));
      found->parent = parent->ino;
      break;
    }
    case Node::kSnapRoot:
    case Node::kEntry: {
      KEEPFS_RETURN_IF_ERROR(CheckAccess(c, *parent));
      if (parent->entry.type != EntryType::kDir) return Status(StatusCode::kNotFound, "", ENOTDIR);
      auto hit = trees_->Lookup(parent->entry.ref, parent->ordinal + 1, name);
      if (!hit.ok()) return ReadFailure(*parent, hit.status(), ENOENT);
      if (!*hit) {
        negative.entry_timeout = kImmutableTimeout;
        return negative;
      }
      if ((*hit)->entry.type != EntryType::kDir) hints_.LookedUp(c.pid);
      KEEPFS_ASSIGN_OR_RETURN(found, EntryNode(parent, std::move((*hit)->entry), (*hit)->ordinal));
      break;
    }
    case Node::kMetaDir: {
      KEEPFS_RETURN_IF_ERROR(CheckAccess(c, *parent));
      for (size_t i = 0; i < kMetaFileCount; ++i) {
        if (name == kMetaFiles[i]) found = MetaFileNode(*parent, i);
      }
      if (!found) {
        negative.entry_timeout = kUserListTimeout;
        return negative;
      }
      break;
    }
    case Node::kVersionsDir:
    case Node::kHistoryDir:
    case Node::kDeletedDir: {
      KEEPFS_RETURN_IF_ERROR(CheckAccess(c, *parent));
      KEEPFS_ASSIGN_OR_RETURN(found, LookupInHistory(parent, name));
      if (!found) {
        negative.entry_timeout = kUserListTimeout;
        return negative;
      }
      break;
    }
    case Node::kLatest:
    case Node::kMetaFile:
      return Status(StatusCode::kNotFound, "", ENOTDIR);
  }
  auto held = Remember(std::move(found));
  EntryOut out = Reply(*held);
  // What a history view shows changes with the snapshots, even where it is
  // a snapshot's own file.
  if (parent->IsHistoryView()) out.entry_timeout = kUserListTimeout;
  return out;
}

Result<std::pair<Attr, double>> View::GetAttr(const Caller& c, uint64_t ino) {
  auto n = FindNode(ino);
  if (!n) return Stale();
  if (n->kind != Node::kUserDir) KEEPFS_RETURN_IF_ERROR(CheckAccess(c, *n));
  Attr a = AttrOf(*n);
  if (n->kind == Node::kLatest) {
    KEEPFS_ASSIGN_OR_RETURN(std::optional<std::string> newest, repo_->NewestSnapshotName(n->user));
    if (!newest) return Status::NotFound("no snapshots");
    a.size = newest->size();
  }
  return std::make_pair(a, AttrTimeout(*n));
}

Result<std::string> View::ReadLink(const Caller& c, uint64_t ino) {
  auto n = FindNode(ino);
  if (!n) return Stale();
  KEEPFS_RETURN_IF_ERROR(CheckAccess(c, *n));
  if (n->kind == Node::kLatest) {
    // Always the newest now: 'latest' moves the moment a snapshot commits.
    KEEPFS_ASSIGN_OR_RETURN(std::optional<std::string> newest, repo_->NewestSnapshotName(n->user));
    if (!newest) return Status::NotFound("no snapshots");
    return *newest;
  }
  if (n->kind != Node::kEntry || n->entry.type != EntryType::kSymlink) {
    return Status(StatusCode::kInvalidArgument, "not a symlink", EINVAL);
  }
  return n->entry.target;
}

Status View::Access(const Caller& c, uint64_t ino, int mask) {
  auto n = FindNode(ino);
  if (!n) return Stale();
  KEEPFS_RETURN_IF_ERROR(CheckAccess(c, *n));
  if (mask & W_OK) return Status(StatusCode::kPermissionDenied, "read-only", EROFS);
  if ((mask & X_OK) && n->kind == Node::kEntry && n->entry.type == EntryType::kFile &&
      (n->entry.mode & 0111) == 0) {
    return Denied();
  }
  return Status::OK();
}

ViewStats View::stats() {
  ViewStats s;
  {
    std::lock_guard<std::mutex> lock(nodes_mu_);
    s.nodes = nodes_.size();
  }
  {
    std::lock_guard<std::mutex> lock(handles_mu_);
    s.open_files = files_.size();
    s.open_dirs = dirs_.size();
  }
  s.chunk_cache_bytes = chunks_->cache_used();
  return s;
}

}  // namespace keepfs::fs
