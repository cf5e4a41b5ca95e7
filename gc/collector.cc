#include "gc/collector.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <utility>

#include "snapshot/accounting.h"
#include "snapshot/catalog.h"
#include "snapshot/snapshot_record.h"
#include "store/chunk_store.h"
#include "store/coding.h"
#include "store/pack.h"
#include "store/text.h"

namespace keepfs::gc {

namespace {

constexpr size_t kBatch = 2048;
// Parents before children: while a tree's record exists its contents do,
// and while a content's does, its chunks do (a reader walking down from a
// record never finds a hole the collector made).
constexpr char kKindOrder[] = {'t', 'o', 'c'};

bool Cancelled(const GcOptions& o) { return o.cancel && o.cancel->load(); }

class Collector {
 public:
  Collector(Store* store, const GcOptions& options) : store_(store), opt_(options) {
    r_.dry_run = options.dry_run;
  }

  Result<GcResult> Run() {
    if (!opt_.dry_run && !store_->writable()) return Status::Internal("gc needs a writable store");
    std::unique_lock<std::mutex> one_run(store_->gc_mu(), std::try_to_lock);
    if (!one_run.owns_lock()) {
      return Status::Busy("a garbage collection is already running on this store; wait for it");
    }
    window_ = store_->guard().NewBackupHold();
    KEEPFS_RETURN_IF_ERROR(DeletedSnapshots());
    for (char kind : kKindOrder) {
      if (Cancelled(opt_)) break;
      KEEPFS_RETURN_IF_ERROR(Candidates(kind));
    }
    if (!Cancelled(opt_)) KEEPFS_RETURN_IF_ERROR(Packs());
    r_.cancelled = Cancelled(opt_);
    return r_;
  }

 private:
  void Progress(const char* phase, uint64_t done, uint64_t total) {
    if (opt_.progress) opt_.progress({phase, done, total});
  }

  // Drops `d` records whose undelete window has passed, and walks the
  // others into window_, so that what only they reference stays.
  Status DeletedSnapshots() {
    std::vector<std::pair<std::string, std::string>> records;
    {
      auto it = store_->kv().NewIterator(snapshot::DeletedPrefix(""));
      for (; it->Valid(); it->Next()) records.emplace_back(it->key(), it->value());
      KEEPFS_RETURN_IF_ERROR(it->status());
    }
    std::vector<std::string> expired;
    uint64_t done = 0;
    for (const auto& [key, value] : records) {
      Progress("deleted snapshots", ++done, records.size());
      seen_deleted_.insert(key);
      auto d = snapshot::DecodeDeletedSnapshot(value);
      if (!d.ok()) {
        r_.problems.push_back("deleted-snapshot record is damaged, kept as it is: " +
                              d.status().message());
        continue;
      }
      if (Expired(*d)) {
        ++r_.expired_deleted;
        expired.push_back(key);
        continue;
      }
      ++r_.undeletable;
      KEEPFS_RETURN_IF_ERROR(KeepForUndelete(d->record.root));
    }
    if (opt_.dry_run || expired.empty()) return Status::OK();
    // Under the commit lock, and decided again there: an undelete and a new
    // forget of the same snapshot may have replaced a record since it was read.
    std::lock_guard<std::mutex> commit(store_->commit_mu());
    WriteBatch batch;
    for (const auto& key : expired) {
      std::string v;
      KEEPFS_ASSIGN_OR_RETURN(bool found, store_->kv().Get(key, &v));
      if (!found) continue;
      auto d = snapshot::DecodeDeletedSnapshot(v);
      if (!d.ok()) continue;
      if (Expired(*d)) {
        batch.Delete(key);
      } else {
        --r_.expired_deleted;
        ++r_.undeletable;
        KEEPFS_RETURN_IF_ERROR(KeepForUndelete(d->record.root));
      }
    }
    return store_->kv().Write(batch, /*sync=*/true);
  }

  bool Expired(const snapshot::DeletedSnapshot& d) const {
    // Subtracted, not added: a window of "keep for ever" (gc.undelete_window
    // or --undelete-window near 2^63 seconds) must not overflow into the
    // past and expire everything. Both are non-negative, so this cannot wrap.
    return d.deleted_unix <= opt_.now_unix - opt_.config.undelete_window_sec;
  }

