#include "snapshot/repo.h"

#include <algorithm>

#include "snapshot/catalog.h"

namespace keepfs::snapshot {

Result<std::optional<Entry>> Repo::Lookup(const ObjectId& tree, std::string_view name,
                                          LookupMemo* memo) const {
  if (!memo) return LookupInTree(tree, name, node_source());
  std::string key(tree.AsBytes());
  key.append(name);
  if (auto hit = memo->answers.find(key); hit != memo->answers.end()) return hit->second;
  KEEPFS_ASSIGN_OR_RETURN(std::optional<Entry> found, LookupInTree(tree, name, node_source()));
  memo->answers.emplace(std::move(key), found);
  return found;
}

Result<std::vector<Entry>> Repo::ListFolder(const ObjectId& tree) const {
  std::vector<Entry> out;
  KEEPFS_RETURN_IF_ERROR(ForEachEntry(tree, node_source(), [&](const Entry& e) -> Result<bool> {
    out.push_back(e);
    return true;
  }));
  return out;
}

Result<TreeNode> Repo::GetTreeNode(const ObjectId& id) const {
  std::string value;
  KEEPFS_ASSIGN_OR_RETURN(bool found, store_->kv().Get(TreeKey(id), &value));
  if (!found) return Status::Corruption("tree " + id.ShortHex() + " is missing");
  if (Sha256::Of(value) != id) return Status::Corruption("tree " + id.ShortHex() + " is damaged");
  auto node = DecodeTreeNode(value);
  if (!node.ok()) return node.status().WithContext("tree " + id.ShortHex());
  return node;
}

Result<Content> Repo::GetContentRecord(const ObjectId& id) const {
  std::string value;
  KEEPFS_ASSIGN_OR_RETURN(bool found, store_->kv().Get(ContentKey(id), &value));
  if (!found) return Status::Corruption("content " + id.ShortHex() + " is missing");
  auto content = DecodeContent(value);
  if (!content.ok()) return content.status().WithContext("content " + id.ShortHex());
  if (!content->is_alias() && ContentId(*content) != id) {
    return Status::Corruption("content " + id.ShortHex() + " is damaged");
  }
  return content;
}

Result<Content> Repo::GetContent(const ObjectId& id) const {
  KEEPFS_ASSIGN_OR_RETURN(Content c, GetContentRecord(id));
  if (!c.is_alias()) return c;
  auto target = GetContentRecord(c.alias_of);
  if (!target.ok()) return target.status().WithContext("content " + id.ShortHex() + " (an alias)");
  if (target->is_alias() || target->size != c.size) {
    return Status::Corruption("content " + id.ShortHex() + " is an alias of " +
                              c.alias_of.ShortHex() + ", which does not match it");
  }
  return target;
}

Result<Content> Repo::GetContentHeld(const ObjectId& id,
                                     std::unique_ptr<ObjectGuard::Hold>* hold) const {
  auto shared = store_->guard().Shared();
  KEEPFS_ASSIGN_OR_RETURN(Content c, GetContent(id));
  hold->reset();
  if (!c.is_inline) {
    *hold = store_->guard().NewReaderHold();
    for (const auto& p : c.parts) {
      if (!p.is_hole()) (*hold)->Add('c', p.chunk);
    }
  }
  return c;
}

NodeSource Repo::node_source() const {
  return [this](const ObjectId& id) { return GetTreeNode(id); };
}

Result<std::vector<std::string>> Repo::ListUsers() const {
  std::vector<std::string> users;
  auto it = store_->kv().NewIterator(kSnapshotPrefix);
  for (; it->Valid(); ) {
    std::string_view key = it->key().substr(1);
    std::string user(key.substr(0, key.find('\0')));
    users.push_back(user);
    std::string next = SnapshotPrefix(user);
    next.back() = '\1';  // skip the rest of this user's snapshots
    it->Seek(next);
  }
  KEEPFS_RETURN_IF_ERROR(it->status());
  auto uit = store_->kv().NewIterator(kUserPrefix);
  for (; uit->Valid(); uit->Next()) users.emplace_back(uit->key().substr(1));
  KEEPFS_RETURN_IF_ERROR(uit->status());
  std::sort(users.begin(), users.end());
  users.erase(std::unique(users.begin(), users.end()), users.end());
  return users;
}

Result<SnapshotRecord> Repo::LoadSnapshot(std::string_view user, std::string_view name,
                                          std::string_view value) const {
  auto rec = DecodeSnapshotRecord(value);
  if (!rec.ok()) {
    return rec.status().WithContext("snapshot " + std::string(user) + "/" + std::string(name));
  }
  rec->user = std::string(user);
  rec->name = std::string(name);
  return rec;
}

Result<std::vector<SnapshotRecord>> Repo::ListSnapshots(std::string_view user) const {
  std::vector<SnapshotRecord> out;
  std::string prefix = SnapshotPrefix(user);
  auto it = store_->kv().NewIterator(prefix);
  for (; it->Valid(); it->Next()) {
    KEEPFS_ASSIGN_OR_RETURN(SnapshotRecord rec,
                            LoadSnapshot(user, it->key().substr(prefix.size()), it->value()));
    out.push_back(std::move(rec));
  }
  KEEPFS_RETURN_IF_ERROR(it->status());
  std::sort(out.begin(), out.end(), [](const SnapshotRecord& a, const SnapshotRecord& b) {
    return std::tie(a.time_sec, a.seq) < std::tie(b.time_sec, b.seq);
  });
  return out;
}

Status Repo::UnknownUser(std::string_view user) const {
  KEEPFS_ASSIGN_OR_RETURN(std::vector<std::string> users, ListUsers());
  std::string known;
  for (const auto& u : users) known += (known.empty() ? "" : ", ") + u;
  return Status::NotFound("user '" + std::string(user) + "' has no snapshots in this store" +
                          (known.empty() ? std::string(" (the store is empty)")
                                         : " (users: " + known + ")"));
}

Status Repo::RequireKnownUser(std::string_view user) const {
  KEEPFS_RETURN_IF_ERROR(ValidateUserName(user));
  KEEPFS_ASSIGN_OR_RETURN(std::vector<std::string> users, ListUsers());
  if (std::find(users.begin(), users.end(), user) != users.end()) return Status::OK();
  return UnknownUser(user);
}

Result<std::vector<SnapshotRecord>> Repo::ListUserSnapshots(std::string_view user) const {
  KEEPFS_RETURN_IF_ERROR(ValidateUserName(user));
  KEEPFS_ASSIGN_OR_RETURN(std::vector<SnapshotRecord> snaps, ListSnapshots(user));
  if (snaps.empty()) return UnknownUser(user);
  return snaps;
}

namespace {
// Snapshot-name order without parsing: names are a fixed-width, chronological
// 17-byte head, then an optional "_N" whose number orders by length first.
bool NameBefore(std::string_view a, std::string_view b) {
  constexpr size_t kHead = 17;
  int head = a.substr(0, kHead).compare(b.substr(0, kHead));
  if (head != 0) return head < 0;
  std::string_view sa = a.substr(std::min(a.size(), kHead)), sb = b.substr(std::min(b.size(), kHead));
  if (sa.size() != sb.size()) return sa.size() < sb.size();
  return sa < sb;
}
}  // namespace

Result<std::optional<std::string>> Repo::NewestName(std::string_view user,
                                                    const std::string& prefix) const {
  // The newest second is the head of the last key in byte order; only the
  // names of that second ("_N" suffixes, which byte order gets wrong past 9)
  // need comparing. So: one seek to the last key, then a scan of its second.
  const size_t name_at = SnapshotPrefix(user).size();
  constexpr size_t kHead = 17;  // "YYYY-MM-DD_HHMMSS"
  std::optional<std::string> newest;
  auto it = store_->kv().NewIterator(prefix);
  it->SeekToLast();
  if (it->Valid()) {
    std::string second(it->key().substr(0, std::min(it->key().size(), name_at + kHead)));
    for (it->Seek(second); it->Valid() && it->key().starts_with(second); it->Next()) {
      std::string_view name = it->key().substr(name_at);
      if (!newest || NameBefore(*newest, name)) newest = std::string(name);
    }
  }
  KEEPFS_RETURN_IF_ERROR(it->status());
  int64_t t;
  uint32_t seq;
  if (newest && !ParseSnapshotName(*newest, &t, &seq).ok()) {
    return Status::Corruption("snapshot key " + std::string(user) + "/" + *newest +
                              " is not a snapshot name");
  }
  return newest;
}

Result<std::optional<std::string>> Repo::NewestSnapshotName(std::string_view user) const {
  return NewestName(user, SnapshotPrefix(user));
}

Result<SnapshotRecord> Repo::FindSnapshot(std::string_view user, std::string_view name) const {
  KEEPFS_RETURN_IF_ERROR(ValidateUserName(user));
  std::string wanted(name);
  if (name == "latest") {
    KEEPFS_ASSIGN_OR_RETURN(std::optional<std::string> newest,
                            NewestName(user, SnapshotPrefix(user)));
    if (!newest) return UnknownUser(user);
    wanted = *newest;
  } else {
    int64_t t;
    uint32_t seq;
    KEEPFS_RETURN_IF_ERROR(ParseSnapshotName(name, &t, &seq));
  }
  std::string value;
  KEEPFS_ASSIGN_OR_RETURN(bool found, store_->kv().Get(SnapshotKey(user, wanted), &value));
  if (found) return LoadSnapshot(user, wanted, value);
  KEEPFS_ASSIGN_OR_RETURN(std::optional<std::string> any, NewestName(user, SnapshotPrefix(user)));
  if (!any) return UnknownUser(user);
  return Status::NotFound("user '" + std::string(user) + "' has no snapshot " +
                          std::string(name) + "; list them with 'keepfs snapshots --user " +
                          std::string(user) + "'");
}

Result<uint32_t> Repo::NextSeq(std::string_view user, int64_t time_sec) const {
  // Names of one second share the 17-byte "YYYY-MM-DD_HHMMSS" head.
  KEEPFS_ASSIGN_OR_RETURN(std::optional<std::string> newest,
                          NewestName(user, SnapshotKey(user, FormatSnapshotName(time_sec, 0))));
  if (!newest) return 0u;
  int64_t t;
  uint32_t seq;
  KEEPFS_RETURN_IF_ERROR(ParseSnapshotName(*newest, &t, &seq));
  return seq + 1;
}

Result<Entry> Repo::ResolvePath(const SnapshotRecord& snap, std::string_view path,
                                LookupMemo* memo) const {
  Entry cur;
  cur.type = EntryType::kDir;
  cur.mode = 0755;
  cur.ref = snap.root;
  cur.mtime_sec = snap.time_sec;
  if (snap.root_meta) {
    cur.mode = snap.root_meta->mode;
    cur.uid = snap.root_meta->uid;
    cur.gid = snap.root_meta->gid;
    cur.mtime_sec = snap.root_meta->mtime_sec;
    cur.mtime_nsec = snap.root_meta->mtime_nsec;
    cur.xattrs = snap.root_meta->xattrs;
  }
  std::string walked;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view part = path.substr(pos, slash - pos);
    pos = slash + 1;
    if (part.empty() || part == ".") continue;
    if (cur.type != EntryType::kDir) {
      return Status::NotFound("'" + walked + "' is not a directory in snapshot " + snap.name);
    }
    KEEPFS_ASSIGN_OR_RETURN(std::optional<Entry> next, Lookup(cur.ref, part, memo));
    walked += (walked.empty() ? "" : "/") + std::string(part);
    if (!next) {
      return Status::NotFound("'" + walked + "' does not exist in snapshot " + snap.user + "/" +
                              snap.name + "; see 'keepfs ls'");
    }
    cur = std::move(*next);
  }
  return cur;
}

