#include "snapshot/content.h"

#include <algorithm>

#include "store/coding.h"
#include "store/compress.h"

namespace keepfs::snapshot {

namespace {
constexpr uint8_t kChunked = 1;
constexpr uint8_t kInline = 2;
constexpr uint8_t kAlias = 3;
constexpr uint64_t kMaxInline = 1 << 20;

void EncodeParts(Encoder& enc, const Content& c) {
  enc.PutU8(kChunked);
  enc.PutVarint(c.size);
  enc.PutVarint(c.parts.size());
  for (const ContentPart& p : c.parts) {
    enc.PutU8(p.is_hole() ? 1 : 0);
    if (!p.is_hole()) enc.PutBytes(p.chunk.AsBytes());
    enc.PutVarint(p.length);
  }
}
}  // namespace

uint64_t Content::DataBytes() const {
  if (is_inline) return size;
  uint64_t n = 0;
  for (const ContentPart& p : parts) n += p.is_hole() ? 0 : p.length;
  return n;
}

ObjectId ContentId(const Content& c) {
  std::string canon;
  Encoder enc(&canon);
  if (c.is_inline) {
    enc.PutU8(kInline);
    enc.PutVarint(c.size);
    enc.PutBytes(c.inline_data);
  } else {
    EncodeParts(enc, c);
  }
  return Sha256::Of(canon);
}

std::string EncodeContent(const Content& c, Compressor* compressor) {
  std::string out;
  Encoder enc(&out);
  if (!c.is_inline) {
    EncodeParts(enc, c);
    return out;
  }
  enc.PutU8(kInline);
  enc.PutVarint(c.size);
  if (compressor && c.inline_data.size() >= 64) {
    std::string stored;
    Codec codec = compressor->Compress(c.inline_data, &stored);
    enc.PutU8(static_cast<uint8_t>(codec));
    enc.PutBytes(stored);
  } else {
    enc.PutU8(static_cast<uint8_t>(Codec::kRaw));
    enc.PutBytes(c.inline_data);
  }
  return out;
}

std::string EncodeContentAlias(uint64_t size, const ObjectId& target, const ObjectId& file_hash) {
  std::string out;
  Encoder enc(&out);
  enc.PutU8(kAlias);
  enc.PutVarint(size);
  enc.PutBytes(target.AsBytes());
  enc.PutBytes(file_hash.AsBytes());
  return out;
}

bool IsInlineContentRecord(std::string_view bytes) {
  return !bytes.empty() && static_cast<uint8_t>(bytes[0]) == kInline;
}

bool IsAliasContentRecord(std::string_view bytes) {
  return !bytes.empty() && static_cast<uint8_t>(bytes[0]) == kAlias;
}

Result<Content> DecodeContent(std::string_view bytes) {
  Decoder dec(bytes);
  Content c;
  uint8_t kind = 0;
  if (!dec.GetU8(&kind) || !dec.GetVarint(&c.size)) {
    return Status::Corruption("content record header is damaged");
  }
  if (kind == kInline) {
    uint8_t codec = 0;
    if (c.size > kMaxInline || !dec.GetU8(&codec)) {
      return Status::Corruption("inline content is damaged");
    }
    std::string_view stored;
    dec.GetBytes(dec.remaining(), &stored);
    c.is_inline = true;
    thread_local Decompressor decompressor;
    Status s = decompressor.Decompress(static_cast<Codec>(codec), stored, c.size, &c.inline_data);
    if (!s.ok()) return s.WithContext("inline content");
    return c;
  }
  if (kind == kAlias) {
    std::string_view target, hash;
    if (!dec.GetBytes(32, &target) || !dec.GetBytes(32, &hash) || !dec.empty()) {
      return Status::Corruption("content alias is damaged");
    }
    std::copy(target.begin(), target.end(), reinterpret_cast<char*>(c.alias_of.bytes.data()));
    std::copy(hash.begin(), hash.end(), reinterpret_cast<char*>(c.file_hash.bytes.data()));
    if (c.alias_of.IsZero()) return Status::Corruption("content alias has a zero target");
    return c;
  }
  if (kind != kChunked) return Status::Corruption("unknown content kind");
  uint64_t n = 0, total = 0;
  if (!dec.GetVarint(&n) || n > dec.remaining()) return Status::Corruption("content is damaged");
  c.parts.resize(n);
  for (ContentPart& p : c.parts) {
    uint8_t hole = 0;
    std::string_view id;
    if (!dec.GetU8(&hole) || hole > 1 || (!hole && !dec.GetBytes(32, &id)) ||
        !dec.GetVarint(&p.length) || p.length == 0) {
      return Status::Corruption("content part is damaged");
    }
    if (!hole) std::copy(id.begin(), id.end(), reinterpret_cast<char*>(p.chunk.bytes.data()));
    if (!hole && p.chunk.IsZero()) return Status::Corruption("content part has a zero chunk id");
    total += p.length;
  }
  if (total != c.size || !dec.empty()) return Status::Corruption("content lengths do not add up");
  return c;
}

}  // namespace keepfs::snapshot
