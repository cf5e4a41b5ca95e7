#include "fs/chunk_reader.h"

namespace keepfs::fs {

namespace {
constexpr size_t kMaxQueued = 64;  // read-ahead beyond this is dropped, not queued
// A shard keeps no chunk larger than itself: with a small cache (the small
// memory profile's 8 MiB) sixteen 512 KiB shards would keep no chunk over
// 512 KiB, and every read request into one would decompress it again.
constexpr uint64_t kMinShardBytes = 8 << 20;  // twice the default largest chunk
}  // namespace

ChunkReader::ChunkReader(const ChunkStore* chunks, uint64_t cache_bytes, int readahead_threads)
    : chunks_(chunks),
      cache_(cache_bytes, LruCache<ObjectId, std::string, ObjectIdHash>::ShardsFor(
                              cache_bytes, kMinShardBytes)) {
  if (readahead_threads > 0) {
    readahead_ = std::make_unique<ThreadPool>(readahead_threads, kMaxQueued);
  }
}

ChunkReader::~ChunkReader() = default;

Result<ChunkPtr> ChunkReader::Get(const ObjectId& id) {
  if (ChunkPtr hit = cache_.Get(id)) return hit;
  return Load(id);
}

Result<ChunkPtr> ChunkReader::Load(const ObjectId& id) {
  std::shared_ptr<Flight> flight;
  {
    std::unique_lock<std::mutex> lock(mu_);
    auto it = flights_.find(id);
    if (it != flights_.end()) {
      flight = it->second;
      cv_.wait(lock, [&] { return flight->done; });
      return flight->result;
    }
    flight = std::make_shared<Flight>();
    flights_.emplace(id, flight);
  }
  // Re-check: the chunk may have landed between the cache miss and the flight.
  Result<ChunkPtr> result = Status::Internal("unset");
  if (ChunkPtr hit = cache_.Get(id)) {
    result = hit;
  } else {
    auto data = std::make_shared<std::string>();
    Status s = chunks_->Read(id, data.get());
    if (s.ok()) {
      cache_.Insert(id, data, data->capacity() + 64);
      result = ChunkPtr(std::move(data));
    } else {
      result = s;  // errors are not cached: a repaired chunk reads again
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    flight->result = result;
    flight->done = true;
    flights_.erase(id);
  }
  cv_.notify_all();
  return result;
}

void ChunkReader::Prefetch(const ObjectId& id) {
  if (!readahead_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (flights_.count(id)) return;
  }
  // A failure shows when the reader gets there.
  readahead_->TryPost([this, id] {
    if (!cache_.Get(id)) (void)Load(id);
  });
}

}  // namespace keepfs::fs
