#include "gc/husk.h"

#include <map>
#include <unordered_map>

#include "snapshot/catalog.h"
#include "snapshot/tree.h"

namespace keepfs::gc {

namespace {

using snapshot::Entry;
using snapshot::EntryType;

class HuskBuilder {
 public:
  explicit HuskBuilder(const snapshot::Repo& repo) : repo_(repo) {}

  // The husk of the folder tree dir keeping rel (paths below it; "" keeps
  // it all): its id and the number of entries below it.
  Result<std::pair<ObjectId, uint64_t>> Folder(const ObjectId& dir, uint64_t whole_size,
                                               const std::vector<std::string_view>& rel) {
    for (auto p : rel) {
      if (p.empty()) return std::make_pair(dir, whole_size);
    }
    std::map<std::string, std::vector<std::string_view>, std::less<>> by_name;
    for (auto p : rel) {
      size_t slash = p.find('/');
      std::string_view name = p.substr(0, slash);
      by_name[std::string(name)].push_back(slash == std::string_view::npos ? std::string_view()
                                                                           : p.substr(slash + 1));
    }
    std::vector<Entry> kept;
    uint64_t below = 0;
    for (const auto& [name, rest] : by_name) {
      KEEPFS_ASSIGN_OR_RETURN(std::optional<Entry> e,
                              snapshot::LookupInTree(dir, name, Source()));
      if (!e) return Status::Corruption("pinned path '" + name + "' is not in the snapshot");
      bool whole = false;
      for (auto r : rest) whole |= r.empty();
      if (!whole) {
        if (e->type != EntryType::kDir) {
          return Status::Corruption("pinned path below '" + name + "', which is not a folder");
        }
        KEEPFS_ASSIGN_OR_RETURN(auto sub, Folder(e->ref, e->size, rest));
        e->ref = sub.first;
        e->size = sub.second;
      }
      below += snapshot::EntrySpan(*e);
      kept.push_back(std::move(*e));
    }
    KEEPFS_ASSIGN_OR_RETURN(ObjectId id, snapshot::WriteTree(std::move(kept), Sink()));
    return std::make_pair(id, below);
  }

  // Counts what the husk holds, reading new nodes from memory.
  Status Count(const ObjectId& dir, HuskTree* out, std::map<uint64_t, uint64_t>* links) {
    return snapshot::ForEachEntry(dir, Source(), [&](const Entry& e) -> Result<bool> {
      switch (e.type) {
        case EntryType::kFile:
          ++out->files;
          out->bytes_logical += e.size;
          break;
        case EntryType::kDir:
          ++out->dirs;
          KEEPFS_RETURN_IF_ERROR(Count(e.ref, out, links));
          break;
        default: ++out->others;
      }
      if (e.link_id != 0) ++(*links)[e.link_id];
      return true;
    });
  }

  std::vector<std::pair<ObjectId, std::string>> TakeNodes() {
    std::vector<std::pair<ObjectId, std::string>> out;
    for (auto& [id, bytes] : nodes_) out.emplace_back(id, std::move(bytes));
    nodes_.clear();
    return out;
  }

 private:
  snapshot::NodeSource Source() {
    return [this](const ObjectId& id) -> Result<snapshot::TreeNode> {
      if (auto it = nodes_.find(id); it != nodes_.end()) return snapshot::DecodeTreeNode(it->second);
      return repo_.GetTreeNode(id);
    };
  }
  snapshot::NodeSink Sink() {
    return [this](std::string encoded) -> Result<ObjectId> {
      ObjectId id = Sha256::Of(encoded);
      nodes_.emplace(id, std::move(encoded));
      return id;
    };
  }