  // Adds the objects below root that nobody references (only forgotten
  // snapshots can have them) to window_. Stops at referenced objects:
  // everything below one of those is referenced too.
  Status KeepForUndelete(const ObjectId& root) {
    std::vector<std::pair<char, ObjectId>> stack{{'t', root}};
    snapshot::ObjectLinks links;
    while (!stack.empty()) {
      auto [kind, id] = stack.back();
      stack.pop_back();
      if (id.IsZero() || window_->MayHold(kind, id)) continue;
      KEEPFS_ASSIGN_OR_RETURN(bool referenced,
                              store_->kv().Contains(snapshot::HolderKey(kind, id)));
      if (referenced) continue;
      window_->Add(kind, id);
      Status s = snapshot::ReadObjectLinks(store_, kind, id, &links);
      if (!s.ok()) continue;  // already gone: undelete will say so
      stack.insert(stack.end(), links.children.begin(), links.children.end());
    }
    return Status::OK();
  }

  // A forget or prune that ran since the run began made new `d` records:
  // their objects are just now unreferenced. Called under the commit lock.
  Status NewlyDeleted() {
    auto it = store_->kv().NewIterator(snapshot::DeletedPrefix(""));
    for (; it->Valid(); it->Next()) {
      std::string key(it->key());
      if (!seen_deleted_.insert(key).second) continue;
      auto d = snapshot::DecodeDeletedSnapshot(it->value());
      if (!d.ok()) continue;
      ++r_.undeletable;
      KEEPFS_RETURN_IF_ERROR(KeepForUndelete(d->record.root));
    }
    return it->status();
  }

  Status Candidates(char kind) {
    auto it = store_->kv().NewIterator(snapshot::CandidateKey(std::string(1, kind)));
    std::vector<ObjectId> batch;
    for (; it->Valid(); it->Next()) {
      auto id = ObjectId::FromBytes(it->key().substr(2));
      if (!id.ok()) {
        r_.problems.push_back("a candidate key is damaged; left in place");
        continue;
      }
      batch.push_back(*id);
      if (batch.size() == kBatch) {
        KEEPFS_RETURN_IF_ERROR(Decide(kind, batch));
        batch.clear();
        if (Cancelled(opt_)) return Status::OK();
      }
    }
    KEEPFS_RETURN_IF_ERROR(it->status());
    return Decide(kind, batch);
  }

  // One batch of candidates of one kind: decided and written under the
  // commit lock (counts cannot change meanwhile) and the guard's exclusive
  // side (no lookup can be between "present" and adding its hold).
  Status Decide(char kind, const std::vector<ObjectId>& ids) {
    if (ids.empty()) return Status::OK();
    std::lock_guard<std::mutex> commit(store_->commit_mu());
    KEEPFS_RETURN_IF_ERROR(NewlyDeleted());
    auto exclusive = store_->guard().Exclusive();
    WriteBatch batch;
    std::vector<ObjectId> dead_chunks;
    uint64_t deleted = 0;
    for (const ObjectId& id : ids) {
      ++r_.candidates;
      if (window_->MayHold(kind, id)) {
        ++r_.kept_undelete;
        continue;
      }
      if (store_->guard().IsHeld(kind, id)) {
        ++r_.kept_in_flight;
        continue;
      }
      KEEPFS_ASSIGN_OR_RETURN(bool referenced,
                              store_->kv().Contains(snapshot::HolderKey(kind, id)));
      batch.Delete(snapshot::CandidateKey(kind + std::string(id.AsBytes())));
      if (referenced) {
        ++r_.referenced;
      } else if (kind == 'c') {
        dead_chunks.push_back(id);  // with their packs' counters, below
      } else {
        const std::string key = kind == 't' ? snapshot::TreeKey(id) : snapshot::ContentKey(id);
        KEEPFS_ASSIGN_OR_RETURN(bool present, store_->kv().Contains(key));
        if (!present) continue;
        batch.Delete(key);
        ++(kind == 't' ? r_.trees : r_.contents);
        ++deleted;
      }
    }
    KEEPFS_ASSIGN_OR_RETURN(auto dead, store_->chunks().DeleteChunks(dead_chunks, &batch));
    for (const auto& [pack, d] : dead) {
      r_.chunks += d.chunks;
      r_.chunk_bytes += d.bytes;
      deleted += d.chunks;
      if (opt_.dry_run) {
        projected_dead_[pack].bytes += d.bytes;
        projected_dead_[pack].chunks += d.chunks;
      }
    }
    Progress("candidates", r_.candidates, 0);
    if (opt_.dry_run || batch.Count() == 0) return Status::OK();
    // Files-cache entries stamped with an older generation are checked
    // before they are trusted again (snapshot/ingest.cc).
    if (deleted > 0) KEEPFS_RETURN_IF_ERROR(BumpGeneration(&batch));
    KEEPFS_RETURN_IF_ERROR(store_->kv().Write(batch, /*sync=*/true));
    store_->guard().NoteDeletions();
    return Status::OK();
  }

