#include "gc/prune.h"

#include <algorithm>
#include <mutex>

#include "snapshot/accounting.h"
#include "snapshot/catalog.h"
#include "snapshot/repo.h"

namespace keepfs::gc {

namespace {

// The user's charge as the plan forgets snapshots, from the real counts.
class StoreChargeModel : public ChargeModel {
 public:
  StoreChargeModel(Store* store, std::string user,
                   const std::vector<snapshot::SnapshotRecord>& snaps)
      : changes_(store, user), user_(std::move(user)), snaps_(snaps), frees_(snaps.size(), 0) {}

  Status Init() {
    KEEPFS_ASSIGN_OR_RETURN(snapshot::UserHoldings h, changes_.Holdings(user_));
    charged_ = h.charged();
    return Status::OK();
  }
  uint64_t Charged() const override { return charged_; }
  void Forget(size_t i) override {
    if (!status_.ok()) return;
    uint64_t before = changes_.freed();
    status_ = changes_.RemoveRoot(snaps_[i].root);
    if (!status_.ok()) return;
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
  snapshot::RefChanges changes_;
  std::string user_;
  const std::vector<snapshot::SnapshotRecord>& snaps_;
  std::vector<uint64_t> frees_;
  uint64_t charged_ = 0;
  Status status_;
};

// REQUIRES: the commit lock.
Result<uint64_t> ForgetLocked(Store* store, const snapshot::SnapshotRecord& snap) {
  snapshot::RefChanges changes(store, snap.user);
  KEEPFS_RETURN_IF_ERROR(changes.RemoveRoot(snap.root));
  WriteBatch batch;
  changes.AddTo(&batch);
  batch.Delete(snapshot::SnapshotKey(snap.user, snap.name));
  KEEPFS_RETURN_IF_ERROR(store->kv().Write(batch, /*sync=*/true));
  store->SnapshotChanged(snap.user, snap.name);
  return changes.freed();
}

}  // namespace

Result<uint64_t> ForgetSnapshot(Store* store, std::string_view user, std::string_view name) {
  if (!store->writable()) return Status::Internal("forget needs a writable store");
  std::lock_guard<std::mutex> lock(store->commit_mu());
  KEEPFS_ASSIGN_OR_RETURN(snapshot::SnapshotRecord snap,
                          snapshot::Repo(store).FindSnapshot(user, name));
  return ForgetLocked(store, snap);
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
  if (snaps.empty()) {
    KEEPFS_ASSIGN_OR_RETURN(std::vector<std::string> users, repo.ListUsers());
    if (std::find(users.begin(), users.end(), user) == users.end()) {
      return repo.ListUserSnapshots(user).status();
    }
  }
  UserPrune out;
  out.user = std::string(user);
  out.policy = policy;
  std::vector<RetentionSnapshot> in;
  for (const auto& s : snaps) in.push_back({s.name, s.time_sec, /*pins=*/0, /*husk=*/false});
  StoreChargeModel model(store, out.user, snaps);
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
    if (out.plan.decisions[i].fate == Fate::kKeep) continue;
    if (out.plan.decisions[i].fate == Fate::kHusk) {  // unreachable until pins exist
      return Status::NotSupported("husks are not built yet; nothing after " + snaps[i].name +
                                  " was pruned");
    }
    KEEPFS_ASSIGN_OR_RETURN(uint64_t freed, ForgetLocked(store, snaps[i]));
    if (freed != model.frees(i)) {
      return Status::Internal("prune of " + snaps[i].name + " freed " + std::to_string(freed) +
                              " bytes where the plan said " + std::to_string(model.frees(i)));
    }
  }
  return out;
}

}  // namespace keepfs::gc
