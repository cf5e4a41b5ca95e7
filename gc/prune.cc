#include "gc/prune.h"

#include <algorithm>
#include <map>
#include <mutex>

#include "gc/husk.h"
#include "snapshot/accounting.h"
#include "snapshot/catalog.h"
#include "snapshot/repo.h"

namespace keepfs::gc {

namespace {

// The user's charge as the plan forgets snapshots, from the real counts.
class StoreChargeModel : public ChargeModel {
 public:
  StoreChargeModel(Store* store, std::string user,
                   const std::vector<snapshot::SnapshotRecord>& snaps,
                   const std::vector<std::vector<snapshot::Pin>>& pins, int64_t now)
      : store_(store),
        changes_(store, user),
        user_(std::move(user)),
        snaps_(snaps),
        pins_(pins),
        now_(now),
        frees_(snaps.size(), 0) {}

  Status Init() {
    KEEPFS_ASSIGN_OR_RETURN(snapshot::UserHoldings h, changes_.Holdings(user_));
    charged_ = h.charged();
    return Status::OK();
  }
  uint64_t Charged() const override { return charged_; }
  void Forget(size_t i) override {
    if (!status_.ok()) return;
    uint64_t before = changes_.freed();
    // Nothing is written: the husk needs no number.
    auto removal = PlanRemoval(store_, &changes_, snaps_[i], pins_[i], now_,
                               [] { return Result<uint64_t>(uint64_t{0}); });
    if (!removal.ok()) {
      status_ = removal.status();
      return;
    }
    frees_[i] = changes_.freed() - before;
    auto h = changes_.Holdings(user_);
    if (!h.ok()) {
      status_ = h.status();
      return;
    }
    charged_ = h->charged();
  }
  const Status& status() const { return status_; }
  uint64_t frees(size_t i) const { return frees_[i]; }

