// Content-defined chunking (FastCDC with normalized chunking, level 1).
//
// A cut point depends only on the bytes around it, so inserting bytes in the
// middle of a file changes the chunks near the insertion and no others. The
// gear table and masks are part of the on-disk format: changing them changes
// every chunk id and so breaks dedup against existing data.
//
// Thread safety: a Chunker is immutable after construction and may be shared.
#pragma once

#include <cstddef>
#include <cstdint>

#include "store/status.h"

namespace keepfs {

struct ChunkerParams {
  uint32_t min_size = 256 * 1024;
  uint32_t avg_size = 1024 * 1024;  // must be a power of two
  uint32_t max_size = 4 * 1024 * 1024;
};

// OK when 64 <= min < avg < max <= 64 MiB and avg is a power of two.
Status ValidateChunkerParams(const ChunkerParams& p);

class Chunker {
 public:
  // Precondition: ValidateChunkerParams(p).ok().
  explicit Chunker(const ChunkerParams& p);

  // Returns the length of the chunk that starts at data[0]: a cut point in
  // (0, len]. When len < max_size and the caller is not at end of input, a
  // returned length == len is not a real cut: refill and call again.
  size_t FindCut(const uint8_t* data, size_t len) const;

  const ChunkerParams& params() const { return params_; }

 private:
  ChunkerParams params_;
  uint64_t mask_small_;  // stricter mask, used below avg_size
  uint64_t mask_large_;  // looser mask, used from avg_size on
};

}  // namespace keepfs
