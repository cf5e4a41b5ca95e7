#include "store/object_id.h"

#include <openssl/evp.h>

#include <cstdlib>

namespace keepfs {

namespace {
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

EVP_MD_CTX* Ctx(void* p) { return static_cast<EVP_MD_CTX*>(p); }

void InitOrDie(EVP_MD_CTX* ctx) {
  // EVP_sha256() is a static method table; init only fails on allocation
  // failure inside OpenSSL, which we treat like bad_alloc.
  if (EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1) std::abort();
}
}  // namespace

Result<ObjectId> ObjectId::FromHex(std::string_view hex) {
  if (hex.size() != 64) return Status::InvalidArgument("object id must be 64 hex digits");
  ObjectId id;
  for (size_t i = 0; i < 32; ++i) {
    int hi = HexValue(hex[2 * i]), lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return Status::InvalidArgument("object id is not hex");
    id.bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return id;
}

Result<ObjectId> ObjectId::FromBytes(std::string_view raw) {
  if (raw.size() != kSize) return Status::Corruption("object id is not 32 bytes");
  ObjectId id;
  std::memcpy(id.bytes.data(), raw.data(), kSize);
  return id;
}

std::string ObjectId::ToHex() const {
  static const char kDigits[] = "0123456789abcdef";
  std::string out(64, '0');
  for (size_t i = 0; i < 32; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 15];
  }
  return out;
}

bool ObjectId::IsZero() const {
  for (uint8_t b : bytes)
    if (b) return false;
  return true;
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_) std::abort();
  InitOrDie(Ctx(ctx_));
}

Sha256::~Sha256() {
  if (ctx_) EVP_MD_CTX_free(Ctx(ctx_));
}

Sha256::Sha256(Sha256&& other) noexcept : ctx_(other.ctx_) { other.ctx_ = nullptr; }

void Sha256::Update(const void* data, size_t len) { EVP_DigestUpdate(Ctx(ctx_), data, len); }

ObjectId Sha256::Finish() {
  ObjectId id;
  unsigned int len = 0;
  EVP_DigestFinal_ex(Ctx(ctx_), id.bytes.data(), &len);
  InitOrDie(Ctx(ctx_));
  return id;
}

ObjectId Sha256::Of(const void* data, size_t len) {
  ObjectId id;
  unsigned int out_len = 0;
  if (EVP_Digest(data, len, id.bytes.data(), &out_len, EVP_sha256(), nullptr) != 1) std::abort();
  return id;
}

}  // namespace keepfs