 private:
  Store* store_;
  snapshot::RefChanges changes_;
  std::string user_;
  const std::vector<snapshot::SnapshotRecord>& snaps_;
  const std::vector<std::vector<snapshot::Pin>>& pins_;
  int64_t now_;
  std::vector<uint64_t> frees_;
  uint64_t charged_ = 0;
  Status status_;
};

// REQUIRES: the commit lock.
Result<Forgotten> ForgetLocked(Store* store, const snapshot::SnapshotRecord& snap,
                               const std::vector<snapshot::Pin>& pins, int64_t now) {
  snapshot::RefChanges changes(store, snap.user);
  KEEPFS_ASSIGN_OR_RETURN(Removal removal, PlanRemoval(store, &changes, snap, pins, now, [store] {
                            return store->AllocateNumber();
                          }));
  WriteBatch batch;
  changes.AddTo(&batch);
  for (const auto& key : removal.deletes) batch.Delete(key);
  for (const auto& [key, value] : removal.puts) batch.Put(key, value);
  KEEPFS_RETURN_IF_ERROR(store->kv().Write(batch, /*sync=*/true));
  store->SnapshotChanged(snap.user, snap.name);
  return Forgotten{changes.freed(), removal.husk};
}

}  // namespace

Result<Forgotten> ForgetSnapshot(Store* store, std::string_view user, std::string_view name,
                                 int64_t now_sec) {
  if (!store->writable()) return Status::Internal("forget needs a writable store");
  std::lock_guard<std::mutex> lock(store->commit_mu());
  KEEPFS_ASSIGN_OR_RETURN(snapshot::SnapshotRecord snap,
                          snapshot::Repo(store).FindSnapshot(user, name));
  KEEPFS_ASSIGN_OR_RETURN(std::vector<snapshot::Pin> pins,
                          snapshot::ListPins(store, snap.user, snap.name));
  return ForgetLocked(store, snap, pins, now_sec);
}

Result<std::vector<snapshot::DeletedSnapshot>> ListDeleted(Store* store, std::string_view user) {
  std::vector<snapshot::DeletedSnapshot> out;
  auto it = store->kv().NewIterator(snapshot::DeletedPrefix(user));
  for (; it->Valid(); it->Next()) {
    std::string_view key = it->key().substr(1);
    size_t zero = key.find('\0');
    if (zero == std::string_view::npos) return Status::Corruption("deleted-snapshot key is damaged");
    auto d = snapshot::DecodeDeletedSnapshot(it->value());
    if (!d.ok()) return d.status().WithContext(std::string(key.substr(0, zero)));
    d->record.user = std::string(key.substr(0, zero));
    d->record.name = std::string(key.substr(zero + 1));
    out.push_back(std::move(*d));
  }
  KEEPFS_RETURN_IF_ERROR(it->status());
  return out;
}

Status Undelete(Store* store, std::string_view user, std::string_view name) {
  if (!store->writable()) return Status::Internal("undelete needs a writable store");
  KEEPFS_RETURN_IF_ERROR(snapshot::ValidateUserName(user));
  std::lock_guard<std::mutex> lock(store->commit_mu());
  const std::string dkey = snapshot::DeletedKey(user, name);
  std::string v;
  KEEPFS_ASSIGN_OR_RETURN(bool found, store->kv().Get(dkey, &v));
  if (!found) {
    return Status::NotFound("no forgotten snapshot " + std::string(name) + " of " +
                            std::string(user) + " can be undeleted; 'keepfs snapshots --deleted --user " +
                            std::string(user) + "' lists those that can");
  }
  KEEPFS_ASSIGN_OR_RETURN(snapshot::DeletedSnapshot d, snapshot::DecodeDeletedSnapshot(v));
  d.record.user = std::string(user);
  d.record.name = std::string(name);
  snapshot::RefChanges changes(store, user);
  Status added = changes.AddRoot(d.record.root);
  if (added.code() == StatusCode::kCorruption) {
    return Status::NotFound("cannot undelete " + std::string(user) + " " + std::string(name) +
                            ": part of its data is gone (" + added.message() + ")");
  }
  KEEPFS_RETURN_IF_ERROR(added);
  const std::string skey = snapshot::SnapshotKey(user, name);
  std::string cur;
  KEEPFS_ASSIGN_OR_RETURN(bool listed, store->kv().Get(skey, &cur));
  if (listed) {
    KEEPFS_ASSIGN_OR_RETURN(snapshot::SnapshotRecord now, snapshot::DecodeSnapshotRecord(cur));
    if (!now.is_husk()) {
      return Status::AlreadyExists("a snapshot named " + std::string(name) + " of " +
                                   std::string(user) + " exists; nothing was changed");
    }
    KEEPFS_RETURN_IF_ERROR(changes.RemoveRoot(now.root));  // the husk gives way to the whole
  }
  WriteBatch batch;
  changes.AddTo(&batch);
  batch.Put(skey, snapshot::EncodeSnapshotRecord(d.record));
  batch.Delete(dkey);
  KEEPFS_RETURN_IF_ERROR(store->kv().Write(batch, /*sync=*/true));
  store->SnapshotChanged(user, name);
  return Status::OK();
}

Result<UserPrune> PruneUser(Store* store, std::string_view user, const RetentionPolicy& policy,
                            int64_t now_sec, bool dry_run) {
  if (!dry_run && !store->writable()) return Status::Internal("prune needs a writable store");
  std::lock_guard<std::mutex> lock(store->commit_mu());
  snapshot::Repo repo(store);
  // A known user may have no snapshots left (all forgotten, or only added):
  // an empty plan. An unknown one is an error with advice.
  KEEPFS_RETURN_IF_ERROR(snapshot::ValidateUserName(user));
  KEEPFS_ASSIGN_OR_RETURN(std::vector<snapshot::SnapshotRecord> snaps, repo.ListSnapshots(user));
  if (snaps.empty()) KEEPFS_RETURN_IF_ERROR(repo.RequireKnownUser(user));
  UserPrune out;
  out.user = std::string(user);
  out.policy = policy;
  KEEPFS_ASSIGN_OR_RETURN(std::vector<snapshot::Pin> all_pins, snapshot::ListPins(store, user));
  std::map<std::string, std::vector<snapshot::Pin>> by_snapshot;
  for (auto& p : all_pins) by_snapshot[p.snapshot].push_back(std::move(p));
  std::vector<std::vector<snapshot::Pin>> pins(snaps.size());
  std::vector<RetentionSnapshot> in;
  for (size_t i = 0; i < snaps.size(); ++i) {
    if (auto it = by_snapshot.find(snaps[i].name); it != by_snapshot.end()) {
      pins[i] = std::move(it->second);
    }
    in.push_back({snaps[i].name, snaps[i].time_sec, pins[i].size(), snaps[i].is_husk(),
                  snaps[i].seq});
  }
  StoreChargeModel model(store, out.user, snaps, pins, now_sec);
  KEEPFS_RETURN_IF_ERROR(model.Init());
  KEEPFS_ASSIGN_OR_RETURN(out.plan, PlanRetention(in, policy, now_sec, &model));
  KEEPFS_RETURN_IF_ERROR(model.status());
  for (size_t i = 0; i < snaps.size(); ++i) {
    PrunedSnapshot p{snaps[i].name, out.plan.decisions[i], model.frees(i)};
    out.frees += p.frees;
    out.snapshots.push_back(std::move(p));
  }
  if (dry_run) return out;
  for (size_t i = 0; i < snaps.size(); ++i) {
    const Fate fate = out.plan.decisions[i].fate;
    // Keep, or a husk that stays as it is.
    if (fate == Fate::kKeep || (fate == Fate::kHusk && snaps[i].is_husk())) continue;
    KEEPFS_ASSIGN_OR_RETURN(Forgotten f, ForgetLocked(store, snaps[i], pins[i], now_sec));
    uint64_t freed = f.freed;
    if (freed != model.frees(i)) {
      return Status::Internal("prune of " + snaps[i].name + " freed " + std::to_string(freed) +
                              " bytes where the plan said " + std::to_string(model.frees(i)));
    }
  }
  return out;
}

}  // namespace keepfs::gc
