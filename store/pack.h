// Pack files: append-only containers of compressed chunks, immutable once
// sealed. Layout (all integers little-endian; see docs/format.md):
//
//   header   "KEEPPACK" u32 version=2 u32 reserved=0                (16 bytes)
//   blobs    stored chunk bytes, back to back
//   trailer  count x { id[32] u64 offset u32 stored_len u32 raw_len u8 codec
//                      u64 check }   (check: store/blob_check.h)
//   footer   u64 trailer_offset u32 count u32 reserved sha256(trailer)[32]
//            "KEEPEND1"                                              (56 bytes)
//
// The trailer repeats the index so a pack can be verified or re-adopted
// without the metadata database.
//
// Thread safety: PackWriter is single-threaded (ChunkStore serialises it);
// ReadPackIndex is a free function.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "store/compress.h"
#include "store/object_id.h"
#include "store/pack_store.h"
#include "store/status.h"

namespace keepfs {

inline constexpr char kPackMagic[8] = {'K', 'E', 'E', 'P', 'P', 'A', 'C', 'K'};
inline constexpr char kPackEndMagic[8] = {'K', 'E', 'E', 'P', 'E', 'N', 'D', '1'};
inline constexpr uint32_t kPackVersion = 2;
inline constexpr size_t kPackHeaderSize = 16;
inline constexpr size_t kPackTrailerEntrySize = 32 + 8 + 4 + 4 + 1 + 8;
inline constexpr size_t kPackFooterSize = 8 + 4 + 4 + 32 + 8;

struct PackEntry {
  ObjectId id;
  uint64_t offset = 0;
  uint32_t stored_len = 0;
  uint32_t raw_len = 0;
  Codec codec = Codec::kRaw;
  uint64_t check = 0;  // BlobCheck(id, stored bytes)
};

// Appends e's trailer entry (kPackTrailerEntrySize bytes, docs/format.md).
void AppendPackTrailerEntry(const PackEntry& e, std::string* out);

// "packs/2a/000000000000012a.pack" relative to the store directory (the
// local pack store's layout, and that of a store-backup copy).
std::string PackRelPath(uint64_t pack_id);
// Ids of the sealed pack files under store_dir/packs/, in no particular
// order: the inverse of PackRelPath over what is on disk.
std::vector<uint64_t> ListPackFiles(const std::string& store_dir);

// Writes one pack through a PackUpload (store/pack_store.h) and seals it.
class PackWriter {
 public:
  // Writes the header; the pack becomes visible only on Seal.
  static Result<std::unique_ptr<PackWriter>> Create(uint64_t pack_id,
                                                    std::unique_ptr<PackUpload> upload);
  ~PackWriter();  // an unsealed pack is discarded

  // Appends one blob and returns its entry (with its BlobCheck).
  Result<PackEntry> Add(const ObjectId& id, Codec codec, std::string_view stored,
                        uint32_t raw_len);
  // Writes trailer and footer and seals the upload. After OK the pack is
  // durable and visible.
  Status Seal();

  uint64_t pack_id() const { return pack_id_; }
  uint64_t size() const { return size_; }
  const std::vector<PackEntry>& entries() const { return entries_; }

 private:
  PackWriter(uint64_t pack_id, std::unique_ptr<PackUpload> upload);
  uint64_t pack_id_;
  std::unique_ptr<PackUpload> upload_;
  uint64_t size_ = 0;
  std::vector<PackEntry> entries_;
};

// Reads and verifies the trailer of a sealed pack of file_size bytes.
// Corruption on a bad magic, checksum or an entry that points outside the
// blob area; the error names the pack.
Result<std::vector<PackEntry>> ReadPackIndex(const PackStore& packs, uint64_t pack_id,
                                             uint64_t file_size);
// The same over a whole pack held in memory (tests and the fuzzer): the same
// checks, and an error names what.
Result<std::vector<PackEntry>> ParsePackIndex(std::string_view pack, const std::string& what);

}  // namespace keepfs