  Status BumpGeneration(WriteBatch* batch) {
    std::string g;
    uint64_t generation = 0;
    KEEPFS_ASSIGN_OR_RETURN(bool found, store_->kv().Get(snapshot::kContentGenerationKey, &g));
    if (found) {
      KEEPFS_ASSIGN_OR_RETURN(generation, snapshot::DecodeContentGeneration(g));
    }
    std::string v;
    Encoder(&v).PutVarint(generation + 1);
    batch->Put(snapshot::kContentGenerationKey, v);
    return Status::OK();
  }

  Status Packs() {
    KEEPFS_ASSIGN_OR_RETURN(auto packs, store_->chunks().ListPacks());
    std::vector<uint64_t> condemn;
    std::vector<std::pair<uint64_t, PackInfo>> rest;
    for (auto& [id, info] : packs) {
      ++r_.packs_before;
      r_.bytes_before += info.size;
      if (auto it = projected_dead_.find(id); it != projected_dead_.end()) {
        info.dead_bytes += it->second.bytes;
        info.dead_chunks = std::min(info.chunk_count, info.dead_chunks + it->second.chunks);
      }
      if (info.nothing_live()) {
        condemn.push_back(id);
        r_.bytes_freed += info.size;
      } else {
        rest.emplace_back(id, info);
      }
    }
    Progress("packs", 0, condemn.size());
    if (!opt_.dry_run && !condemn.empty()) {
      KEEPFS_RETURN_IF_ERROR(store_->chunks().Condemn(condemn).status());
    }
    r_.packs_condemned = condemn.size();

    if (auto free_bytes = store_->packs().FreeBytes(); free_bytes.ok()) {
      r_.delete_only = *free_bytes < opt_.config.min_free_bytes;
    }
    std::vector<RepackGroup> groups;
    if (!r_.delete_only && opt_.config.max_repack_bytes > 0) groups = ChooseRepacks(rest);
    uint64_t done = 0;
    for (const RepackGroup& group : groups) {
      if (Cancelled(opt_)) break;
      Progress("packs", ++done, groups.size());
      if (opt_.dry_run) {
        r_.packs_repacked += group.ids.size();
        r_.bytes_moved += group.live;
        r_.bytes_freed += group.size - std::min(group.size, group.live);
        repacked_.insert(group.ids.begin(), group.ids.end());
        continue;
      }
      auto rr = store_->chunks().Repack(group.ids, opt_.throttle);
      if (!rr.ok() && rr.status().code() == StatusCode::kNoSpace) {
        // A full disk fails every copy alike: stop here (what is done so far
        // is committed) and say what to do, rather than report each pack.
        // (The command line adds the advice every full disk gets.)
        return rr.status().WithContext("gc stopped repacking");
      }
      if (!rr.ok()) {
        // A damaged or unreadable pack is left for check and repair; the rest go on.
        r_.problems.push_back(rr.status().message());
        spdlog::warn("gc: {}", rr.status().message());
        continue;
      }
      r_.packs_repacked += rr->packs_removed;
      r_.packs_written += rr->packs_written;
      r_.bytes_moved += rr->bytes_moved;
      r_.bytes_freed += rr->bytes_removed - std::min(rr->bytes_removed, rr->bytes_written);
    }
    return Tally(packs);
  }

