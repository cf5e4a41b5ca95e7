// The pack header, footer and trailer (store/pack.h, ParsePackIndex, the
// parser ReadPackIndex runs over a file): what every pack read, check and
// re-adoption trusts first.
// Checks: errors are Corruption or NotSupported (another pack version);
// every entry lies inside the blob area, after the header and before the
// trailer, with a known codec; the trailer rebuilt from the entries is the
// input's trailer byte for byte, and the footer names it.
#include <cstring>

#include "store/coding.h"
#include "store/pack.h"
#include "tests/fuzz/fuzz_util.h"

using namespace keepfs;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view pack = fuzz::Bytes(data, size);
  Result<std::vector<PackEntry>> r = ParsePackIndex(pack, "fuzz.pack");
  if (!r.ok()) {
    FUZZ_CHECK(r.status().code() == StatusCode::kCorruption ||
               r.status().code() == StatusCode::kNotSupported);
    return 0;
  }
  FUZZ_CHECK(size >= kPackHeaderSize + kPackFooterSize);
  uint64_t trailer_len = r->size() * kPackTrailerEntrySize;
  FUZZ_CHECK(trailer_len + kPackFooterSize + kPackHeaderSize <= size);
  uint64_t trailer_offset = size - kPackFooterSize - trailer_len;
  std::string trailer;
  for (const PackEntry& e : *r) {
    FUZZ_CHECK(e.offset >= kPackHeaderSize && e.offset <= trailer_offset);
    FUZZ_CHECK(e.stored_len <= trailer_offset - e.offset);
    FUZZ_CHECK(e.codec == Codec::kRaw || e.codec == Codec::kZstd);
    AppendPackTrailerEntry(e, &trailer);
  }
  FUZZ_CHECK(pack.substr(trailer_offset, trailer_len) == trailer);
  std::string footer_start;
  Encoder(&footer_start).PutFixed64(trailer_offset);
  FUZZ_CHECK(pack.substr(trailer_offset + trailer_len, 8) == footer_start);
  return 0;
}
