#include "gc/prune.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>

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

// Records one batch may carry: the counts, holders and accounts of about
// this many objects (~100 bytes each in memory).
constexpr size_t kMaxTouched = 1 << 20;

struct ToRemove {
  const snapshot::SnapshotRecord* snap;
  const std::vector<snapshot::Pin>* pins;
};

// REQUIRES: the commit lock. Removes (or makes husks of) the snapshots of one
// user in order, in as few synced batches as kMaxTouched allows: a batch
// reads and writes each count once however many of its snapshots hold the
// object, where a batch per snapshot would read and rewrite it for each.
// A crash leaves every batch whole or absent.
Result<std::vector<Forgotten>> RemoveLocked(Store* store, const std::string& user,
                                            const std::vector<ToRemove>& todo, int64_t now) {
  std::vector<Forgotten> out;
  std::optional<snapshot::RefChanges> changes;
  std::vector<Removal> removals;
  std::vector<std::string> names;
  auto write = [&]() -> Status {
    if (!changes) return Status::OK();
    WriteBatch batch;
    changes->AddTo(&batch);
    for (const Removal& r : removals) {
      for (const auto& key : r.deletes) batch.Delete(key);
      for (const auto& [key, value] : r.puts) batch.Put(key, value);
    }
    KEEPFS_RETURN_IF_ERROR(store->kv().Write(batch, /*sync=*/true));
    for (const auto& name : names) store->SnapshotChanged(user, name);
    changes.reset();
    removals.clear();
    names.clear();
    return Status::OK();
  };
  for (const ToRemove& t : todo) {
    if (!changes) changes.emplace(store, user);
    const uint64_t before = changes->freed();
    KEEPFS_ASSIGN_OR_RETURN(Removal removal,
                            PlanRemoval(store, &*changes, *t.snap, *t.pins, now,
                                        [store] { return store->AllocateNumber(); }));
    out.push_back(Forgotten{changes->freed() - before, removal.husk});
    removals.push_back(std::move(removal));
    names.push_back(t.snap->name);
    if (changes->touched() >= kMaxTouched) KEEPFS_RETURN_IF_ERROR(write());
  }
  KEEPFS_RETURN_IF_ERROR(write());
  return out;
}

}  // namespace

Result<std::vector<Forgotten>> ForgetSnapshots(Store* store, std::string_view user,
                                               const std::vector<std::string>& names,
                                               int64_t now_sec) {
  if (!store->writable()) return Status::Internal("forget needs a writable store");
  std::lock_guard<std::mutex> lock(store->commit_mu());
  snapshot::Repo repo(store);
  std::vector<snapshot::SnapshotRecord> snaps;
  for (const std::string& name : names) {
    KEEPFS_ASSIGN_OR_RETURN(snapshot::SnapshotRecord snap, repo.FindSnapshot(user, name));
    for (const auto& s : snaps) {
      if (s.name == snap.name) {
        return Status::InvalidArgument("snapshot " + snap.name + " is named twice" +
                                       (name == snap.name ? "" : " (as " + name + ")"));
      }
    }
    snaps.push_back(std::move(snap));
  }
  std::vector<std::vector<snapshot::Pin>> pins(snaps.size());
  std::vector<ToRemove> todo;
  for (size_t i = 0; i < snaps.size(); ++i) {
    KEEPFS_ASSIGN_OR_RETURN(pins[i], snapshot::ListPins(store, snaps[i].user, snaps[i].name));
    todo.push_back({&snaps[i], &pins[i]});
  }
  return RemoveLocked(store, std::string(user), todo, now_sec);
}

Result<Forgotten> ForgetSnapshot(Store* store, std::string_view user, std::string_view name,
                                 int64_t now_sec) {
  KEEPFS_ASSIGN_OR_RETURN(std::vector<Forgotten> f,
                          ForgetSnapshots(store, user, {std::string(name)}, now_sec));
  return f.front();
}

Result<std::vector<snapshot::DeletedSnapshot>> ListDeleted(Store* store, std::string_view user) {
  std::vector<snapshot::DeletedSnapshot> out;
  auto it = store->kv().NewIterator(snapshot::DeletedPrefix(user));
  for (; it->Valid(); it->Next()) {
    std::string who;
    std::string_view name;
    if (!snapshot::SplitUserKey(it->key(), &who, &name)) {
      return Status::Corruption("deleted-snapshot key is damaged");
    }
    auto d = snapshot::DecodeDeletedSnapshot(it->value());
    if (!d.ok()) return d.status().WithContext(who);
    d->record.user = std::move(who);
    d->record.name = std::string(name);
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
  std::vector<ToRemove> todo;
  std::vector<size_t> index;
  for (size_t i = 0; i < snaps.size(); ++i) {
    const Fate fate = out.plan.decisions[i].fate;
    // Keep, or a husk that stays as it is.
    if (fate == Fate::kKeep || (fate == Fate::kHusk && snaps[i].is_husk())) continue;
    todo.push_back({&snaps[i], &pins[i]});
    index.push_back(i);
  }
  KEEPFS_ASSIGN_OR_RETURN(std::vector<Forgotten> done, RemoveLocked(store, out.user, todo, now_sec));
  for (size_t k = 0; k < done.size(); ++k) {
    const size_t i = index[k];
    if (done[k].freed != model.frees(i)) {
      return Status::Internal("prune of " + snaps[i].name + " freed " +
                              std::to_string(done[k].freed) + " bytes where the plan said " +
                              std::to_string(model.frees(i)));
    }
  }
  return out;
}

}  // namespace keepfs::gc
