// TreeCache and DirCursor: the mount's access to tree nodes. Decoded nodes are
// cached (byte-bounded) so a directory that is listed and then looked up in
// is decoded once. DirCursor walks one directory in name order and knows
// each entry's inode ordinal (fs/inode.h) without visiting anything below it.
//
// Thread safety: TreeCache is safe from many threads; a DirCursor is used by
// one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "snapshot/repo.h"
#include "snapshot/tree.h"
#include "store/lru_cache.h"

namespace keepfs::fs {

using TreeNodePtr = std::shared_ptr<const snapshot::TreeNode>;

class TreeCache {
 public:
  TreeCache(const snapshot::Repo* repo, uint64_t capacity_bytes);
  // Corruption if the node is missing or damaged.
  Result<TreeNodePtr> Get(const ObjectId& id);

  struct Found {
    snapshot::Entry entry;
    uint64_t ordinal = 0;
  };
  // Finds name in the directory whose tree is root and whose first child has
  // ordinal first; nullopt if absent. Reads one node per level.
  Result<std::optional<Found>> Lookup(const ObjectId& root, uint64_t first, std::string_view name);
  // The entry of that directory whose ordinal range (its ordinal and, for a
  // folder, the span below it) holds ordinal: the entry itself, or the
  // folder it is somewhere below. nullopt if none (ordinal out of range).
  // Reads one node per level, chosen by the index nodes' span sums.
  Result<std::optional<Found>> Covering(const ObjectId& root, uint64_t first, uint64_t ordinal);

 private:
  const snapshot::Repo* repo_;
  LruCache<ObjectId, snapshot::TreeNode, ObjectIdHash> cache_;
};

class DirCursor {
 public:
  // The directory whose tree is root; its first child has ordinal first.
  DirCursor(TreeCache* trees, const ObjectId& root, uint64_t first)
      : trees_(trees), root_(root), first_(first) {}

  // Positions at the index-th entry (0-based) in name order, reading one node
  // per level; past the last entry, AtEnd() is true.
  Status Seek(uint64_t index);
  bool AtEnd() const { return stack_.empty(); }
  // Valid while !AtEnd().
  const snapshot::Entry& entry() const { return stack_.back().node->entries[stack_.back().pos]; }
  uint64_t ordinal() const { return ordinal_; }
  uint64_t index() const { return index_; }
  Status Next();

 private:
  struct Level {
    TreeNodePtr node;
    size_t pos = 0;
  };
  Status DescendToFirstLeaf(TreeNodePtr node);

  TreeCache* trees_;
  ObjectId root_;
  uint64_t first_;
  std::vector<Level> stack_;  // index nodes from the root down, the leaf last
  uint64_t ordinal_ = 0;
  uint64_t index_ = 0;
};

}  // namespace keepfs::fs
