// What repair does to packs: store good copies of damaged or missing chunks
// in new packs and move the index onto them (docs/integrity.md, "Repair").
#include <ctime>

#include "store/chunk_store.h"
#include "store/chunk_store_rep.h"

namespace keepfs {

Result<ChunkStore::ReplaceResult> ChunkStore::ReplaceChunks(const std::vector<Replacement>& chunks,
                                                            int compression_level) {
  if (!rep_->options.writable) return Status::Internal("ReplaceChunks on a read-only chunk store");
  ReplaceResult r;
  if (chunks.empty()) return r;
  Compressor compressor(compression_level);
  struct Written {
    const Replacement* chunk;
    uint64_t pack_id;
    PackEntry entry;
  };
  std::vector<Written> written;
  Rep::Series copies(rep_.get());
  std::string stored;
  for (const Replacement& c : chunks) {
    // The caller's bytes came from a mirror or a source tree: only the hash
    // makes them this chunk.
    if (Sha256::Of(c.raw) != c.id) {
      return Status::Internal("replacement for chunk " + c.id.ShortHex() + " does not hash to it");
    }
    Codec codec = compressor.Compress(c.raw, &stored);
    KEEPFS_ASSIGN_OR_RETURN(auto at, copies.Add(c.id, codec, stored, static_cast<uint32_t>(c.raw.size())));
    written.push_back({&c, at.first, at.second});
  }
  KEEPFS_RETURN_IF_ERROR(copies.Finish());

  // The copies are durable. Under write_mu, so that no writer indexes or
  // queues one of these chunks between our look and our batch, and Put
  // re-checks the index afterwards (index_epoch).
  std::lock_guard<std::mutex> lock(rep_->write_mu);
  WriteBatch batch;
  std::map<uint64_t, PackInfo> packs;  // new packs' records, then old packs' counters
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  for (const auto& [pack, info] : copies.Records(now)) {
    packs[pack] = info;
    ++r.packs_written;
    r.bytes_written += info.size;
  }
  std::map<uint64_t, DeadBlobs> dead_old;
  std::string now_value;
  for (const Written& wr : written) {
    KEEPFS_ASSIGN_OR_RETURN(bool indexed, rep_->kv->Get(ChunkKey(wr.chunk->id), &now_value));
    const bool unchanged = indexed ? wr.chunk->was && *wr.chunk->was == now_value : !wr.chunk->was;
    if (rep_->pending.count(wr.chunk->id) || !unchanged) {
      PackInfo& mine = packs[wr.pack_id];
      mine.dead_bytes += wr.entry.stored_len;
      ++mine.dead_chunks;
      ++r.chunks_skipped;
      continue;
    }
    batch.Put(ChunkKey(wr.chunk->id), EncodeLocation(wr.entry, wr.pack_id));
    ++r.chunks_replaced;
    if (!indexed) continue;
    if (auto old = DecodeLoc(now_value); old.ok()) {  // an entry that does not decode names no blob
      DeadBlobs& d = dead_old[old->pack_id];
      d.bytes += old->stored_len;
      ++d.chunks;
    }
  }
  for (const auto& [pack, d] : dead_old) {
    KEEPFS_ASSIGN_OR_RETURN(std::optional<PackInfo> info, GetPack(pack));
    if (!info) continue;  // an entry into a pack without a record: nothing to count
    info->dead_bytes += d.bytes;
    info->dead_chunks = std::min(info->chunk_count, info->dead_chunks + d.chunks);
    packs[pack] = *info;
  }
  for (const auto& [pack, info] : packs) batch.Put(PackKey(pack), EncodePackInfo(info));
  KEEPFS_RETURN_IF_ERROR(rep_->kv->Write(batch, /*sync=*/true));
  ++rep_->index_epoch;
  return r;
}

}  // namespace keepfs