  // Packs repacked together: about one pack's worth of live data.
  struct RepackGroup {
    std::vector<uint64_t> ids;
    uint64_t size = 0;  // of the pack files
    uint64_t live = 0;  // live blob bytes
  };

  // Which packs to repack, in groups, the deadest first, within the byte budget.
  std::vector<RepackGroup> ChooseRepacks(const std::vector<std::pair<uint64_t, PackInfo>>& packs) {
    const GcConfig& c = opt_.config;
    uint64_t blob = 0, dead = 0;
    for (const auto& [id, info] : packs) {
      blob += info.blob_bytes();
      dead += std::min(info.dead_bytes, info.blob_bytes());
    }
    const bool wasteful = blob > 0 && dead * 100 > blob * c.waste_percent;
    struct Pick {
      uint64_t id;
      double dead_ratio;
      const PackInfo* info;
    };
    std::vector<Pick> picks, small;
    for (const auto& [id, info] : packs) {
      uint64_t b = info.blob_bytes();
      double ratio = b ? static_cast<double>(std::min(info.dead_bytes, b)) / b : 0;
      if (ratio * 100 >= c.repack_dead_percent ||
          (wasteful && ratio * 100 >= c.repack_low_percent)) {
        picks.push_back({id, ratio, &info});
      } else if (info.live_bytes() < c.small_pack_bytes) {
        small.push_back({id, ratio, &info});
      }
    }
    std::sort(picks.begin(), picks.end(),
              [](const Pick& a, const Pick& b) { return a.dead_ratio > b.dead_ratio; });
    // Small packs are merged only with each other or into a repack: one
    // small pack alone would be copied into another small pack.
    if (small.size() >= 2 || (!small.empty() && !picks.empty())) {
      picks.insert(picks.end(), small.begin(), small.end());
    }
    std::vector<RepackGroup> groups;
    uint64_t budget = c.max_repack_bytes;
    const uint64_t target = store_->chunks().pack_target_size();
    for (const Pick& p : picks) {
      const uint64_t live = p.info->live_bytes();
      if (live > budget) {
        r_.budget_exhausted = true;
        break;
      }
      budget -= live;
      if (groups.empty() || groups.back().live + live > target) groups.emplace_back();
      groups.back().ids.push_back(p.id);
      groups.back().size += p.info->size;
      groups.back().live += live;
    }
    return groups;
  }

  // The packs after the run (projected for a dry run).
  Status Tally(const std::vector<std::pair<uint64_t, PackInfo>>& projected) {
    if (opt_.dry_run) {
      for (const auto& [id, info] : projected) {
        if (info.nothing_live() || repacked_.count(id)) continue;
        ++r_.packs_after;
        r_.dead_bytes_left += std::min(info.dead_bytes, info.blob_bytes());
      }
      const uint64_t target = store_->chunks().pack_target_size();
      r_.packs_written = (r_.bytes_moved + target - 1) / target;
      r_.packs_after += r_.packs_written;
      r_.bytes_after = r_.bytes_before - std::min(r_.bytes_before, r_.bytes_freed);
      return Status::OK();
    }
    KEEPFS_ASSIGN_OR_RETURN(auto packs, store_->chunks().ListPacks());
    for (const auto& [id, info] : packs) {
      ++r_.packs_after;
      r_.bytes_after += info.size;
      r_.dead_bytes_left += std::min(info.dead_bytes, info.blob_bytes());
    }
    return Status::OK();
  }

