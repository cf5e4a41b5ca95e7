// LruCache: a byte-bounded, sharded least-recently-used cache of shared,
// immutable values. The mount keeps decompressed chunks and decoded tree
// nodes in it. Values are shared_ptr<const V>, so an entry evicted while a
// reader holds it stays alive until the reader lets go; the bound is on what
// the cache itself keeps.
//
// Thread safety: all methods may be called from many threads at once.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>

namespace keepfs {

template <typename K, typename V, typename Hash = std::hash<K>>
class LruCache {
 public:
  static constexpr size_t kMaxShards = 16;

  // capacity: total bytes (as charged by Insert) over all shards. Each shard
  // gets capacity / shards and keeps no value larger than that: a small
  // cache of large values needs few shards (ShardsFor).
  explicit LruCache(uint64_t capacity, size_t shards = kMaxShards)
      : capacity_(capacity), shard_count_(std::clamp<size_t>(shards, 1, kMaxShards)) {
    for (size_t i = 0; i < shard_count_; ++i) shards_[i].capacity = capacity / shard_count_;
  }

  // The most shards (up to kMaxShards) that leave each at least min_shard
  // bytes: room for the largest value the cache should keep.
  static size_t ShardsFor(uint64_t capacity, uint64_t min_shard) {
    return static_cast<size_t>(std::clamp<uint64_t>(capacity / std::max<uint64_t>(min_shard, 1), 1, kMaxShards));
  }

  std::shared_ptr<const V> Get(const K& key) {
    Shard& s = ShardOf(key);
    std::lock_guard<std::mutex> lock(s.mu);
    auto it = s.map.find(key);
    if (it == s.map.end()) return nullptr;
    s.lru.splice(s.lru.begin(), s.lru, it->second);  // most recent first
    return it->second->value;
  }

  // Inserts (or replaces) key, charged at charge bytes, and evicts the least
  // recently used entries of its shard until the shard fits. A value larger
  // than a shard is not kept.
  void Insert(const K& key, std::shared_ptr<const V> value, uint64_t charge) {
    Shard& s = ShardOf(key);
    std::lock_guard<std::mutex> lock(s.mu);
    if (auto it = s.map.find(key); it != s.map.end()) {
      s.used -= it->second->charge;
      s.lru.erase(it->second);
      s.map.erase(it);
    }
    if (charge > s.capacity) return;
    s.lru.push_front({key, std::move(value), charge});
    s.map[key] = s.lru.begin();
    s.used += charge;
    while (s.used > s.capacity) {
      auto& last = s.lru.back();
      s.used -= last.charge;
      s.map.erase(last.key);
      s.lru.pop_back();
    }
  }

  uint64_t capacity() const { return capacity_; }
  uint64_t used() {
    uint64_t n = 0;
    for (auto& s : shards_) {
      std::lock_guard<std::mutex> lock(s.mu);
      n += s.used;
    }
    return n;
  }

 private:
  struct Item {
    K key;
    std::shared_ptr<const V> value;
    uint64_t charge;
  };
  struct Shard {
    std::mutex mu;
    std::list<Item> lru;
    std::unordered_map<K, typename std::list<Item>::iterator, Hash> map;
    uint64_t capacity = 0;
    uint64_t used = 0;
  };
  Shard& ShardOf(const K& key) { return shards_[Hash()(key) % shard_count_]; }

  uint64_t capacity_;
  size_t shard_count_;
  std::array<Shard, kMaxShards> shards_;  // the first shard_count_ are used
};

}  // namespace keepfs
