// ChunkReader: verified chunk plaintext for the mount, through a byte-bounded
// cache of decompressed chunks and with read-ahead on a small thread pool.
// Concurrent requests for one chunk share one read (an in-flight table), so a
// reader that catches up with its read-ahead waits for it instead of reading
// the chunk a second time.
//
// Thread safety: all methods may be called from many threads at once.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "store/chunk_store.h"
#include "store/lru_cache.h"
#include "store/thread_pool.h"

namespace keepfs::fs {

using ChunkPtr = std::shared_ptr<const std::string>;

class ChunkReader {
 public:
  ChunkReader(const ChunkStore* chunks, uint64_t cache_bytes, int readahead_threads);
  ~ChunkReader();  // finishes the read-ahead already queued

  // The chunk's plaintext; Corruption / NotFound as ChunkStore::Read, never
  // wrong bytes.
  Result<ChunkPtr> Get(const ObjectId& id);
  // Starts reading id into the cache in the background unless it is cached,
  // in flight, or too much read-ahead is already queued. Never blocks.
  void Prefetch(const ObjectId& id);

  uint64_t cache_used() { return cache_.used(); }

 private:
  struct Flight {
    bool done = false;
    Result<ChunkPtr> result = Status::Internal("in flight");
  };
  // Reads id, or waits for the read another thread started.
  Result<ChunkPtr> Load(const ObjectId& id);

  const ChunkStore* chunks_;
  LruCache<ObjectId, std::string, ObjectIdHash> cache_;
  std::mutex mu_;
  std::condition_variable cv_;  // a flight finished
  std::unordered_map<ObjectId, std::shared_ptr<Flight>, ObjectIdHash> flights_;  // GUARDED_BY(mu_)
  // Last member: destroyed (drained and joined) before what its jobs use.
  std::unique_ptr<ThreadPool> readahead_;  // null without read-ahead
};

}  // namespace keepfs::fs
