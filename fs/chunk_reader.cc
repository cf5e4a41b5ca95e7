#include "fs/chunk_reader.h"

namespace keepfs::fs {

namespace {
constexpr size_t kMaxQueued = 64;  // read-ahead beyond this is dropped, not queued
}

ChunkReader::ChunkReader(const ChunkStore* chunks, uint64_t cache_bytes, int readahead_threads)
    : chunks_(chunks), cache_(cache_bytes) {
  for (int i = 0; i < readahead_threads; ++i) workers_.emplace_back([this] { Worker(); });
}

ChunkReader::~ChunkReader() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    queue_.clear();
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

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
  if (workers_.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || queue_.size() >= kMaxQueued || flights_.count(id)) return;
    queue_.push_back(id);
  }
  cv_.notify_all();
}

void ChunkReader::Worker() {
  while (true) {
    ObjectId id;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      id = queue_.front();
      queue_.pop_front();
    }
    if (!cache_.Get(id)) (void)Load(id);  // a failure shows when the reader gets there
  }
}

}  // namespace keepfs::fs
