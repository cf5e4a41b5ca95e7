// View: directory listings.
#include <sys/stat.h>

#include <algorithm>
#include <tuple>

#include "fs/inode.h"
#include "fs/view.h"
#include "fs/view_impl.h"
#include "snapshot/catalog.h"
#include "snapshot/repo.h"
#include "snapshot/users.h"

namespace keepfs::fs {

namespace {
// Offsets: 1 continues after ".", 2 after "..", i + 3 after entry i.
constexpr uint64_t kFirstEntryOffset = 2;
}  // namespace

Status View::FillVirtual(DirHandle& h, const Caller& c) {
  const Node& n = *h.node;
  if (n.kind == Node::kRoot) {
    KEEPFS_ASSIGN_OR_RETURN(std::vector<std::string> users, repo_->ListUsers());
    for (auto& u : users) {
      auto node = UserDirNode(u);
      if (!node.ok()) continue;  // a user with snapshots but no record yet: not listed
      h.virtual_entries.push_back({u, std::move(*node)});
    }
    return Status::OK();
  }
  KEEPFS_RETURN_IF_ERROR(CheckAccess(c, n));
  if (n.kind == Node::kMetaDir) {
    for (size_t i = 0; i < kMetaFileCount; ++i) {
      h.virtual_entries.push_back({kMetaFiles[i], MetaFileNode(n, i)});
    }
    return Status::OK();
  }
  h.virtual_entries.push_back({".keepfs", MetaDirNode(n)});
  h.virtual_entries.push_back({".versions", VersionsNode(n, "", /*folder=*/true)});
  h.virtual_entries.push_back({".deleted", DeletedNode(n, "")});
  // One pass over the user's records: each is read and decoded once (or
  // reused from the SnapInfo cache while its bytes are unchanged).
  std::vector<std::shared_ptr<const SnapInfo>> snaps;
  std::string prefix = snapshot::SnapshotPrefix(n.user);
  auto it = store_->kv().NewIterator(prefix);
  for (; it->Valid(); it->Next()) {
    std::string name(it->key().substr(prefix.size()));
    auto info = SnapFromValue(n.user, name, std::string(it->value()));
    if (info.ok()) snaps.push_back(std::move(*info));  // a damaged one is logged and left out
  }
  KEEPFS_RETURN_IF_ERROR(it->status());
  std::sort(snaps.begin(), snaps.end(), [](const auto& a, const auto& b) {
    return std::tie(a->record.time_sec, a->record.seq) < std::tie(b->record.time_sec, b->record.seq);
  });
  if (!snaps.empty()) {
    auto latest = std::make_shared<Node>();
    latest->kind = Node::kLatest;
    latest->ino = MakeIno(InoNumber(n.ino), kLatestLocal);
    latest->user = n.user;
    latest->parent = n.ino;
    latest->entry.target = snaps.back()->name;
    latest->entry.mtime_sec = snaps.back()->record.time_sec;
    h.virtual_entries.push_back({"latest", std::move(latest)});
  }
  for (auto& info : snaps) {
    std::string name = info->name;
    KEEPFS_ASSIGN_OR_RETURN(std::shared_ptr<Node> root, SnapRootNode(std::move(info)));
    root->parent = n.ino;
    h.virtual_entries.push_back({std::move(name), std::move(root)});
  }
  return Status::OK();
}

Result<uint64_t> View::OpenDir(const Caller& c, uint64_t ino) {
  auto n = FindNode(ino);
  if (!n) return Status(StatusCode::kNotFound, "inode is not known", ESTALE);
  auto h = std::make_shared<DirHandle>();
  h->node = n;
  h->pid = c.pid;
  switch (n->kind) {
    case Node::kRoot:
    case Node::kUserDir:
    case Node::kMetaDir:
      KEEPFS_RETURN_IF_ERROR(FillVirtual(*h, c));
      break;
    case Node::kSnapRoot:
    case Node::kEntry:
      KEEPFS_RETURN_IF_ERROR(CheckAccess(c, *n));
      if (n->entry.type != snapshot::EntryType::kDir) {
        return Status(StatusCode::kInvalidArgument, "not a directory", ENOTDIR);
      }
      h->cursor.emplace(trees_.get(), n->entry.ref, n->ordinal + 1);
      break;
    case Node::kVersionsDir:
    case Node::kHistoryDir:
    case Node::kDeletedDir:
      KEEPFS_RETURN_IF_ERROR(CheckAccess(c, *n));
      KEEPFS_RETURN_IF_ERROR(OpenHistory(*h));
      break;
    case Node::kLatest:
    case Node::kMetaFile:
      return Status(StatusCode::kInvalidArgument, "not a directory", ENOTDIR);
  }
  return AddHandle(std::move(h));
}

uint64_t View::AddHandle(std::shared_ptr<DirHandle> h) {
  std::lock_guard<std::mutex> lock(handles_mu_);
  uint64_t id = next_handle_++;
  dirs_[id] = std::move(h);
  return id;
}

bool View::IsImmutableDir(uint64_t handle) {
  std::lock_guard<std::mutex> lock(handles_mu_);
  auto it = dirs_.find(handle);
  if (it == dirs_.end()) return false;
  const Node::Kind k = it->second->node->kind;
  return k == Node::kSnapRoot || k == Node::kEntry;
}

void View::ReleaseDir(uint64_t handle) {
  std::lock_guard<std::mutex> lock(handles_mu_);
  dirs_.erase(handle);
}

Status View::ReadDir(uint64_t handle, uint64_t offset, bool plus, const DirFiller& fill) {
  std::shared_ptr<DirHandle> h;
  {
    std::lock_guard<std::mutex> lock(handles_mu_);
    auto it = dirs_.find(handle);
    if (it == dirs_.end()) return Status(StatusCode::kInvalidArgument, "bad handle", EBADF);
    h = it->second;
  }
  std::lock_guard<std::mutex> lock(h->mu);
  const Node& dir = *h->node;
  if (offset < 1) {
    EntryOut self = Reply(dir);
    if (!fill(".", self, 1)) return Status::OK();
  }
  if (offset < kFirstEntryOffset) {
    EntryOut up;
    up.attr.ino = dir.parent ? dir.parent : kRootIno;
    up.attr.mode = S_IFDIR | 0755;
    if (!fill("..", up, kFirstEntryOffset)) return Status::OK();
  }
  // The first entry not yet returned (entry i continues at offset i + 3).
  uint64_t index = offset <= kFirstEntryOffset ? 0 : offset - kFirstEntryOffset;
  if (!h->cursor) {
    for (uint64_t i = index; i < h->virtual_entries.size(); ++i) {
      const auto& v = h->virtual_entries[i];
      EntryOut e = Reply(*v.node);
      if (dir.IsHistoryView()) e.entry_timeout = kUserListTimeout;
      if (!fill(v.name, e, i + kFirstEntryOffset + 1)) return Status::OK();
      if (plus) Remember(v.node);
    }
    return Status::OK();
  }
  DirCursor& cur = *h->cursor;
  // Attributes of entries other than folders only for a process that stats
  // what it lists (fs/listing_hints.h).
  const bool all_attrs = plus && hints_.WantsAttrs(h->pid);
  bool gave_names_only = false;
  Status s = cur.AtEnd() || cur.index() != index ? cur.Seek(index) : Status::OK();
  while (s.ok() && !cur.AtEnd()) {
    uint64_t next = cur.index() + kFirstEntryOffset + 1;
    if (plus && (all_attrs || cur.entry().type == snapshot::EntryType::kDir)) {
      auto node = CursorChild(*h, cur.entry(), cur.ordinal());
      if (!node.ok()) return node.status();
      EntryOut e = Reply(**node);
      if (dir.IsHistoryView()) e.entry_timeout = kUserListTimeout;
      if (!fill(cur.entry().name, e, next)) break;
      Remember(std::move(*node));
    } else if (dir.IsHistoryView()) {
      // A translated entry (a view folder, or a snapshot's file): its own number.
      KEEPFS_ASSIGN_OR_RETURN(std::shared_ptr<Node> node, CursorChild(*h, cur.entry(), cur.ordinal()));
      EntryOut e;
      e.attr.ino = node->ino;
      e.attr.mode = AttrOf(*node).mode;
      e.name_only = plus;
      if (!fill(cur.entry().name, e, next)) break;
      gave_names_only = plus;
    } else {
      // A plain listing needs only the number and the type: no node.
      EntryOut e;
      uint64_t nlink;
      KEEPFS_ASSIGN_OR_RETURN(e.attr.ino, InoOf(dir, cur.entry(), cur.ordinal(), &nlink));
      e.attr.mode = ModeBits(cur.entry());
      e.name_only = plus;
      if (!fill(cur.entry().name, e, next)) break;
      gave_names_only = plus;
    }
    s = cur.Next();
  }
  if (gave_names_only) hints_.GaveNamesOnly(h->pid);
  if (!s.ok()) {
    // The folder a history view shows is a snapshot's: its snapshot decides.
    return ReadFailure(h->base ? *h->base : dir, Status::Corruption("listing: " + s.message()),
                       ESTALE);
  }
  return Status::OK();
}

}  // namespace keepfs::fs
