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

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "store/compress.h"
#include "store/kv_store.h"
#include "store/object_id.h"
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

struct PackInfo {
  uint64_t size = 0;
  uint32_t chunk_count = 0;
  int64_t created_unix = 0;
};

struct ChunkStoreOptions {
  std::string store_dir;
  bool writable = false;
  uint64_t pack_target_size = 32ull << 20;
};

struct ChunkPutResult {
  bool is_new = false;        // false: an identical chunk was already stored
  uint64_t stored_bytes = 0;  // bytes written to the pack (0 when not new)
};

class ChunkStore {
 public:
  // Opens over kv (not owned; must outlive the ChunkStore). A writable open
  // removes leftover temporary packs and adopts sealed packs that are not indexed.
  static Result<std::unique_ptr<ChunkStore>> Open(KvStore* kv, const ChunkStoreOptions& options);
  ~ChunkStore();

  // How much a read verifies. Either way a damaged chunk is Corruption,
  // never wrong bytes (store/blob_check.h); kRehash also recomputes the
  // SHA-256 of the plaintext, as `keepfs check --verify-data` does.
  enum class Verify { kChecksum, kRehash };
  // Fills *out with the chunk's verified plaintext. NotFound if not indexed.
  Status Read(const ObjectId& id, std::string* out, Verify verify = Verify::kChecksum) const;
  Result<std::optional<ChunkLoc>> Lookup(const ObjectId& id) const;
  // True if the chunk is indexed or waiting in this process's open pack.
  Result<bool> Contains(const ObjectId& id) const;
  // Stores raw under id (= SHA-256 of raw, computed by the caller) unless present.
  Result<ChunkPutResult> Put(const ObjectId& id, std::string_view raw, Compressor& compressor);
  // Seals the open pack and indexes its chunks. After OK every chunk given to
  // Put before the call is durable and indexed.
  Status Flush();

  uint64_t adopted_packs() const;
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
