// Content: a regular file's data as an ordered list of chunks and holes, or,
// for a small file, the bytes themselves (inline). Content-addressed: a
// content's id is the SHA-256 of its canonical encoding, so identical files
// anywhere in the store share one content record.
//
// The one exception is an alias: the sharing pass (gc/sharing.h) found that
// the content's bytes equal another content's (a sparse and a dense copy of
// one file have different recipes) and replaced its record by a pointer to
// that one, so the duplicate chunks can be collected. Trees keep naming the
// alias's id. An alias points at a content that is not an alias, holds its
// size and the SHA-256 of the file's bytes (holes as zeros) that proved them
// equal. Repo::GetContent resolves it; only accounting, check and the pass
// look at the alias itself.
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
  ObjectId alias_of;               // non-zero: an alias record (no data, no parts)
  ObjectId file_hash;              // an alias's: SHA-256 of the file's bytes

  uint64_t DataBytes() const;  // bytes that are not holes
  bool is_alias() const { return !alias_of.IsZero(); }
};

// The content id: SHA-256 over the canonical (uncompressed) form. Not
// defined for an alias (its id is the id of the record it replaced).
ObjectId ContentId(const Content& c);
// An alias record: size, the target content (not itself an alias) and the
// SHA-256 of the bytes both hold.
std::string EncodeContentAlias(uint64_t size, const ObjectId& target, const ObjectId& file_hash);
// Stored form; inline data is zstd-compressed when that shrinks it.
std::string EncodeContent(const Content& c, Compressor* compressor);
// Corruption on malformed input or lengths that do not add up.
Result<Content> DecodeContent(std::string_view bytes);
// Whether a stored content record holds its data inline, from its first byte
// alone (DecodeContent would also decompress the data).
bool IsInlineContentRecord(std::string_view bytes);
// Whether a stored content record is an alias, from its first byte alone.
bool IsAliasContentRecord(std::string_view bytes);

}  // namespace keepfs::snapshot
