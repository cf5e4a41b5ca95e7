// Byte encoding helpers for every stored record: little-endian fixed-width
// integers, LEB128 varints and length-prefixed byte strings.
//
// Encoder appends to a std::string. Decoder reads from a view and never reads
// past its end: every Get* returns false on truncated or malformed input, and
// the caller turns that into Status::Corruption. Decoders are the first thing
// bad bytes from disk meet, so they are total functions (fuzzed in tests).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace keepfs {

class Encoder {
 public:
  explicit Encoder(std::string* out) : out_(out) {}
  void PutU8(uint8_t v) { out_->push_back(static_cast<char>(v)); }
  void PutFixed32(uint32_t v);
  void PutFixed64(uint64_t v);
  void PutVarint(uint64_t v);
  void PutSignedVarint(int64_t v);  // zigzag
  void PutBytes(std::string_view bytes) { out_->append(bytes); }
  void PutLengthPrefixed(std::string_view bytes) {
    PutVarint(bytes.size());
    PutBytes(bytes);
  }

 private:
  std::string* out_;
};

class Decoder {
 public:
  explicit Decoder(std::string_view in) : in_(in) {}
  bool GetU8(uint8_t* v);
  bool GetFixed32(uint32_t* v);
  bool GetFixed64(uint64_t* v);
  bool GetVarint(uint64_t* v);
  bool GetSignedVarint(int64_t* v);
  // Fails if fewer than n bytes remain.
  bool GetBytes(size_t n, std::string_view* v);
  // Fails if the prefix is larger than what remains or than max_len.
  bool GetLengthPrefixed(std::string_view* v, size_t max_len = SIZE_MAX);
  bool empty() const { return in_.empty(); }
  size_t remaining() const { return in_.size(); }

 private:
  std::string_view in_;
};

// Big-endian 64-bit, used in keys so that numeric order is byte order.
void PutBigEndian64(std::string* out, uint64_t v);
uint64_t GetBigEndian64(const char* p);

}  // namespace keepfs
