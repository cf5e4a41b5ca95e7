// ChunkStore: chunks by SHA-256, deduplicated, compressed into packs.
//
// Write path: Put() hashes nothing (the caller already did), skips chunks
// that are indexed or pending, compresses the rest and appends them to the
// open pack. A pack is sealed (fsynced and renamed into packs/) when it
// reaches the target size or on Flush(); only then are its chunks indexed in
// the metadata database. So an index entry never points at bytes that are not
// durable, and a sealed pack whose index entries were lost in a crash is
// re-adopted the next time a writer opens the store.
//
// Read path: Read() looks the chunk up, preads it, decompresses it and checks
// its SHA-256. Bad bytes are Corruption naming the pack and offset, never
// wrong data.
//
// Thread safety: all methods may be called from many threads at once.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store/compress.h"
#include "store/kv_store.h"
#include "store/object_guard.h"
#include "store/object_id.h"
#include "store/pack_store.h"
#include "store/status.h"

namespace keepfs {

struct ChunkLoc {
  uint64_t pack_id = 0;
  uint64_t offset = 0;
  uint32_t stored_len = 0;
  uint32_t raw_len = 0;
  Codec codec = Codec::kRaw;
  uint64_t check = 0;  // BlobCheck(id, stored bytes): store/blob_check.h
};

// The `p` record of a sealed pack. dead_bytes and dead_chunks count the
// pack's blobs that no index entry points at any more (deleted by the
// garbage collector, or moved by a repack): exact, so that choosing what to
// repack needs no mark pass (docs/gc.md). A condemned pack holds nothing
// live; its file is removed once no read can be using it.
struct PackInfo {
  uint64_t size = 0;
  uint32_t chunk_count = 0;
  int64_t created_unix = 0;
  uint64_t dead_bytes = 0;   // stored bytes of dead blobs
  uint32_t dead_chunks = 0;
  bool condemned = false;

  // Bytes of blobs (the file less header, trailer and footer).
  uint64_t blob_bytes() const;
  // Nothing in it is live: it is (to be) condemned and removed.
  bool nothing_live() const { return condemned || dead_chunks == chunk_count; }
  uint64_t live_bytes() const { return blob_bytes() - std::min(dead_bytes, blob_bytes()); }
};

struct ChunkStoreOptions {
  std::string store_dir;
  PackStore* packs = nullptr;  // where the packs live; not owned, must outlive the ChunkStore
  bool writable = false;
  uint64_t pack_target_size = 32ull << 20;
  // New packs get ids from here up (or above the highest known id): a store
  // on RADOS starts each owner's ids at its epoch << 40 (store/shard.h).
  uint64_t first_pack_id = 1;
};

struct ChunkPutResult {
  bool is_new = false;        // false: an identical chunk was already stored
  uint64_t stored_bytes = 0;  // bytes written to the pack (0 when not new)
};

class ChunkStore {
 public:
  // Opens over kv and guard (not owned; must outlive the ChunkStore). A
  // writable open removes leftover temporary packs, finishes removing
  // condemned packs and adopts sealed packs that are not indexed.
  static Result<std::unique_ptr<ChunkStore>> Open(KvStore* kv, ObjectGuard* guard,
                                                  const ChunkStoreOptions& options);
  ~ChunkStore();

  // How much a read verifies. Either way a damaged chunk is Corruption,
  // never wrong bytes (store/blob_check.h); kRehash also recomputes the
  // SHA-256 of the plaintext, as `keepfs check --verify-data` does.
  enum class Verify { kChecksum, kRehash };
  // Held while pack files are removed (by the collector, or at open). A
  // copy of the store holds it across its metadata checkpoint and the hard
  // links of the packs that checkpoint indexes, so none goes in between.
  std::mutex& retire_mu();

  // Fills *out with the chunk's verified plaintext. NotFound if not indexed.
  Status Read(const ObjectId& id, std::string* out, Verify verify = Verify::kChecksum) const;
  Result<std::optional<ChunkLoc>> Lookup(const ObjectId& id) const;
  // True if the chunk is indexed or waiting in this process's open pack.
  Result<bool> Contains(const ObjectId& id) const;
  // Stores raw under id (= SHA-256 of raw, computed by the caller) unless
  // present. With a hold, the chunk is added to it whether it was present
  // or is new (ObjectGuard: the collector leaves it alone until the hold ends).
  Result<ChunkPutResult> Put(const ObjectId& id, std::string_view raw, Compressor& compressor,
                             ObjectGuard::Hold* hold = nullptr);
  // Seals the open pack and indexes its chunks. After OK every chunk given to
  // Put before the call is durable and indexed.
  Status Flush();

