#include "fs/export_index.h"

#include <spdlog/spdlog.h>

#include <utility>
#include <vector>

#include "snapshot/catalog.h"
#include "snapshot/users.h"

namespace keepfs::fs {

namespace {
using Clock = std::chrono::steady_clock;

// A number handed out before the last pass that the pass did not find is
// looked for again at most this often (an undelete brings one back; a
// snapshot committing during the pass has one).
constexpr auto kRescanInterval = std::chrono::seconds(1);
// Link tables of this many snapshots are kept; walking one costs a read of
// all of its trees.
constexpr size_t kMaxLinkTables = 8;
}  // namespace

ExportIndex::ExportIndex(Store* store, snapshot::NodeSource trees)
    : store_(store), trees_(std::move(trees)) {}

Status ExportIndex::Rescan() {
  // Read before the records: every number below it that a record holds now
  // is in this pass.
  KEEPFS_ASSIGN_OR_RETURN(next_at_scan_, store_->NextNumber());
  std::unordered_map<uint64_t, Owner> owners;
  auto users = store_->kv().NewIterator(snapshot::kUserPrefix);
  for (; users->Valid(); users->Next()) {
    auto rec = snapshot::DecodeUserRecord(users->value());
    if (!rec.ok()) continue;  // the mount logs a damaged user when it shows it
    owners[rec->number] = Owner{std::string(users->key().substr(1)), ""};
  }
  KEEPFS_RETURN_IF_ERROR(users->status());
  auto snaps = store_->kv().NewIterator(snapshot::kSnapshotPrefix);
  for (; snaps->Valid(); snaps->Next()) {
    std::string user;
    std::string_view name;
    if (!snapshot::SplitUserKey(snaps->key(), &user, &name)) continue;
    auto rec = snapshot::DecodeSnapshotRecord(snaps->value());
    if (!rec.ok() || rec->number == 0) continue;  // logged when listed or looked up
    owners[rec->number] = Owner{std::move(user), std::string(name)};
  }
  KEEPFS_RETURN_IF_ERROR(snaps->status());
  // What an earlier pass learned stays true (a number never changes owner);
  // the caller checks whether that owner still has it.
  for (auto& [number, owner] : owners) owners_[number] = std::move(owner);
  spdlog::debug("export index: {} numbers known", owners_.size());
  return Status::OK();
}

Result<std::optional<ExportIndex::Owner>> ExportIndex::Find(uint64_t number) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = owners_.find(number); it != owners_.end()) return std::optional<Owner>(it->second);
  const auto now = Clock::now();
  bool rescan;
  if (scanned_at_ && number >= next_at_scan_) {
    // Handed out since the last pass began (a new snapshot or user, a husk),
    // or never: the counter says which without reading the records.
    KEEPFS_ASSIGN_OR_RETURN(uint64_t next, store_->NextNumber());
    if (number >= next) return std::optional<Owner>();
    rescan = true;  // once: the pass moves next_at_scan_ past it
  } else {
    rescan = !scanned_at_ || now - *scanned_at_ >= kRescanInterval;
  }
  if (rescan) {
    scanned_at_ = now;
    KEEPFS_RETURN_IF_ERROR(Rescan());
  }
  if (auto it = owners_.find(number); it != owners_.end()) return std::optional<Owner>(it->second);
  return std::optional<Owner>();
}

Result<std::shared_ptr<const std::unordered_map<uint64_t, uint64_t>>> ExportIndex::WalkLinks(
    const snapshot::SnapshotRecord& rec) {
  auto found = std::make_shared<std::unordered_map<uint64_t, uint64_t>>();
  std::unordered_map<uint64_t, bool> wanted;
  for (const auto& [link_id, names] : rec.links) wanted[link_id] = true;
  // Folders still to read: (tree, ordinal of its first child). The order
  // does not matter: every ordinal follows from the spans of the entries
  // before it in its own folder.
  std::vector<std::pair<ObjectId, uint64_t>> todo = {{rec.root, 1}};
  while (!todo.empty() && found->size() < wanted.size()) {
    auto [tree, ordinal] = todo.back();
    todo.pop_back();
    KEEPFS_RETURN_IF_ERROR(snapshot::ForEachEntry(
        tree, trees_, [&](const snapshot::Entry& e) -> Result<bool> {
          if (e.link_id != 0 && wanted.count(e.link_id)) found->try_emplace(e.link_id, ordinal);
          if (e.type == snapshot::EntryType::kDir && e.size > 0) todo.emplace_back(e.ref, ordinal + 1);
          ordinal += snapshot::EntrySpan(e);
          return true;
        }));
  }
  return std::shared_ptr<const std::unordered_map<uint64_t, uint64_t>>(std::move(found));
}

Result<std::optional<uint64_t>> ExportIndex::LinkOrdinal(const snapshot::SnapshotRecord& rec,
                                                         uint64_t link_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = links_.find(rec.number);
  if (it == links_.end()) {
    KEEPFS_ASSIGN_OR_RETURN(auto table, WalkLinks(rec));
    if (links_.size() >= kMaxLinkTables) links_.erase(links_.begin());  // the oldest number
    it = links_.emplace(rec.number, std::move(table)).first;
  }
  auto hit = it->second->find(link_id);
  if (hit == it->second->end()) return std::optional<uint64_t>();
  return std::optional<uint64_t>(hit->second);
}

}  // namespace keepfs::fs
