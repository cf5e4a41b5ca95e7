#include "store/blob_check.h"

#include <xxhash.h>


namespace keepfs {

uint64_t BlobCheck(const ObjectId& id, std::string_view stored) {
  uint64_t seed = 0;
  for (int i = 7; i >= 0; --i) seed = (seed << 8) | id.bytes[static_cast<size_t>(i)];  // LE
  return XXH3_64bits_withSeed(stored.data(), stored.size(), seed);
}

}  // namespace keepfs
