// StoreStats: what the store holds and how much space it takes, from the
// index alone (no pack reads). `keepfs stats` prints it; the benchmark and
// the accounting of later issues build on it.
//
// Thread safety: read-only over the store.
#pragma once

#include <cstdint>

#include "snapshot/repo.h"

namespace keepfs::gc {

struct StoreStats {
  uint64_t users = 0;
  uint64_t snapshots = 0;
  uint64_t packs = 0;
  uint64_t pack_bytes = 0;     // bytes of sealed packs on disk
  uint64_t chunks = 0;
  uint64_t chunk_raw_bytes = 0;     // plaintext bytes of all stored chunks
  uint64_t chunk_stored_bytes = 0;  // their compressed size in packs
  uint64_t contents = 0;
  uint64_t trees = 0;
  uint64_t logical_bytes = 0;  // sum over snapshots of their file bytes
};

Result<StoreStats> ComputeStoreStats(const snapshot::Repo& repo);

}  // namespace keepfs::gc
