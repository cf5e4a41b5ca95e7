#include "store/chunker.h"

#include <array>
#include <bit>
#include <string>

namespace keepfs {

namespace {

// The gear table: 256 pseudo-random 64-bit values from splitmix64 with a fixed
// seed. Part of the format (see docs/format.md).
constexpr std::array<uint64_t, 256> MakeGear() {
  std::array<uint64_t, 256> t{};
  uint64_t x = 0x6b656570667321ULL;  // "keepfs!"
  for (auto& v : t) {
    x += 0x9e3779b97f4a7c15ULL;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    v = z ^ (z >> 31);
  }
  return t;
}
constexpr std::array<uint64_t, 256> kGear = MakeGear();

// A mask of the top `bits` bits. With fp = (fp << 1) + gear[b], the high bits
// depend on the last 64 bytes while low bits depend on only the last few, so
// cut decisions use the high bits.
uint64_t TopBits(int bits) { return bits <= 0 ? 0 : ~uint64_t{0} << (64 - bits); }

}  // namespace

Status ValidateChunkerParams(const ChunkerParams& p) {
  if (p.min_size < 64 || p.min_size >= p.avg_size || p.avg_size >= p.max_size ||
      p.max_size > 64u * 1024 * 1024 || !std::has_single_bit(p.avg_size)) {
    return Status::InvalidArgument(
        "chunk sizes must satisfy 64 <= min < avg < max <= 64 MiB with avg a power of two (got " +
        std::to_string(p.min_size) + "/" + std::to_string(p.avg_size) + "/" +
        std::to_string(p.max_size) + ")");
  }
  return Status::OK();
}

Chunker::Chunker(const ChunkerParams& p) : params_(p) {
  int bits = std::countr_zero(p.avg_size);
  mask_small_ = TopBits(bits + 1);
  mask_large_ = TopBits(bits - 1);
}

size_t Chunker::FindCut(const uint8_t* data, size_t len) const {
  if (len <= params_.min_size) return len;
  size_t n = len < params_.max_size ? len : params_.max_size;
  size_t normal = n < params_.avg_size ? n : params_.avg_size;
  uint64_t fp = 0;
  size_t i = params_.min_size;
  for (; i < normal; ++i) {
    fp = (fp << 1) + kGear[data[i]];
    if ((fp & mask_small_) == 0) return i + 1;
  }
  for (; i < n; ++i) {
    fp = (fp << 1) + kGear[data[i]];
    if ((fp & mask_large_) == 0) return i + 1;
  }
  return n;
}

}  // namespace keepfs
