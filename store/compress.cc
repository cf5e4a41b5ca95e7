#include "store/compress.h"

#include <zstd.h>

#include <cstdlib>

namespace keepfs {

Compressor::Compressor(int level) : level_(level), cctx_(ZSTD_createCCtx()) {
  if (!cctx_) std::abort();
}

Compressor::~Compressor() { ZSTD_freeCCtx(static_cast<ZSTD_CCtx*>(cctx_)); }

Codec Compressor::Compress(std::string_view raw, std::string* out) {
  size_t bound = ZSTD_compressBound(raw.size());
  out->resize(bound);
  size_t n = ZSTD_compressCCtx(static_cast<ZSTD_CCtx*>(cctx_), out->data(), bound, raw.data(),
                               raw.size(), level_);
  // Keep zstd only if it saves a meaningful amount; decompression is not free.
  if (!ZSTD_isError(n) && n + raw.size() / 64 < raw.size()) {
    out->resize(n);
    return Codec::kZstd;
  }
  out->assign(raw);
  return Codec::kRaw;
}

Decompressor::Decompressor() : dctx_(ZSTD_createDCtx()) {
  if (!dctx_) std::abort();
}

Decompressor::~Decompressor() { ZSTD_freeDCtx(static_cast<ZSTD_DCtx*>(dctx_)); }

Status Decompressor::Decompress(Codec codec, std::string_view stored, size_t raw_len,
                                std::string* out) {
  switch (codec) {
    case Codec::kRaw:
      if (stored.size() != raw_len) return Status::Corruption("raw blob has the wrong length");
      out->assign(stored);
      return Status::OK();
    case Codec::kZstd: {
      // raw_len comes from an index or a record, so it is checked before it
      // sizes an allocation: against the frame's own claim, and against what
      // any blob may hold (a damaged length would otherwise ask for 4 GiB).
      unsigned long long claimed = ZSTD_getFrameContentSize(stored.data(), stored.size());
      if (claimed == ZSTD_CONTENTSIZE_ERROR) return Status::Corruption("zstd blob has a bad header");
      if (raw_len > kMaxBlobRawSize ||
          (claimed != ZSTD_CONTENTSIZE_UNKNOWN && claimed != raw_len)) {
        return Status::Corruption("zstd blob has the wrong length");
      }
      out->resize(raw_len);
      size_t n = ZSTD_decompressDCtx(static_cast<ZSTD_DCtx*>(dctx_), out->data(), raw_len,
                                     stored.data(), stored.size());
      if (ZSTD_isError(n)) {
        return Status::Corruption(std::string("zstd: ") + ZSTD_getErrorName(n));
      }
      if (n != raw_len) return Status::Corruption("zstd blob has the wrong length");
      return Status::OK();
    }
  }
  return Status::Corruption("unknown codec " + std::to_string(static_cast<int>(codec)));
}

}  // namespace keepfs
