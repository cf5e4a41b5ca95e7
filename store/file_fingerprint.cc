#include "store/file_fingerprint.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>

namespace keepfs {

namespace {

uint64_t ZeroBlockHash() {
  static const uint64_t h = [] {
    auto zeros = std::make_unique<uint8_t[]>(FileFingerprint::kBlock);
    std::memset(zeros.get(), 0, FileFingerprint::kBlock);
    return XXH3_64bits(zeros.get(), FileFingerprint::kBlock);
  }();
  return h;
}

void PutLe64(uint64_t v, uint8_t* out) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(v >> (8 * i));
}

}  // namespace

void FileFingerprint::StateDeleter::operator()(XXH3_state_s* s) const { XXH3_freeState(s); }

FileFingerprint::FileFingerprint()
    : state_(XXH3_createState()), block_(new uint8_t[kBlock]) {
  XXH3_128bits_reset(state_.get());
}

FileFingerprint::~FileFingerprint() = default;

void FileFingerprint::AppendBlockHash(uint64_t h) {
  if (npending_ == std::size(pending_)) {
    uint8_t buf[sizeof pending_];
    for (size_t i = 0; i < npending_; ++i) PutLe64(pending_[i], buf + 8 * i);
    XXH3_128bits_update(state_.get(), buf, 8 * npending_);
    npending_ = 0;
  }
  pending_[npending_++] = h;
}

void FileFingerprint::FlushBlock() {
  AppendBlockHash(XXH3_64bits(block_.get(), fill_));
  fill_ = 0;
}

void FileFingerprint::AddData(const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  total_ += n;
  while (n > 0) {
    if (fill_ == 0 && n >= kBlock) {  // a whole block straight from the caller's buffer
      AppendBlockHash(XXH3_64bits(p, kBlock));
      p += kBlock;
      n -= kBlock;
      continue;
    }
    size_t take = std::min(n, kBlock - fill_);
    std::memcpy(block_.get() + fill_, p, take);
    fill_ += take;
    p += take;
    n -= take;
    if (fill_ == kBlock) FlushBlock();
  }
}

void FileFingerprint::AddZeros(uint64_t n) {
  total_ += n;
  if (fill_ > 0) {
    size_t take = static_cast<size_t>(std::min<uint64_t>(n, kBlock - fill_));
    std::memset(block_.get() + fill_, 0, take);
    fill_ += take;
    n -= take;
    if (fill_ == kBlock) FlushBlock();
  }
  const uint64_t zero = ZeroBlockHash();
  for (; n >= kBlock; n -= kBlock) AppendBlockHash(zero);
  if (n > 0) {
    std::memset(block_.get(), 0, static_cast<size_t>(n));
    fill_ = static_cast<size_t>(n);
  }
}

FileFingerprint::Digest FileFingerprint::Finish() {
  if (fill_ > 0) FlushBlock();
  uint8_t buf[sizeof pending_ + 8];
  for (size_t i = 0; i < npending_; ++i) PutLe64(pending_[i], buf + 8 * i);
  PutLe64(total_, buf + 8 * npending_);
  XXH3_128bits_update(state_.get(), buf, 8 * npending_ + 8);
  XXH128_canonical_t canon;
  XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(state_.get()));
  Digest out;
  std::memcpy(out.data(), canon.digest, out.size());
  Reset();
  return out;
}

void FileFingerprint::Reset() {
  XXH3_128bits_reset(state_.get());
  npending_ = 0;
  fill_ = 0;
  total_ = 0;
}

FileFingerprint::Digest FileFingerprint::Of(const void* data, size_t n) {
  FileFingerprint f;
  f.AddData(data, n);
  return f.Finish();
}

}  // namespace keepfs
