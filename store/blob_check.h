// The check of a stored blob: what every read of a chunk verifies.
//
// A chunk's id is the SHA-256 of its raw bytes, and `keepfs check
// --verify-data` re-hashes every chunk against it. Reading through the mount
// or restoring needs the same promise, never wrong bytes, at a fraction of
// the cost: SHA-256 runs at about 1 GB/s on a NAS core, as slow as zstd's
// decompression, and was a fifth of a cold read's CPU. So every blob carries
// a 64-bit XXH3 of its stored bytes, seeded with the first 8 bytes of the
// chunk's id, in the chunk index and in its pack's trailer. A read verifies
// the stored bytes against it before decompressing:
//  - damaged bytes (bit rot, a torn or misplaced write) fail it with
//    probability 1 - 2^-64;
//  - an index entry that points at another chunk's blob fails it too: the
//    seed is the wanted id, not the one whose bytes are there.
// zstd's decoding then either fails or yields exactly the raw bytes that were
// hashed at write time.
#pragma once

#include <cstdint>
#include <string_view>

#include "store/object_id.h"

namespace keepfs {

uint64_t BlobCheck(const ObjectId& id, std::string_view stored);

}  // namespace keepfs
