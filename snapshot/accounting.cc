#include "snapshot/accounting.h"

#include <algorithm>
#include <functional>
#include <unordered_map>

#include "snapshot/catalog.h"
#include "snapshot/content.h"
#include "snapshot/repo.h"
#include "snapshot/tree.h"
#include "store/chunk_store.h"
#include "store/coding.h"

namespace keepfs::snapshot {

namespace {
constexpr char kTree = 't', kContent = 'o', kChunk = 'c';
}  // namespace

RefChanges::RefChanges(Store* store, std::string_view user) : store_(store), user_(user) {}
RefChanges::~RefChanges() = default;

// A user without an account record has never committed, so none of their
// counts exist yet: a first backup need not look any up. The account is
// loaded here so that AddTo always writes it, even when it holds nothing.
Status RefChanges::Init() {
  if (initialized_) return Status::OK();
  std::string v;
  KEEPFS_ASSIGN_OR_RETURN(bool found, store_->kv().Get(AccountKey(user_), &v));
  fresh_user_ = !found;
  UserHoldings mine;
  if (found) {
    auto h = DecodeHoldings(v);
    if (!h.ok()) return h.status().WithContext("user " + user_);
    mine = std::move(*h);
  }
  accounts_.emplace(user_, std::move(mine));
  initialized_ = true;
  return Status::OK();
}

Status RefChanges::SwitchUser(std::string_view user) {
  if (user == user_) return Status::OK();
  user_ = std::string(user);
  initialized_ = false;
  if (accounts_.count(user_)) {  // read already as another user's
    fresh_user_ = false;
    initialized_ = true;
    return Status::OK();
  }
  return Init();
}

void RefChanges::AddPendingNode(const ObjectId& id, std::string encoded) {
  pending_nodes_[id] = std::move(encoded);
}

Status RefChanges::Walk(char kind, const ObjectId& root, int step) {
  KEEPFS_RETURN_IF_ERROR(Init());
  stack_.push_back({kind, root});
  while (!stack_.empty()) {
    auto [kind, id] = stack_.back();
    stack_.pop_back();
    Status s = Step(kind, id, step);
    if (!s.ok()) {
      stack_.clear();
      return s;
    }
  }
  return Status::OK();
}

// In key order: a batch of tens of thousands of records goes into RocksDB's
// memtable several times faster sorted than in hash order (the skiplist
// reuses its insert position), which is most of a large forget's write.
void RefChanges::ForEachRecord(
    const std::function<void(const std::string& key, const std::string* value)>& fn) const {
  std::vector<std::pair<std::string, std::optional<std::string>>> records;
  records.reserve(counts_.size() * 2 + holders_.size() + accounts_.size());
  constexpr size_t kKindAndId = 1 + ObjectId::kSize;  // the end of every RefKey
  for (const auto& [key, count] : counts_) {
    if (count == 0) {
      records.emplace_back(key, std::nullopt);
      // It left the user's DAG: a candidate for the garbage collector, which
      // checks whether anything else still references it.
      records.emplace_back(CandidateKey(std::string_view(key).substr(key.size() - kKindAndId)),
                           std::string());
    } else {
      std::string v;
      Encoder(&v).PutVarint(count);
      records.emplace_back(key, std::move(v));
    }
  }
  for (const auto& [key, users] : holders_) {
    if (users.empty()) {
      records.emplace_back(key, std::nullopt);
    } else {
      records.emplace_back(key, EncodeHolders(users));
    }
  }
  for (const auto& [user, h] : accounts_) records.emplace_back(AccountKey(user), EncodeHoldings(h));
  std::sort(records.begin(), records.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [key, value] : records) fn(key, value ? &*value : nullptr);
}

void RefChanges::AddTo(WriteBatch* batch) const {
  ForEachRecord([batch](const std::string& key, const std::string* value) {
    if (value) {
      batch->Put(key, *value);
    } else {
      batch->Delete(key);
    }
  });
}

std::vector<std::pair<std::string, std::string>> RefChanges::Puts() const {
  std::vector<std::pair<std::string, std::string>> out;
  ForEachRecord([&out](const std::string& key, const std::string* value) {
    if (value) out.emplace_back(key, *value);
  });
  return out;
}

Result<UserHoldings> RefChanges::Holdings(const std::string& user) {
  KEEPFS_RETURN_IF_ERROR(Init());
  KEEPFS_ASSIGN_OR_RETURN(UserHoldings * h, Account(user));
  return *h;
}

Status RefChanges::Step(char kind, const ObjectId& id, int step) {
  if (id.IsZero()) return Status::OK();
  std::string key = RefKey(user_, kind, id);
  auto it = counts_.find(key);
  if (it == counts_.end()) {
    std::string v;
    bool found = false;
    // A new object has no count yet; neither has anything of a fresh user.
    if (!fresh_user_ && !(trust_new_ && new_objects_ && new_objects_->Has(kind, id))) {
      KEEPFS_ASSIGN_OR_RETURN(found, store_->kv().Get(key, &v));
    }
    uint64_t n = 0;
    if (found) {
      Decoder dec(v);
      if (!dec.GetVarint(&n) || !dec.empty()) {
        return Status::Corruption("reference count of " + id.ShortHex() + " is damaged");
      }
    }
    it = counts_.emplace(std::move(key), n).first;
  }
  if (step > 0) {
    if (it->second++ > 0) return Status::OK();  // already in the user's DAG
  } else {
    if (it->second == 0) {
      return Status::Corruption("reference count of " + id.ShortHex() + " for " + user_ +
                                " would go negative; run 'keepfs check'");
    }
    if (--it->second > 0) return Status::OK();  // still referenced
  }
  // The object enters (or leaves) the user's DAG: so do its children.
  KEEPFS_RETURN_IF_ERROR(Links(kind, id));
  stack_.insert(stack_.end(), links_.children.begin(), links_.children.end());
  return step > 0 ? Hold(kind, id, links_.charged) : Release(kind, id, links_.charged);
}

Status RefChanges::Links(char kind, const ObjectId& id) {
  if (kind == kTree) {
    if (auto it = pending_nodes_.find(id); it != pending_nodes_.end()) {
      KEEPFS_ASSIGN_OR_RETURN(TreeNode node, DecodeTreeNode(it->second));
      links_.Clear();
      AppendNodeLinks(node, &links_);
      return Status::OK();
    }
  } else if (new_objects_ && new_objects_->Links(kind, id, &links_)) {
    return Status::OK();
  }
  return ReadObjectLinks(store_, kind, id, &links_);
}

void AppendNodeLinks(const TreeNode& node, ObjectLinks* out) {
  for (const auto& c : node.children) out->children.push_back({kTree, c.id});
  for (const auto& e : node.entries) {
    if (e.type == EntryType::kDir) out->children.push_back({kTree, e.ref});
    if (e.type == EntryType::kFile) out->children.push_back({kContent, e.ref});
  }
}

Status ReadObjectLinks(Store* store, char kind, const ObjectId& id, ObjectLinks* out) {
  out->Clear();
  switch (kind) {
    case kTree: {
      KEEPFS_ASSIGN_OR_RETURN(TreeNode node, Repo(store).GetTreeNode(id));
      AppendNodeLinks(node, out);
      return Status::OK();
    }
    case kContent: {
      // Read here rather than through Repo::GetContent: an inline content is
      // charged by the size of its record, and its data is not needed.
      std::string value;
      KEEPFS_ASSIGN_OR_RETURN(bool found, store->kv().Get(ContentKey(id), &value));
      if (!found) return Status::Corruption("content " + id.ShortHex() + " is missing");
      if (IsInlineContentRecord(value)) {
        out->charged = value.size();
        return Status::OK();
      }
      auto content = DecodeContent(value);
      if (!content.ok()) return content.status().WithContext("content " + id.ShortHex());
      if (content->is_alias()) {  // one reference to the content holding its bytes
        out->children.push_back({kContent, content->alias_of});
        return Status::OK();
      }
      for (const auto& p : content->parts) {
        if (!p.is_hole()) out->children.push_back({kChunk, p.chunk});
      }
      return Status::OK();
    }
    case kChunk: {
      KEEPFS_ASSIGN_OR_RETURN(std::optional<ChunkLoc> loc, store->chunks().Lookup(id));
      if (!loc) return Status::Corruption("chunk " + id.ShortHex() + " is missing");
      out->charged = loc->stored_len;
      return Status::OK();
    }
  }
  return Status::Internal("unknown object kind");
}

Result<std::vector<std::string>*> RefChanges::Holders(char kind, const ObjectId& id) {
  std::string key = HolderKey(kind, id);
  auto it = holders_.find(key);
  if (it == holders_.end()) {
    std::string value;
    bool found = false;
    if (!(trust_new_ && new_objects_ && new_objects_->Has(kind, id))) {  // nobody holds a new one yet
      KEEPFS_ASSIGN_OR_RETURN(found, store_->kv().Get(key, &value));
    }
    std::vector<std::string> users;
    if (found) {
      auto h = DecodeHolders(value);
      if (!h.ok()) return h.status().WithContext("holders of " + id.ShortHex());
      users = std::move(*h);
    }
    it = holders_.emplace(std::move(key), std::move(users)).first;
  }
  return &it->second;
}

// user_ starts holding the object. For a charged one, every holder's bytes
// move from "held by k" to "held by k+1".
Status RefChanges::Hold(char kind, const ObjectId& id, std::optional<uint64_t> charged) {
  KEEPFS_ASSIGN_OR_RETURN(std::vector<std::string> * holders, Holders(kind, id));
  const uint64_t k = holders->size();
  for (const auto& other : *holders) {
    if (other == user_) {
      return Status::Corruption("holder record of " + id.ShortHex() +
                                " without a reference count; run 'keepfs check'");
    }
    if (!charged) continue;
    KEEPFS_ASSIGN_OR_RETURN(UserHoldings * h, Account(other));
    KEEPFS_RETURN_IF_ERROR(Move(h, k, k + 1, *charged, id));
  }
  if (charged) {
    KEEPFS_ASSIGN_OR_RETURN(UserHoldings * mine, Account(user_));
    mine->bytes_by_holders[k + 1] += *charged;
  }
  holders->push_back(user_);
  return Status::OK();
}

// user_ stops holding it: for a charged object the others' bytes move from
// k to k-1. When nobody holds it any more, its bytes are what deleting frees
// store-wide.
Status RefChanges::Release(char kind, const ObjectId& id, std::optional<uint64_t> charged) {
  KEEPFS_ASSIGN_OR_RETURN(std::vector<std::string> * holders, Holders(kind, id));
  auto me = std::find(holders->begin(), holders->end(), user_);
  if (me == holders->end()) {
    return Status::Corruption("user " + user_ + " is not listed as holding " + id.ShortHex() +
                              "; run 'keepfs check'");
  }
  const uint64_t k = holders->size();
  holders->erase(me);
  if (!charged) return Status::OK();
  KEEPFS_ASSIGN_OR_RETURN(UserHoldings * mine, Account(user_));
  KEEPFS_RETURN_IF_ERROR(Move(mine, k, 0, *charged, id));
  for (const auto& other : *holders) {
    KEEPFS_ASSIGN_OR_RETURN(UserHoldings * h, Account(other));
    KEEPFS_RETURN_IF_ERROR(Move(h, k, k - 1, *charged, id));
  }
  if (holders->empty()) freed_ += *charged;
  return Status::OK();
}

// Moves bytes from the "held by from" group to "held by to" (to = 0: gone).
Status RefChanges::Move(UserHoldings* h, uint64_t from, uint64_t to, uint64_t bytes,
                        const ObjectId& id) {
  auto it = h->bytes_by_holders.find(from);
  if (it == h->bytes_by_holders.end() || it->second < bytes) {
    return Status::Corruption("usage account does not cover " + id.ShortHex() +
                              "; run 'keepfs check'");
  }
  if ((it->second -= bytes) == 0) h->bytes_by_holders.erase(it);
  if (to > 0) h->bytes_by_holders[to] += bytes;
  return Status::OK();
}

Result<UserHoldings*> RefChanges::Account(const std::string& user) {
  auto it = accounts_.find(user);
  if (it == accounts_.end()) {
    KEEPFS_ASSIGN_OR_RETURN(UserHoldings h, LoadHoldings(store_, user));
    it = accounts_.emplace(user, std::move(h)).first;
  }
  return &it->second;
}

uint64_t UserHoldings::exclusive() const {
  auto it = bytes_by_holders.find(1);
  return it == bytes_by_holders.end() ? 0 : it->second;
}

uint64_t UserHoldings::shared() const {
  uint64_t s = 0;
  for (const auto& [holders, bytes] : bytes_by_holders) s += holders > 1 ? bytes : 0;
  return s;
}

uint64_t UserHoldings::charged() const {
  uint64_t c = 0;
  for (const auto& [holders, bytes] : bytes_by_holders) c += bytes / holders;
  return c;
}

std::string RefPrefix(std::string_view user) {
  std::string k = "r";
  k.append(user);
  k.push_back('\0');
  return k;
}

std::string RefKey(std::string_view user, char kind, const ObjectId& id) {
  std::string k = RefPrefix(user);
  k.push_back(kind);
  k.append(id.AsBytes());
  return k;
}

std::string CandidateKey(std::string_view kind_and_id) { return "Q" + std::string(kind_and_id); }

std::string HolderKey(std::string_view kind_and_id) { return "h" + std::string(kind_and_id); }

std::string HolderKey(char kind, const ObjectId& id) {
  return HolderKey(kind + std::string(id.AsBytes()));
}

std::string EncodeHolders(const std::vector<std::string>& users) {
  std::string v;
  Encoder enc(&v);
  enc.PutVarint(users.size());
  for (const auto& u : users) enc.PutLengthPrefixed(u);
  return v;
}

Result<std::vector<std::string>> DecodeHolders(std::string_view bytes) {
  Decoder dec(bytes);
  uint64_t n = 0;
  if (!dec.GetVarint(&n) || n > bytes.size()) return Status::Corruption("bad holder list");
  std::vector<std::string> users(n);
  for (auto& u : users) {
    std::string_view s;
    if (!dec.GetLengthPrefixed(&s) || s.empty()) return Status::Corruption("bad holder list");
    u = s;
  }
  if (!dec.empty()) return Status::Corruption("bad holder list");
  return users;
}

std::string AccountKey(std::string_view user) { return "a" + std::string(user); }

std::string EncodeHoldings(const UserHoldings& h) {
  std::string v;
  Encoder enc(&v);
  enc.PutVarint(h.bytes_by_holders.size());
  for (const auto& [holders, bytes] : h.bytes_by_holders) {
    enc.PutVarint(holders);
    enc.PutVarint(bytes);
  }
  return v;
}

Result<UserHoldings> DecodeHoldings(std::string_view bytes) {
  Decoder dec(bytes);
  UserHoldings h;
  uint64_t n = 0;
  if (!dec.GetVarint(&n) || n > bytes.size()) return Status::Corruption("bad usage account");
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t holders = 0, b = 0;
    if (!dec.GetVarint(&holders) || !dec.GetVarint(&b) || holders == 0 ||
        !h.bytes_by_holders.emplace(holders, b).second) {
      return Status::Corruption("bad usage account");
    }
  }
  if (!dec.empty()) return Status::Corruption("bad usage account");
  return h;
}