Status Repo::ReadBytes(const Content& content,
                       const std::function<Status(std::string_view bytes)>& sink) const {
  static const std::string* const kZeros = new std::string(1 << 16, '\0');
  uint64_t pos = 0;
  auto zeros = [&](uint64_t n) -> Status {
    while (n > 0) {
      size_t k = static_cast<size_t>(std::min<uint64_t>(n, kZeros->size()));
      KEEPFS_RETURN_IF_ERROR(sink(std::string_view(kZeros->data(), k)));
      n -= k;
    }
    return Status::OK();
  };
  KEEPFS_RETURN_IF_ERROR(ReadContent(content, [&](uint64_t off, std::string_view data) {
    KEEPFS_RETURN_IF_ERROR(zeros(off - pos));
    pos = off + data.size();
    return sink(data);
  }));
  return zeros(content.size - pos);
}

Result<ObjectId> Repo::HashFileData(const Content& content) const {
  Sha256 sha;
  KEEPFS_RETURN_IF_ERROR(ReadBytes(content, [&](std::string_view bytes) {
    sha.Update(bytes);
    return Status::OK();
  }));
  return sha.Finish();
}

Status Repo::ReadContent(
    const Content& content,
    const std::function<Status(uint64_t offset, std::string_view data)>& sink) const {
  if (content.is_inline) {
    return content.inline_data.empty() ? Status::OK() : sink(0, content.inline_data);
  }
  uint64_t offset = 0;
  std::string buf;
  for (const ContentPart& p : content.parts) {
    if (!p.is_hole()) {
      Status s = store_->chunks().Read(p.chunk, &buf);
      if (s.IsNotFound()) s = Status::Corruption(s.message());
      KEEPFS_RETURN_IF_ERROR(s);
      if (buf.size() != p.length) {
        return Status::Corruption("chunk " + p.chunk.ShortHex() + " has the wrong length");
      }
      KEEPFS_RETURN_IF_ERROR(sink(offset, buf));
    }
    offset += p.length;
  }
  return Status::OK();
}

}  // namespace keepfs::snapshot