  uint64_t adopted_packs() const;
  // Where the packs live (ChunkStoreOptions::packs).
  const PackStore& packs() const;
  uint64_t pack_target_size() const;

  // --- For the garbage collector (store/chunk_store_gc.cc; docs/gc.md). ---
  // Every pack record, by id.
  Result<std::vector<std::pair<uint64_t, PackInfo>>> ListPacks() const;
  Result<std::optional<PackInfo>> GetPack(uint64_t pack_id) const;
  struct RepackResult {
    uint64_t packs_written = 0;
    uint64_t chunks_moved = 0;
    uint64_t bytes_moved = 0;   // stored bytes copied
    uint64_t bytes_written = 0;  // size of the pack files written
    uint64_t packs_removed = 0;
    uint64_t bytes_removed = 0;  // size of the pack files removed
  };
  // Copies the live blobs of packs (those the index still points at) into
  // new packs, byte for byte, then in one synced batch points the index at
  // the copies and condemns the old packs, then removes them.
  // Needs the collector's exclusive right to move index entries: one call at a time.
  // before_read, when set, is called with each blob's size before it is
  // read (a background I/O throttle may wait there).
  Result<RepackResult> Repack(const std::vector<uint64_t>& pack_ids,
                              const std::function<void(uint64_t bytes)>& before_read = nullptr);
  // Condemns packs without live blobs (synced) and removes them.
  Result<RepackResult> Condemn(const std::vector<uint64_t>& pack_ids);
  // Stored bytes and blobs that became dead in one pack.
  struct DeadBlobs {
    uint64_t bytes = 0;
    uint32_t chunks = 0;
  };
  // Adds to batch the deletion of the index entries of those chunks that are
  // indexed, and the matching rise of their packs' dead counters (which must
  // stay exact: PackInfo). Returns what became dead, by pack. The batch is
  // the caller's to write, or to drop for a dry run.
  Result<std::map<uint64_t, DeadBlobs>> DeleteChunks(const std::vector<ObjectId>& ids,
                                                     WriteBatch* batch) const;
  static std::string EncodePackInfo(const PackInfo& p);
  // --- For repair (snapshot/repair.h; docs/integrity.md, "Repair"). ---
  struct Replacement {
    ObjectId id;
    std::string raw;              // the chunk's plaintext; must hash to id (checked)
    // Its index value when repair looked (nullopt: not indexed); may be one
    // that does not decode.
    std::optional<std::string> was;
  };
  struct ReplaceResult {
    uint64_t packs_written = 0;
    uint64_t bytes_written = 0;   // size of the pack files written
    uint64_t chunks_replaced = 0;
    uint64_t chunks_skipped = 0;  // stored again by someone else meanwhile
  };
  // Writes good copies of chunks into new packs (sealed and fsynced), then in
  // one synced batch points the index at each copy whose entry is still
  // `was`, counting the blob it leaves behind dead in its old pack. A chunk
  // whose entry changed meanwhile, or that waits in a writer's open pack,
  // keeps it, and its copy counts dead. A kill before the batch leaves the
  // new packs unindexed; the next writable open adopts them (entries that
  // exist win, as for any adopted pack), and repair runs again. Needs the
  // collector's exclusive right to move index entries (Store::gc_mu).
  Result<ReplaceResult> ReplaceChunks(const std::vector<Replacement>& chunks,
                                      int compression_level);

  // OK, or the first write error: after one, Put and Flush keep failing.
  Status write_status() const;
  static std::string ChunkKey(const ObjectId& id);
  static std::string PackKey(uint64_t pack_id);
  // The pack id of a PackKey; nullopt for a key of another shape.
  static std::optional<uint64_t> PackIdFromKey(std::string_view key);
  static Result<ChunkLoc> DecodeLoc(std::string_view value);
  static Result<PackInfo> DecodePackInfo(std::string_view value);

 private:
  struct Rep;
  explicit ChunkStore(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

}  // namespace keepfs
