#include "snapshot/check_map.h"

#include <unordered_map>

#include "snapshot/accounting.h"
#include "snapshot/catalog.h"
#include "snapshot/content.h"
#include "snapshot/pins.h"
#include "snapshot/repo.h"
#include "snapshot/snapshot_record.h"
#include "snapshot/tree.h"
#include "store/chunk_store.h"

namespace keepfs::snapshot {

namespace {

class Mapper {
 public:
  explicit Mapper(Store* store) : store_(store), repo_(store) {}
  Status Map(const std::set<std::string>& problems,
             std::map<std::string, std::vector<Affected>>* affects);

 private:
  Status WalkDamaged(const ObjectId& node_id, const Affected& at,
                     const std::unordered_map<std::string, std::set<std::string>>& causes,
                     std::map<std::string, std::vector<Affected>>* affects);

  Store* store_;
  Repo repo_;
};

Status Mapper::Map(const std::set<std::string>& problems,
                   std::map<std::string, std::vector<Affected>>* affects) {
  // causes[object key]: the problems that make this object unreadable.
  std::unordered_map<std::string, std::set<std::string>> causes;
  for (const std::string& okey : problems) {
    if (okey[0] != 't' && okey[0] != 'o' && okey[0] != 'c') continue;
    causes[okey].insert(okey);
    if (okey[0] != 'c') continue;
    // A chunk lost with its pack: what it affects, the pack affects too.
    auto id = ObjectId::FromBytes(std::string_view(okey).substr(1));
    auto loc = id.ok() ? store_->chunks().Lookup(*id) : Result<std::optional<ChunkLoc>>(std::nullopt);
    if (loc.ok() && *loc && problems.count(ChunkStore::PackKey((*loc)->pack_id))) {
      causes[okey].insert(ChunkStore::PackKey((*loc)->pack_id));
    }
  }
  auto cause_of = [&](const std::string& k) -> const std::set<std::string>* {
    auto it = causes.find(k);
    return it == causes.end() ? nullptr : &it->second;
  };
  // Contents over damaged chunks; then aliases over damaged contents
  // (an alias's target is never an alias, so one pass over the few
  // aliases, remembered from the one scan, is enough).
  std::vector<std::pair<std::string, ObjectId>> aliases;  // alias key, target
  auto it = store_->kv().NewIterator("o");
  for (; it->Valid(); it->Next()) {
    auto c = DecodeContent(it->value());
    if (!c.ok()) continue;  // reported as corrupt itself
    if (c->is_alias()) {
      aliases.emplace_back(std::string(it->key()), c->alias_of);
      continue;
    }
    for (const ContentPart& part : c->parts) {
      if (part.is_hole()) continue;
      if (auto* s = cause_of(ChunkStore::ChunkKey(part.chunk))) {
        causes[std::string(it->key())].insert(s->begin(), s->end());
      }
    }
  }
  KEEPFS_RETURN_IF_ERROR(it->status());
  for (const auto& [key, target] : aliases) {
    if (auto* s = cause_of(ContentKey(target))) causes[key].insert(s->begin(), s->end());
  }
  // Trees over damaged trees and contents, to a fixpoint (one round per
  // level of nesting that is damaged).
  for (bool changed = true; changed;) {
    changed = false;
    auto it = store_->kv().NewIterator("t");
    for (; it->Valid(); it->Next()) {
      auto node = DecodeTreeNode(it->value());
      if (!node.ok()) continue;
      ObjectLinks links;
      AppendNodeLinks(*node, &links);
      std::string tkey(it->key());
      for (const auto& [kind, child] : links.children) {
        auto* s = cause_of(kind == 't' ? TreeKey(child) : ContentKey(child));
        if (!s) continue;
        auto& mine = causes[tkey];
        size_t before = mine.size();
        mine.insert(s->begin(), s->end());
        changed |= mine.size() != before;
      }
    }
    KEEPFS_RETURN_IF_ERROR(it->status());
  }
  // Walk down from each snapshot and pin along damaged objects only.
  auto sit = store_->kv().NewIterator(kSnapshotPrefix);
  for (; sit->Valid(); sit->Next()) {
    auto rec = DecodeSnapshotRecord(sit->value());
    Affected where;
    std::string_view name;
    if (!rec.ok() || !SplitUserKey(sit->key(), &where.user, &name)) continue;
    where.snapshot = std::string(name);
    KEEPFS_RETURN_IF_ERROR(WalkDamaged(rec->root, where, causes, affects));
  }
  KEEPFS_RETURN_IF_ERROR(sit->status());
  auto pit = store_->kv().NewIterator("P");
  for (; pit->Valid(); pit->Next()) {
    auto pin = PinFromKey(pit->key(), pit->value());
    if (!pin.ok() || pin->kind == 0) continue;
    const auto* s = cause_of(pin->kind == 't' ? TreeKey(pin->id) : ContentKey(pin->id));
    if (!s) continue;
    Affected where{pin->user, pin->snapshot, "pin " + pin->path};
    for (const auto& cause : *s) (*affects)[cause].push_back(where);
  }
  return pit->status();
}

// At a folder's node (or one page of it): every file and folder below
// that a problem reaches gets its path listed under that problem.
Status Mapper::WalkDamaged(const ObjectId& node_id, const Affected& at,
                   const std::unordered_map<std::string, std::set<std::string>>& causes,
                   std::map<std::string, std::vector<Affected>>* affects) {
  const std::string key = TreeKey(node_id);
  auto c = causes.find(key);
  if (c == causes.end()) return Status::OK();
  if (c->second.count(key)) {  // this node itself is damaged: everything below is lost
    (*affects)[key].push_back(at);
    return Status::OK();
  }
  auto node = repo_.GetTreeNode(node_id);
  if (!node.ok()) return Status::OK();  // reported as damaged itself
  for (const auto& child : node->children) {
    KEEPFS_RETURN_IF_ERROR(WalkDamaged(child.id, at, causes, affects));
  }
  for (const Entry& e : node->entries) {
    Affected below{at.user, at.snapshot, at.path.empty() ? e.name : at.path + "/" + e.name};
    if (e.type == EntryType::kDir) {
      KEEPFS_RETURN_IF_ERROR(WalkDamaged(e.ref, below, causes, affects));
    } else if (e.type == EntryType::kFile) {
      auto f = causes.find(ContentKey(e.ref));
      if (f == causes.end()) continue;
      for (const auto& cause : f->second) (*affects)[cause].push_back(below);
    }
  }
  return Status::OK();
}

}  // namespace

Status MapAffected(Store* store, const std::set<std::string>& problems,
                   std::map<std::string, std::vector<Affected>>* affects) {
  return Mapper(store).Map(problems, affects);
}

}  // namespace keepfs::snapshot
