// zstd compression of chunk and inline data. A blob is stored raw when zstd
// does not make it smaller, so incompressible data costs nothing extra.
//
// Thread safety: a Compressor or Decompressor holds a zstd context and must be
// used by one thread at a time; make one per worker.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "store/status.h"

namespace keepfs {

// Codec byte stored next to every blob. Values are part of the on-disk format.
enum class Codec : uint8_t { kRaw = 0, kZstd = 1 };

// The most raw bytes one blob holds: the largest chunk the chunker allows
// (max_size <= 64 MiB, store/chunker.cc); inline content is at most 1 MiB.
inline constexpr size_t kMaxBlobRawSize = 64u << 20;

class Compressor {
 public:
  explicit Compressor(int level);
  ~Compressor();
  Compressor(const Compressor&) = delete;
  Compressor& operator=(const Compressor&) = delete;

  // Sets *out to the stored form of raw and returns its codec: kZstd when
  // compression saved at least 1/64 of the size, otherwise kRaw with a copy.
  Codec Compress(std::string_view raw, std::string* out);

 private:
  int level_;
  void* cctx_;  // ZSTD_CCtx*
};

class Decompressor {
 public:
  Decompressor();
  ~Decompressor();
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;

  // Restores raw bytes into *out. Corruption unless the result is exactly
  // raw_len bytes long, or when the codec is unknown; a zstd blob whose frame
  // claims another length, or a raw_len above kMaxBlobRawSize, fails before
  // anything is allocated.
  Status Decompress(Codec codec, std::string_view stored, size_t raw_len, std::string* out);

 private:
  void* dctx_;  // ZSTD_DCtx*
};

}  // namespace keepfs
