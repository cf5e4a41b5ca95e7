// DecodeContent (snapshot/content.h): a content record read from the store,
// with the zstd decompression of inline data.
// Checks: errors are Corruption; a chunked content's part lengths add up to
// its size without overflow, chunks are never zero ids, lengths never zero;
// inline data is exactly size bytes; an alias has a non-zero target; the
// first-byte predicates agree with the decode; re-encoding decodes to the
// same value with the same ContentId.
#include <cstring>

#include "snapshot/content.h"
#include "store/compress.h"
#include "tests/fuzz/fuzz_util.h"

using namespace keepfs;
using namespace keepfs::snapshot;

namespace {
bool SameContent(const Content& a, const Content& b) {
  if (a.size != b.size || a.is_inline != b.is_inline || a.inline_data != b.inline_data ||
      a.alias_of != b.alias_of || a.file_hash != b.file_hash || a.parts.size() != b.parts.size()) {
    return false;
  }
  for (size_t i = 0; i < a.parts.size(); ++i) {
    if (a.parts[i].chunk != b.parts[i].chunk || a.parts[i].length != b.parts[i].length) return false;
  }
  return true;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes = fuzz::Bytes(data, size);
  Result<Content> r = DecodeContent(bytes);
  if (!r.ok()) {
    fuzz::CheckCorruption(r.status());
    return 0;
  }
  const Content& c = *r;
  FUZZ_CHECK(IsAliasContentRecord(bytes) == c.is_alias());
  FUZZ_CHECK(IsInlineContentRecord(bytes) == c.is_inline);
  std::string again;
  if (c.is_alias()) {
    FUZZ_CHECK(!c.is_inline && c.parts.empty());
    again = EncodeContentAlias(c.size, c.alias_of, c.file_hash);
  } else if (c.is_inline) {
    FUZZ_CHECK(c.inline_data.size() == c.size && c.parts.empty());
    static Compressor compressor(/*level=*/1);
    again = EncodeContent(c, &compressor);
  } else {
    unsigned __int128 total = 0;  // no wrap-around: the lengths really add up
    for (const ContentPart& p : c.parts) {
      FUZZ_CHECK(p.length > 0);
      total += p.length;
    }
    FUZZ_CHECK(total == c.size);
    FUZZ_CHECK(c.DataBytes() <= c.size);
    again = EncodeContent(c, nullptr);
  }
  Result<Content> r2 = DecodeContent(again);
  FUZZ_CHECK(r2.ok());
  FUZZ_CHECK(SameContent(*r2, c));
  if (!c.is_alias()) FUZZ_CHECK(ContentId(*r2) == ContentId(c));
  return 0;
}
