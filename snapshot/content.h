// Content: a regular file's data as an ordered list of chunks and holes, or,
// for a small file, the bytes themselves (inline). Content-addressed: a
// content's id is the SHA-256 of its canonical encoding, so identical files
// anywhere in the store share one content record.
//
// Thread safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "store/object_id.h"
#include "store/status.h"

namespace keepfs {
class Compressor;
}

namespace keepfs::snapshot {

struct ContentPart {
  ObjectId chunk;       // zero for a hole
  uint64_t length = 0;  // bytes of file data (or hole) this part covers
  bool is_hole() const { return chunk.IsZero(); }
};

struct Content {
  uint64_t size = 0;
  bool is_inline = false;
  std::string inline_data;         // when is_inline: all size bytes
  std::vector<ContentPart> parts;  // otherwise: lengths sum to size

  uint64_t DataBytes() const;  // bytes that are not holes
};

// The content id: SHA-256 over the canonical (uncompressed) form.
ObjectId ContentId(const Content& c);
// Stored form; inline data is zstd-compressed when that shrinks it.
std::string EncodeContent(const Content& c, Compressor* compressor);
// Corruption on malformed input or lengths that do not add up.
Result<Content> DecodeContent(std::string_view bytes);
// Whether a stored content record holds its data inline, from its first byte
// alone (DecodeContent would also decompress the data).
bool IsInlineContentRecord(std::string_view bytes);

}  // namespace keepfs::snapshot
