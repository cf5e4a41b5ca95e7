#include "snapshot/accounting.h"

#include <unordered_map>

#include "snapshot/catalog.h"
#include "snapshot/content.h"
#include "snapshot/tree.h"
#include "store/chunk_store.h"
#include "store/coding.h"

namespace keepfs::snapshot {

namespace {
constexpr char kTree = 't', kContent = 'o', kChunk = 'c';

// The reference changes of one commit, over what the store holds: counts,
// holder lists and accounts are read once and then kept here.
class RefDelta {
 public:
  RefDelta(Store* store, std::string_view user) : store_(store), user_(user) {}

  Status AddRoot(const ObjectId& root) {
    stack_.push_back({kTree, root});
    while (!stack_.empty()) {
      auto [kind, id] = stack_.back();
      stack_.pop_back();
      KEEPFS_RETURN_IF_ERROR(Increment(kind, id));
    }
    return Status::OK();
  }

  Result<std::vector<std::pair<std::string, std::string>>> Records() {
    std::vector<std::pair<std::string, std::string>> out;
    out.reserve(counts_.size() + holders_.size() + accounts_.size());
    for (const auto& [key, count] : counts_) {
      std::string v;
      Encoder(&v).PutVarint(count);
      out.emplace_back(key, std::move(v));
    }
    for (auto& kv : holders_) out.push_back(std::move(kv));
    for (const auto& [user, h] : accounts_) out.emplace_back(AccountKey(user), EncodeHoldings(h));
    return out;
  }

 private:
  Status Increment(char kind, const ObjectId& id) {
    if (id.IsZero()) return Status::OK();
    std::string key = RefKey(user_, kind, id);
    auto it = counts_.find(key);
    if (it == counts_.end()) {
      std::string v;
      KEEPFS_ASSIGN_OR_RETURN(bool found, store_->kv().Get(key, &v));
      uint64_t n = 0;
      if (found) {
        Decoder dec(v);
        if (!dec.GetVarint(&n) || !dec.empty()) {
          return Status::Corruption("reference count of " + id.ShortHex() + " is damaged");
        }
      }
      it = counts_.emplace(std::move(key), n).first;
    }
    if (it->second++ > 0) return Status::OK();  // already in the user's DAG
    switch (kind) {
      case kTree: return ExpandTree(id);
      case kContent: return ExpandContent(id);
      case kChunk: {
        KEEPFS_ASSIGN_OR_RETURN(std::optional<ChunkLoc> loc, store_->chunks().Lookup(id));
        if (!loc) return Status::Corruption("chunk " + id.ShortHex() + " is missing");
        return Hold(kChunk, id, loc->stored_len);
      }
    }
    return Status::Internal("unknown object kind");
  }

  Status ExpandTree(const ObjectId& id) {
    std::string value;
    KEEPFS_ASSIGN_OR_RETURN(bool found, store_->kv().Get(TreeKey(id), &value));
    if (!found) return Status::Corruption("tree " + id.ShortHex() + " is missing");
    if (Sha256::Of(value) != id) return Status::Corruption("tree " + id.ShortHex() + " is damaged");
    auto node = DecodeTreeNode(value);
    if (!node.ok()) return node.status().WithContext("tree " + id.ShortHex());
    for (const auto& c : node->children) stack_.push_back({kTree, c.id});
    for (const auto& e : node->entries) {
      if (e.type == EntryType::kDir) stack_.push_back({kTree, e.ref});
      if (e.type == EntryType::kFile) stack_.push_back({kContent, e.ref});
    }
    return Status::OK();
  }

  Status ExpandContent(const ObjectId& id) {
    std::string value;
    KEEPFS_ASSIGN_OR_RETURN(bool found, store_->kv().Get(ContentKey(id), &value));
    if (!found) return Status::Corruption("content " + id.ShortHex() + " is missing");
    auto content = DecodeContent(value);
    if (!content.ok()) return content.status().WithContext("content " + id.ShortHex());
    if (content->is_inline) return Hold(kContent, id, value.size());
    for (const auto& p : content->parts) {
      if (!p.is_hole()) stack_.push_back({kChunk, p.chunk});
    }
    return Status::OK();
  }

  // user_ starts holding a charged object: every holder's bytes move from
  // "held by k" to "held by k+1".
  Status Hold(char kind, const ObjectId& id, uint64_t bytes) {
    std::string key = HolderKey(kind, id);
    std::string value;
    KEEPFS_ASSIGN_OR_RETURN(bool found, store_->kv().Get(key, &value));
    std::vector<std::string> holders;
    if (found) {
      auto h = DecodeHolders(value);
      if (!h.ok()) return h.status().WithContext("holders of " + id.ShortHex());
      holders = std::move(*h);
    }
    const uint64_t k = holders.size();
    for (const auto& other : holders) {
      if (other == user_) return Status::Corruption("holder record of " + id.ShortHex() +
                                                    " without a reference count");
      KEEPFS_ASSIGN_OR_RETURN(UserHoldings * h, Account(other));
      KEEPFS_RETURN_IF_ERROR(Move(h, k, k + 1, bytes, id));
    }
    KEEPFS_ASSIGN_OR_RETURN(UserHoldings * mine, Account(user_));
    mine->bytes_by_holders[k + 1] += bytes;
    holders.push_back(user_);
    holders_.emplace_back(std::move(key), EncodeHolders(holders));
    return Status::OK();
  }

  static Status Move(UserHoldings* h, uint64_t from, uint64_t to, uint64_t bytes,
                     const ObjectId& id) {
    auto it = h->bytes_by_holders.find(from);
    if (it == h->bytes_by_holders.end() || it->second < bytes) {
      return Status::Corruption("usage account does not cover " + id.ShortHex() +
                                "; run 'keepfs check'");
    }
    if ((it->second -= bytes) == 0) h->bytes_by_holders.erase(it);
    h->bytes_by_holders[to] += bytes;
    return Status::OK();
  }

  Result<UserHoldings*> Account(const std::string& user) {
    auto it = accounts_.find(user);
    if (it == accounts_.end()) {
      KEEPFS_ASSIGN_OR_RETURN(UserHoldings h, LoadHoldings(store_, user));
      it = accounts_.emplace(user, std::move(h)).first;
    }
    return &it->second;
  }

  Store* store_;
  std::string user_;
  std::vector<std::pair<char, ObjectId>> stack_;
  std::unordered_map<std::string, uint64_t> counts_;  // RefKey -> new count
  std::vector<std::pair<std::string, std::string>> holders_;  // each object once per commit
  std::map<std::string, UserHoldings> accounts_;
};
}  // namespace

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

std::string RefKey(std::string_view user, char kind, const ObjectId& id) {
  std::string k = "r";
  k.append(user);
  k.push_back('\0');
  k.push_back(kind);
  k.append(id.AsBytes());
  return k;
}

std::string HolderKey(char kind, const ObjectId& id) {
  std::string k = "h";
  k.push_back(kind);
  k.append(id.AsBytes());
  return k;
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

Result<std::vector<std::pair<std::string, std::string>>> AddSnapshotRefs(
    Store* store, std::string_view user, const ObjectId& root) {
  RefDelta delta(store, user);
  KEEPFS_RETURN_IF_ERROR(delta.AddRoot(root));
  return delta.Records();
}

}  // namespace keepfs::snapshot