Result<UserHoldings> LoadHoldings(Store* store, std::string_view user) {
  std::string v;
  KEEPFS_ASSIGN_OR_RETURN(bool found, store->kv().Get(AccountKey(user), &v));
  if (!found) return UserHoldings{};
  auto h = DecodeHoldings(v);
  if (!h.ok()) return h.status().WithContext("user " + std::string(user));
  return h;
}

void NewObjects::AddChunk(const ObjectId& id, uint64_t stored_bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  if (chunks_.size() < kMaxChunks) chunks_.emplace(id, stored_bytes);
}

void NewObjects::AddContent(const ObjectId& id, bool is_inline, uint64_t record_size,
                            const std::vector<ObjectId>& chunks) {
  std::lock_guard<std::mutex> lock(mu_);
  if (contents_.size() >= kMaxContents || chunk_lists_.size() + chunks.size() > kMaxChunks) return;
  Entry e{is_inline, record_size, static_cast<uint32_t>(chunk_lists_.size()),
          static_cast<uint32_t>(chunks.size())};
  if (contents_.emplace(id, e).second) {
    chunk_lists_.insert(chunk_lists_.end(), chunks.begin(), chunks.end());
  }
}

bool NewObjects::Links(char kind, const ObjectId& id, ObjectLinks* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (kind == kChunk) {
    auto it = chunks_.find(id);
    if (it == chunks_.end()) return false;
    out->Clear();
    out->charged = it->second;
    return true;
  }
  if (kind != kContent) return false;
  auto it = contents_.find(id);
  if (it == contents_.end()) return false;
  const Entry& e = it->second;
  out->Clear();
  if (e.is_inline) out->charged = e.record_size;
  for (uint32_t i = 0; i < e.chunk_count; ++i) {
    out->children.push_back({kChunk, chunk_lists_[e.first_chunk + i]});
  }
  return true;
}

