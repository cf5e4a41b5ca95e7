#include "fs/tree_cache.h"

#include <algorithm>

namespace keepfs::fs {

namespace {
constexpr int kMaxLevels = 16;  // as snapshot::LookupInTree

uint64_t Charge(const snapshot::TreeNode& n) {
  uint64_t c = sizeof(n);
  for (const auto& e : n.entries) {
    c += sizeof(e) + e.name.size() + e.target.size();
    for (const auto& x : e.xattrs) c += sizeof(x) + x.name.size() + x.value.size();
  }
  for (const auto& ch : n.children) c += sizeof(ch) + ch.first_name.size();
  return c;
}
}  // namespace

// A shard keeps no node larger than itself; a full page of 8,192 entries
// decodes to about 2 MiB.
constexpr uint64_t kMinShardBytes = 2 << 20;

TreeCache::TreeCache(const snapshot::Repo* repo, uint64_t capacity_bytes)
    : repo_(repo),
      cache_(capacity_bytes,
             LruCache<ObjectId, snapshot::TreeNode, ObjectIdHash>::ShardsFor(capacity_bytes,
                                                                             kMinShardBytes)) {}

Result<TreeNodePtr> TreeCache::Get(const ObjectId& id) {
  if (auto hit = cache_.Get(id)) return hit;
  KEEPFS_ASSIGN_OR_RETURN(snapshot::TreeNode node, repo_->GetTreeNode(id));
  uint64_t charge = Charge(node);
  auto ptr = std::make_shared<const snapshot::TreeNode>(std::move(node));
  cache_.Insert(id, ptr, charge);
  return TreeNodePtr(ptr);
}

Result<std::optional<TreeCache::Found>> TreeCache::Lookup(const ObjectId& root, uint64_t first,
                                                          std::string_view name) {
  ObjectId id = root;
  uint64_t ordinal = first;
  for (int depth = 0; depth < kMaxLevels; ++depth) {
    KEEPFS_ASSIGN_OR_RETURN(TreeNodePtr node, Get(id));
    if (node->is_leaf) {
      const auto& entries = node->entries;
      auto it = std::lower_bound(
          entries.begin(), entries.end(), name,
          [](const snapshot::Entry& e, std::string_view n) { return e.name < n; });
      if (it == entries.end() || it->name != name) return std::optional<Found>();
      for (auto p = entries.begin(); p != it; ++p) ordinal += snapshot::EntrySpan(*p);
      return std::optional<Found>(Found{*it, ordinal});
    }
    const auto& children = node->children;
    auto it = std::upper_bound(
        children.begin(), children.end(), name,
        [](std::string_view n, const snapshot::TreeNode::Child& c) { return n < c.first_name; });
    if (it == children.begin()) return std::optional<Found>();
    --it;
    for (auto p = children.begin(); p != it; ++p) ordinal += p->span;
    id = it->id;
  }
  return Status::Corruption("tree index nesting is too deep");
}

Result<std::optional<TreeCache::Found>> TreeCache::Covering(const ObjectId& root, uint64_t first,
                                                            uint64_t ordinal) {
  ObjectId id = root;
  uint64_t at = first;  // the ordinal of the first entry below id
  for (int depth = 0; depth < kMaxLevels; ++depth) {
    KEEPFS_ASSIGN_OR_RETURN(TreeNodePtr node, Get(id));
    if (node->is_leaf) {
      for (const auto& e : node->entries) {
        const uint64_t span = snapshot::EntrySpan(e);
        if (ordinal >= at && ordinal < at + span) return std::optional<Found>(Found{e, at});
        at += span;
      }
      return std::optional<Found>();
    }
    const snapshot::TreeNode::Child* next = nullptr;
    for (const auto& c : node->children) {
      if (ordinal >= at && ordinal < at + c.span) {
        next = &c;
        break;
      }
      at += c.span;
    }
    if (!next) return std::optional<Found>();
    id = next->id;
  }
  return Status::Corruption("tree index nesting is too deep");
}

Status DirCursor::DescendToFirstLeaf(TreeNodePtr node) {
  while (true) {
    if (stack_.size() >= kMaxLevels) return Status::Corruption("tree index nesting is too deep");
    bool leaf = node->is_leaf;
    bool empty = leaf ? node->entries.empty() : node->children.empty();
    stack_.push_back({node, 0});
    if (leaf || empty) return Status::OK();
    KEEPFS_ASSIGN_OR_RETURN(node, trees_->Get(node->children[0].id));
  }
}

Status DirCursor::Seek(uint64_t index) {
  stack_.clear();
  index_ = index;
  ordinal_ = first_;
  KEEPFS_ASSIGN_OR_RETURN(TreeNodePtr node, trees_->Get(root_));
  uint64_t remaining = index;
  while (true) {
    if (stack_.size() >= kMaxLevels) return Status::Corruption("tree index nesting is too deep");
    if (node->is_leaf) {
      if (remaining >= node->entries.size()) {
        stack_.clear();
        return Status::OK();
      }
      for (size_t j = 0; j < remaining; ++j) ordinal_ += snapshot::EntrySpan(node->entries[j]);
      stack_.push_back({node, static_cast<size_t>(remaining)});
      return Status::OK();
    }
    size_t i = 0;
    for (; i < node->children.size(); ++i) {
      const auto& c = node->children[i];
      if (remaining < c.entry_count) break;
      remaining -= c.entry_count;
      ordinal_ += c.span;
    }
    if (i == node->children.size()) {
      stack_.clear();
      return Status::OK();
    }
    stack_.push_back({node, i});
    KEEPFS_ASSIGN_OR_RETURN(node, trees_->Get(node->children[i].id));
  }
}

Status DirCursor::Next() {
  if (stack_.empty()) return Status::OK();
  ordinal_ += snapshot::EntrySpan(entry());
  ++index_;
  if (++stack_.back().pos < stack_.back().node->entries.size()) return Status::OK();
  // Leaf done: climb to the next index child that has entries.
  stack_.pop_back();
  while (!stack_.empty()) {
    Level& up = stack_.back();
    if (++up.pos < up.node->children.size()) {
      KEEPFS_ASSIGN_OR_RETURN(TreeNodePtr child, trees_->Get(up.node->children[up.pos].id));
      KEEPFS_RETURN_IF_ERROR(DescendToFirstLeaf(child));
      const Level& leaf = stack_.back();
      if (leaf.node->is_leaf && !leaf.node->entries.empty()) return Status::OK();
      return Status::Corruption("tree index points at an empty node");
    }
    stack_.pop_back();
  }
  return Status::OK();
}

}  // namespace keepfs::fs