  Store* store_;
  GcOptions opt_;
  GcResult r_;
  // Objects that only forgotten snapshots inside the undelete window have:
  // registered like a backup's hold, so the collector itself skips them.
  std::unique_ptr<ObjectGuard::Hold> window_;
  std::set<std::string> seen_deleted_;
  std::map<uint64_t, ChunkStore::DeadBlobs> projected_dead_;  // dry run: pack -> what dies
  std::set<uint64_t> repacked_;  // dry run: packs a real run would repack
};

}  // namespace

Result<GcResult> CollectGarbage(Store* store, const GcOptions& options) {
  return Collector(store, options).Run();
}

std::string GcText(const GcResult& r) {
  const char* would = r.dry_run ? "would " : "";
  std::string o;
  o += std::string(r.dry_run ? "dry run: nothing was changed\n" : "");
  o += "objects: " + std::to_string(r.candidates) + " candidates; " + would + "delete " +
       std::to_string(r.trees) + " trees, " + std::to_string(r.contents) + " contents, " +
       std::to_string(r.chunks) + " chunks (" + HumanBytes(r.chunk_bytes) + ")\n";
  if (r.referenced || r.kept_in_flight || r.kept_undelete) {
    o += "kept: " + std::to_string(r.referenced) + " referenced again, " +
         std::to_string(r.kept_in_flight) + " in use by a running backup or an open file, " +
         std::to_string(r.kept_undelete) + " for undelete\n";
  }
  o += "deleted snapshots: " + std::to_string(r.expired_deleted) + " past the undelete window" +
       (r.dry_run ? " would be dropped" : " dropped") + ", " + std::to_string(r.undeletable) +
       " still undeletable\n";
  o += "packs: " + std::string(would) + "remove " + std::to_string(r.packs_condemned) +
       " dead, " + would + "repack " + std::to_string(r.packs_repacked) + " into " +
       std::to_string(r.packs_written) + " (" + HumanBytes(r.bytes_moved) + " copied)\n";
  o += "store: " + std::to_string(r.packs_before) + " packs, " + HumanBytes(r.bytes_before) +
       " -> " + std::to_string(r.packs_after) + " packs, " + HumanBytes(r.bytes_after) + "; " +
       (r.dry_run ? "would free " : "freed ") + HumanBytes(r.bytes_freed) + "; " +
       HumanBytes(r.dead_bytes_left) + " dead left in packs\n";
  if (r.delete_only) {
    o += "note: the disk is nearly full (below gc.min_free): only dead packs were removed; free "
         "space and run gc again to repack\n";
  }
  if (r.budget_exhausted) {
    o += "note: more packs are worth repacking than gc.max_repack allows in one run; the next "
         "run continues\n";
  }
  if (r.cancelled) o += "note: stopped early; run gc again to continue\n";
  for (const auto& p : r.problems) o += "problem: " + p + "\n";
  return o;
}

std::string GcJson(const GcResult& r) {
  auto n = [](uint64_t v) { return std::to_string(v); };
  auto b = [](bool v) { return std::string(v ? "true" : "false"); };
  std::string problems;
  for (const auto& p : r.problems) problems += (problems.empty() ? "" : ",") + JsonString(p);
  return "{\"dry_run\":" + b(r.dry_run) + ",\"cancelled\":" + b(r.cancelled) +
         ",\"deleted_snapshots\":{\"expired\":" + n(r.expired_deleted) +
         ",\"undeletable\":" + n(r.undeletable) + "}" +
         ",\"objects\":{\"candidates\":" + n(r.candidates) + ",\"referenced\":" +
         n(r.referenced) + ",\"kept_in_flight\":" + n(r.kept_in_flight) +
         ",\"kept_undelete\":" + n(r.kept_undelete) + ",\"trees\":" + n(r.trees) +
         ",\"contents\":" + n(r.contents) + ",\"chunks\":" + n(r.chunks) +
         ",\"chunk_bytes\":" + n(r.chunk_bytes) + "}" +
         ",\"packs\":{\"condemned\":" + n(r.packs_condemned) + ",\"repacked\":" +
         n(r.packs_repacked) + ",\"written\":" + n(r.packs_written) + ",\"bytes_moved\":" +
         n(r.bytes_moved) + ",\"bytes_freed\":" + n(r.bytes_freed) + ",\"before\":" +
         n(r.packs_before) + ",\"bytes_before\":" + n(r.bytes_before) + ",\"after\":" +
         n(r.packs_after) + ",\"bytes_after\":" + n(r.bytes_after) +
         ",\"dead_bytes_left\":" + n(r.dead_bytes_left) + "}" +
         ",\"delete_only\":" + b(r.delete_only) + ",\"budget_exhausted\":" +
         b(r.budget_exhausted) + ",\"problems\":[" + problems + "]}";
}

}  // namespace keepfs::gc