  const snapshot::Repo& repo_;
  std::unordered_map<ObjectId, std::string, ObjectIdHash> nodes_;
};

}  // namespace

Result<HuskTree> BuildHuskTree(const snapshot::Repo& repo, const ObjectId& root,
                               const std::vector<snapshot::Pin>& pins) {
  if (pins.empty()) return Status::Internal("a husk needs at least one pinned path");
  HuskBuilder b(repo);
  std::vector<std::string_view> rel;
  for (const auto& p : pins) rel.push_back(p.path);
  HuskTree out;
  KEEPFS_ASSIGN_OR_RETURN(auto top, b.Folder(root, 0, rel));
  out.root = top.first;
  std::map<uint64_t, uint64_t> links;
  KEEPFS_RETURN_IF_ERROR(b.Count(out.root, &out, &links));
  out.links.assign(links.begin(), links.end());
  out.new_nodes = b.TakeNodes();
  return out;
}

Status ReplaceWithHusk(snapshot::RefChanges* changes, const snapshot::SnapshotRecord& snap,
                       HuskTree husk, int64_t husk_unix, const NumberSource& number,
                       Removal* out) {
  for (const auto& [id, bytes] : husk.new_nodes) changes->AddPendingNode(id, bytes);
  KEEPFS_RETURN_IF_ERROR(changes->AddRoot(husk.root));
  KEEPFS_RETURN_IF_ERROR(changes->RemoveRoot(snap.root));
  for (auto& [id, bytes] : husk.new_nodes) {
    out->puts.emplace_back(snapshot::TreeKey(id), std::move(bytes));
  }
  snapshot::SnapshotRecord r = snap;
  KEEPFS_ASSIGN_OR_RETURN(r.number, number());
  r.root = husk.root;
  r.stats.files = husk.files;
  r.stats.dirs = husk.dirs;
  r.stats.others = husk.others;
  r.stats.bytes_logical = husk.bytes_logical;
  r.links = std::move(husk.links);
  r.husk_unix = husk_unix;
  out->puts.emplace_back(snapshot::SnapshotKey(snap.user, snap.name),
                         snapshot::EncodeSnapshotRecord(r));
  out->husk = true;
  return Status::OK();
}

Result<Removal> PlanRemoval(Store* store, snapshot::RefChanges* changes,
                            const snapshot::SnapshotRecord& snap,
                            const std::vector<snapshot::Pin>& pins, int64_t now,
                            const NumberSource& number) {
  Removal out;
  const std::string skey = snapshot::SnapshotKey(snap.user, snap.name);
  const std::string dkey = snapshot::DeletedKey(snap.user, snap.name);
  if (snap.is_husk()) {
    if (!pins.empty()) {
      return Status::InvalidArgument(
          snap.user + " " + snap.name + " is a husk kept by " + std::to_string(pins.size()) +
          " pin(s); unpin them first ('keepfs pins --user " + snap.user + "' lists them)");
    }
    KEEPFS_RETURN_IF_ERROR(changes->RemoveRoot(snap.root));
    out.deletes.push_back(skey);
    std::string v;
    KEEPFS_ASSIGN_OR_RETURN(bool found, store->kv().Get(dkey, &v));
    if (found) {  // the whole record stays undeletable; no husk is listed any more
      KEEPFS_ASSIGN_OR_RETURN(snapshot::DeletedSnapshot d, snapshot::DecodeDeletedSnapshot(v));
      d.husk_left = false;
      out.puts.emplace_back(dkey, snapshot::EncodeDeletedSnapshot(d));
    }
    return out;
  }
  snapshot::DeletedSnapshot d{snap, now, !pins.empty()};
  if (pins.empty()) {
    KEEPFS_RETURN_IF_ERROR(changes->RemoveRoot(snap.root));
    out.deletes.push_back(skey);
  } else {
    KEEPFS_ASSIGN_OR_RETURN(HuskTree husk, BuildHuskTree(snapshot::Repo(store), snap.root, pins));
    KEEPFS_RETURN_IF_ERROR(ReplaceWithHusk(changes, snap, std::move(husk), now, number, &out));
  }
  out.puts.emplace_back(dkey, snapshot::EncodeDeletedSnapshot(d));
  return out;
}

}  // namespace keepfs::gc
