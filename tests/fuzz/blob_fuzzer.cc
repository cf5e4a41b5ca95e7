// A stored blob's decompression (store/compress.h) and check
// (store/blob_check.h), as every chunk read does them. Input: u8 codec,
// fixed32 raw_len (the index's claim), then the stored bytes.
// Checks: errors are Corruption; success yields exactly raw_len bytes (the
// stored bytes themselves for kRaw); compressing the result again and
// decompressing gives it back; BlobCheck of the stored bytes is deterministic.
#include "store/blob_check.h"
#include "store/coding.h"
#include "store/compress.h"
#include "tests/fuzz/fuzz_util.h"

using namespace keepfs;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Decoder dec(fuzz::Bytes(data, size));
  uint8_t codec = 0;
  uint32_t raw_len = 0;
  if (!dec.GetU8(&codec) || !dec.GetFixed32(&raw_len)) return 0;
  std::string_view stored;
  dec.GetBytes(dec.remaining(), &stored);
  static Decompressor decompressor;
  std::string raw;
  Status s = decompressor.Decompress(static_cast<Codec>(codec), stored, raw_len, &raw);
  if (!s.ok()) {
    fuzz::CheckCorruption(s);
    return 0;
  }
  FUZZ_CHECK(raw.size() == raw_len);
  if (static_cast<Codec>(codec) == Codec::kRaw) FUZZ_CHECK(raw == stored);
  FUZZ_CHECK(codec <= 1);
  static Compressor compressor(/*level=*/1);
  std::string again, back;
  Codec c = compressor.Compress(raw, &again);
  FUZZ_CHECK(decompressor.Decompress(c, again, raw.size(), &back).ok() && back == raw);
  ObjectId id = Sha256::Of(raw);
  FUZZ_CHECK(BlobCheck(id, stored) == BlobCheck(id, stored));
  return 0;
}