void NewObjects::AddTree(const ObjectId& id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (trees_.size() < kMaxTrees) trees_.insert(id);
}

bool NewObjects::Has(char kind, const ObjectId& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (kind == kTree) return trees_.count(id) > 0;
  if (kind == kChunk) return chunks_.count(id) > 0;
  if (kind == kContent) return contents_.count(id) > 0;
  return false;
}

void NewObjects::ForEach(const std::function<void(char kind, const ObjectId& id)>& fn) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& id : trees_) fn(kTree, id);
  for (const auto& [id, e] : contents_) fn(kContent, id);
  for (const auto& [id, bytes] : chunks_) fn(kChunk, id);
}

bool RefChanges::Touched(char kind, const ObjectId& id) const {
  auto it = counts_.find(RefKey(user_, kind, id));
  return it != counts_.end() && it->second > 0;
}

Result<std::vector<std::pair<std::string, std::string>>> AddSnapshotRefs(
    Store* store, std::string_view user, const ObjectId& root, const NewObjects* fresh,
    bool others_committed) {
  RefChanges changes(store, user);
  changes.SetNewObjects(fresh, !others_committed);
  KEEPFS_RETURN_IF_ERROR(changes.AddRoot(root));
  auto puts = changes.Puts();
  if (fresh) {
    // Stored by this backup and referenced by nothing: without a candidate
    // key only an audit would ever find them.
    fresh->ForEach([&](char kind, const ObjectId& id) {
      if (!changes.Touched(kind, id)) {
        puts.emplace_back(CandidateKey(std::string(1, kind) + std::string(id.AsBytes())),
                          std::string());
      }
    });
  }
  return puts;
}

}  // namespace keepfs::snapshot
