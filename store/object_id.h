// ObjectId: the 32-byte SHA-256 that names every content-addressed object
// (chunks, contents, trees). Hashing goes through OpenSSL EVP so SHA-NI is used
// where the CPU has it.
//
// Thread safety: Sha256 is not thread-safe; ObjectId is a value.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>

#include "store/status.h"

namespace keepfs {

struct ObjectId {
  std::array<uint8_t, 32> bytes{};

  static constexpr size_t kSize = 32;
  // Fails unless hex is exactly 64 hex digits.
  static Result<ObjectId> FromHex(std::string_view hex);
  // Fails unless raw is exactly 32 bytes.
  static Result<ObjectId> FromBytes(std::string_view raw);

  std::string ToHex() const;
  std::string ShortHex() const { return ToHex().substr(0, 12); }
  std::string_view AsBytes() const {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
  bool IsZero() const;
  auto operator<=>(const ObjectId&) const = default;
};

struct ObjectIdHash {
  size_t operator()(const ObjectId& id) const {
    size_t h;
    std::memcpy(&h, id.bytes.data(), sizeof h);  // already uniformly distributed
    return h;
  }
};

// Incremental SHA-256. Movable, not copyable.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&& other) noexcept;
  Sha256& operator=(Sha256&&) = delete;
  Sha256(const Sha256&) = delete;

  void Update(const void* data, size_t len);
  void Update(std::string_view s) { Update(s.data(), s.size()); }
  // Finishes and resets for reuse.
  ObjectId Finish();

  static ObjectId Of(const void* data, size_t len);
  static ObjectId Of(std::string_view s) { return Of(s.data(), s.size()); }

 private:
  void* ctx_;  // EVP_MD_CTX*, kept opaque so OpenSSL stays inside store/
};

}  // namespace keepfs
