// What the garbage collector does to packs: list them, copy the live blobs
// of mostly-dead packs into new ones (repack), condemn and remove packs
// without live blobs. docs/gc.md has the protocol and why each step is safe.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <thread>

#include "store/blob_check.h"
#include "store/chunk_store.h"
#include "store/chunk_store_rep.h"

namespace keepfs {

void ReadEpochs::Synchronize() {
  std::lock_guard<std::mutex> lock(flip_mu_);
  int old = epoch_.load();
  epoch_.store(1 - old);
  // Reads are short (one index lookup and one pread), so polling is cheap.
  while (readers_[old].load() != 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
}

Result<std::vector<std::pair<uint64_t, PackInfo>>> ChunkStore::ListPacks() const {
  std::vector<std::pair<uint64_t, PackInfo>> out;
  auto it = rep_->kv->NewIterator("p");
  for (; it->Valid(); it->Next()) {
    auto id = PackIdFromKey(it->key());
    if (!id) continue;
    auto info = DecodePackInfo(it->value());
    if (!info.ok()) return info.status().WithContext("pack " + packs().Describe(*id));
    out.emplace_back(*id, *info);
  }
  KEEPFS_RETURN_IF_ERROR(it->status());
  return out;
}

Result<std::optional<PackInfo>> ChunkStore::GetPack(uint64_t pack_id) const {
  std::string v;
  KEEPFS_ASSIGN_OR_RETURN(bool found, rep_->kv->Get(PackKey(pack_id), &v));
  if (!found) return std::optional<PackInfo>();
  auto info = DecodePackInfo(v);
  if (!info.ok()) return info.status().WithContext("pack " + packs().Describe(pack_id));
  return std::optional<PackInfo>(*info);
}

Status ChunkStore::Rep::RetirePacks(const std::vector<std::pair<uint64_t, PackInfo>>& packs,
                                    RepackResult* r) {
  if (packs.empty()) return Status::OK();
  // Every read that may have found these packs in the index has finished
  // after this; later reads cannot find them (the index moved on before).
  epochs.Synchronize();
  std::lock_guard<std::mutex> retiring(retire_mu);
  WriteBatch batch;
  for (const auto& [id, info] : packs) {
    KEEPFS_RETURN_IF_ERROR(options.packs->Remove(id));
    // Only after the file is gone: a record that outlived a crash is
    // finished by the next open, and a file without a record would be adopted.
    batch.Delete(PackKey(id));
    ++r->packs_removed;
    r->bytes_removed += info.size;
  }
  return kv->Write(batch, /*sync=*/false);
}

Result<std::pair<uint64_t, PackEntry>> ChunkStore::Rep::Series::Add(const ObjectId& id, Codec codec,
                                                       std::string_view stored, uint32_t raw_len) {
  if (!open_) {
    std::lock_guard<std::mutex> lock(rep_->write_mu);
    KEEPFS_ASSIGN_OR_RETURN(open_, rep_->NewWriter());
  }
  KEEPFS_ASSIGN_OR_RETURN(PackEntry e, open_->Add(id, codec, stored, raw_len));
  const uint64_t pack = open_->pack_id();
  if (open_->size() >= rep_->options.pack_target_size) KEEPFS_RETURN_IF_ERROR(Finish());
  return std::make_pair(pack, e);
}

Status ChunkStore::Rep::Series::Finish() {
  if (!open_) return Status::OK();
  KEEPFS_RETURN_IF_ERROR(open_->Seal());
  sealed_.push_back(std::move(open_));
  return Status::OK();
}

std::vector<std::pair<uint64_t, PackInfo>> ChunkStore::Rep::Series::Records(int64_t now) const {
  std::vector<std::pair<uint64_t, PackInfo>> out;
  for (const auto& pw : sealed_) {
    PackInfo info;
    info.size = pw->size();
    info.chunk_count = static_cast<uint32_t>(pw->entries().size());
    info.created_unix = now;
    out.emplace_back(pw->pack_id(), info);
  }
  return out;
}

Result<std::map<uint64_t, ChunkStore::DeadBlobs>> ChunkStore::DeleteChunks(
    const std::vector<ObjectId>& ids, WriteBatch* batch) const {
  std::map<uint64_t, DeadBlobs> dead;
  for (const ObjectId& id : ids) {
    KEEPFS_ASSIGN_OR_RETURN(std::optional<ChunkLoc> loc, Lookup(id));
    if (!loc) continue;
    batch->Delete(ChunkKey(id));
    DeadBlobs& d = dead[loc->pack_id];
    d.bytes += loc->stored_len;
    ++d.chunks;
  }
  for (const auto& [pack, d] : dead) {
    KEEPFS_ASSIGN_OR_RETURN(std::optional<PackInfo> info, GetPack(pack));
    if (!info) continue;  // an index entry into a pack without a record: check reports it
    info->dead_bytes += d.bytes;
    info->dead_chunks = std::min(info->chunk_count, info->dead_chunks + d.chunks);
    batch->Put(PackKey(pack), EncodePackInfo(*info));
  }
  return dead;
}

namespace {
// The records of packs, condemned (all blobs dead), added to batch. With
// must_be_dead, Internal if one still holds live blobs by its counters.
Result<std::vector<std::pair<uint64_t, PackInfo>>> CondemnRecords(
    const ChunkStore& chunks, const std::vector<uint64_t>& pack_ids, bool must_be_dead,
    WriteBatch* batch) {
  std::vector<std::pair<uint64_t, PackInfo>> out;
  for (uint64_t id : pack_ids) {
    KEEPFS_ASSIGN_OR_RETURN(std::optional<PackInfo> info, chunks.GetPack(id));
    if (!info) continue;
    if (must_be_dead && !info->nothing_live()) {
      return Status::Internal("pack " + chunks.packs().Describe(id) + " still holds live chunks");
    }
    info->condemned = true;
    info->dead_bytes = info->blob_bytes();
    info->dead_chunks = info->chunk_count;
    batch->Put(ChunkStore::PackKey(id), ChunkStore::EncodePackInfo(*info));
    out.emplace_back(id, *info);
  }
  return out;
}
}  // namespace

Result<ChunkStore::RepackResult> ChunkStore::Condemn(const std::vector<uint64_t>& pack_ids) {
  WriteBatch batch;
  KEEPFS_ASSIGN_OR_RETURN(auto condemned,
                          CondemnRecords(*this, pack_ids, /*must_be_dead=*/true, &batch));
  KEEPFS_RETURN_IF_ERROR(rep_->kv->Write(batch, /*sync=*/true));
  RepackResult r;
  KEEPFS_RETURN_IF_ERROR(rep_->RetirePacks(condemned, &r));
  return r;
}

Result<ChunkStore::RepackResult> ChunkStore::Repack(
    const std::vector<uint64_t>& pack_ids, const std::function<void(uint64_t bytes)>& before_read) {
  if (!rep_->options.writable) return Status::Internal("Repack on a read-only chunk store");
  RepackResult r;
  struct Moved {
    ObjectId id;
    uint64_t pack_id;
    PackEntry entry;
  };
  std::vector<Moved> moved;
  Rep::Series copies(rep_.get());
  std::string stored;
  for (uint64_t id : pack_ids) {
    PackStore& packs = *rep_->options.packs;
    KEEPFS_ASSIGN_OR_RETURN(std::optional<uint64_t> size, packs.Size(id));
    const std::string what = packs.Describe(id);
    if (!size) return Status::Corruption("pack " + what + " is missing");
    KEEPFS_ASSIGN_OR_RETURN(std::vector<PackEntry> entries, ReadPackIndex(packs, id, *size));
    for (const PackEntry& e : entries) {
      KEEPFS_ASSIGN_OR_RETURN(std::optional<ChunkLoc> loc, Lookup(e.id));
      if (!loc || loc->pack_id != id || loc->offset != e.offset) continue;  // dead
      stored.resize(e.stored_len);
      if (before_read) before_read(e.stored_len);
      std::string where = what + " offset " + std::to_string(e.offset);
      KEEPFS_RETURN_IF_ERROR(
          packs.Read(id, e.offset, stored.size(), stored.data()).WithContext(where));
      if (BlobCheck(e.id, stored) != loc->check) {
        // Never copy damaged bytes under a good name: the pack stays as it
        // is for check and repair to deal with.
        return Status::Corruption(where + ": chunk " + e.id.ShortHex() +
                                  " does not match its checksum; not repacking this pack");
      }
      KEEPFS_ASSIGN_OR_RETURN(auto at, copies.Add(e.id, e.codec, stored, e.raw_len));
      moved.push_back({e.id, at.first, at.second});
      r.bytes_moved += e.stored_len;
    }
  }
  KEEPFS_RETURN_IF_ERROR(copies.Finish());
  // The copies are durable; now one synced batch moves the index onto them
  // and condemns the old packs. A crash before it leaves the copies
  // unindexed, and the next open adopts them as wholly dead.
  WriteBatch batch;
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  for (const auto& [pack, info] : copies.Records(now)) {
    batch.Put(PackKey(pack), EncodePackInfo(info));
    ++r.packs_written;
    r.bytes_written += info.size;
  }
  for (const Moved& m : moved) batch.Put(ChunkKey(m.id), EncodeLocation(m.entry, m.pack_id));
  r.chunks_moved = moved.size();
  KEEPFS_ASSIGN_OR_RETURN(auto condemned,
                          CondemnRecords(*this, pack_ids, /*must_be_dead=*/false, &batch));
  KEEPFS_RETURN_IF_ERROR(rep_->kv->Write(batch, /*sync=*/true));
  KEEPFS_RETURN_IF_ERROR(rep_->RetirePacks(condemned, &r));
  return r;
}

}  // namespace keepfs
