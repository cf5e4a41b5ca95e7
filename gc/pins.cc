#include "gc/pins.h"

#include <mutex>
#include <unordered_set>

#include "gc/husk.h"
#include "snapshot/accounting.h"
#include "snapshot/catalog.h"
#include "snapshot/repo.h"

namespace keepfs::gc {

namespace {
Result<snapshot::SnapshotRecord> FindForPin(Store* store, std::string_view user,
                                            std::string_view snapshot) {
  KEEPFS_RETURN_IF_ERROR(snapshot::ValidateUserName(user));
  return snapshot::Repo(store).FindSnapshot(user, snapshot);
}
}  // namespace

Result<snapshot::Pin> PinPath(Store* store, std::string_view user, std::string_view snapshot,
                              std::string_view path, uint32_t by_uid, int64_t now_sec) {
  if (!store->writable()) return Status::Internal("pin needs a writable store");
  KEEPFS_ASSIGN_OR_RETURN(std::string rel, snapshot::NormalizePinPath(path));
  std::lock_guard<std::mutex> lock(store->commit_mu());
  KEEPFS_ASSIGN_OR_RETURN(snapshot::SnapshotRecord snap, FindForPin(store, user, snapshot));
  KEEPFS_ASSIGN_OR_RETURN(std::optional<snapshot::Pin> existing,
                          snapshot::FindPin(store, snap.user, snap.name, rel));
  if (existing) return *existing;
  auto entry = snapshot::Repo(store).ResolvePath(snap, rel);
  if (!entry.ok()) {
    if (entry.status().code() != StatusCode::kNotFound) return entry.status();
    return Status::NotFound("no '" + rel + "' in " + snap.user + " " + snap.name + " (" +
                            entry.status().message() + "); 'keepfs ls --user " + snap.user +
                            " " + snap.name + "' lists what it has");
  }
  snapshot::Pin pin;
  pin.user = snap.user;
  pin.snapshot = snap.name;
  pin.path = rel;
  pin.type = entry->type;
  if (entry->type == snapshot::EntryType::kFile) pin.kind = 'o';
  if (entry->type == snapshot::EntryType::kDir) pin.kind = 't';
  if (pin.kind != 0) pin.id = entry->ref;
  pin.created_unix = now_sec;
  pin.by_uid = by_uid;
  snapshot::RefChanges changes(store, snap.user);
  if (pin.kind != 0) KEEPFS_RETURN_IF_ERROR(changes.AddObject(pin.kind, pin.id));
  WriteBatch batch;
  changes.AddTo(&batch);
  batch.Put(snapshot::PinKey(pin.user, pin.snapshot, pin.path), snapshot::EncodePin(pin));
  KEEPFS_RETURN_IF_ERROR(store->kv().Write(batch, /*sync=*/true));
  return pin;
}

Status UnpinPath(Store* store, std::string_view user, std::string_view snapshot,
                 std::string_view path) {
  if (!store->writable()) return Status::Internal("unpin needs a writable store");
  KEEPFS_ASSIGN_OR_RETURN(std::string rel, snapshot::NormalizePinPath(path));
  std::lock_guard<std::mutex> lock(store->commit_mu());
  KEEPFS_ASSIGN_OR_RETURN(snapshot::SnapshotRecord snap, FindForPin(store, user, snapshot));
  KEEPFS_ASSIGN_OR_RETURN(std::vector<snapshot::Pin> pins,
                          snapshot::ListPins(store, snap.user, snap.name));
  auto it = std::find_if(pins.begin(), pins.end(),
                         [&](const snapshot::Pin& p) { return p.path == rel; });
  if (it == pins.end()) {
    return Status::NotFound("'" + rel + "' is not pinned in " + snap.user + " " + snap.name +
                            "; 'keepfs pins --user " + snap.user + "' lists the pins");
  }
  snapshot::Pin gone = *it;
  pins.erase(it);
  snapshot::RefChanges changes(store, snap.user);
  WriteBatch batch;
  if (snap.is_husk() && !pins.empty()) {  // the husk shrinks to the pins that are left
    KEEPFS_ASSIGN_OR_RETURN(HuskTree husk, BuildHuskTree(snapshot::Repo(store), snap.root, pins));
    if (husk.root != snap.root) {
      Removal shrink;
      KEEPFS_RETURN_IF_ERROR(ReplaceWithHusk(&changes, snap, std::move(husk), *snap.husk_unix,
                                             [store] { return store->AllocateNumber(); },
                                             &shrink));
      for (const auto& [key, value] : shrink.puts) batch.Put(key, value);
    }
  }
  if (gone.kind != 0) KEEPFS_RETURN_IF_ERROR(changes.RemoveObject(gone.kind, gone.id));
  changes.AddTo(&batch);
  batch.Delete(snapshot::PinKey(gone.user, gone.snapshot, gone.path));
  KEEPFS_RETURN_IF_ERROR(store->kv().Write(batch, /*sync=*/true));
  if (snap.is_husk()) store->SnapshotChanged(snap.user, snap.name);
  return Status::OK();
}

Result<uint64_t> PinnedBytes(Store* store, const std::vector<snapshot::Pin>& pins) {
  std::unordered_set<std::string> seen;
  std::vector<std::pair<char, ObjectId>> stack;
  for (const auto& p : pins) {
    if (p.kind != 0) stack.push_back({p.kind, p.id});
  }
  snapshot::ObjectLinks links;
  uint64_t bytes = 0;
  while (!stack.empty()) {
    auto [kind, id] = stack.back();
    stack.pop_back();
    if (id.IsZero() || !seen.insert(kind + std::string(id.AsBytes())).second) continue;
    KEEPFS_RETURN_IF_ERROR(snapshot::ReadObjectLinks(store, kind, id, &links));
    bytes += links.charged.value_or(0);
    stack.insert(stack.end(), links.children.begin(), links.children.end());
  }
  return bytes;
}

}  // namespace keepfs::gc
