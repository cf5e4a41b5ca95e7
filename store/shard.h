// Shard: one process's ownership of a store whose truth is in RADOS, and the
// journal of its metadata there (docs/scale-out.md, "Shards").
//
//   POOL / NAMESPACE / keepfs.shard        the shard object: advisory lock
//                                          "owner" (the lease), xattr "epoch"
//                                          (decimal), omap "head" (last
//                                          published seq), "owner" (who took
//                                          it), "m/<seq16>" (one entry each)
//   POOL / NAMESPACE / meta.<e16>.<s16>    one journal entry: the bytes of a
//                                          RocksDB write batch; xattr sha256
//
// Every write to the local metadata database of a read-write process is
// first sealed as a meta object and then published, guarded by the epoch the
// process raised when it took the lease; only then is it applied locally.
// So RADOS holds every write ever applied, in order, and the local database
// is a cache that any node can rebuild by replaying the journal. A process
// that lost its lease (paused, partitioned) and was fenced by a new owner's
// epoch gets Busy from Publish, and nothing of it is applied anywhere.
//
// Thread safety: Publish, Since and Fetch may be called from many threads;
// KvStore serializes Publish with the local write (store/kv_store.h).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "store/status.h"

namespace keepfs {

namespace rados {
class Client;
}

struct ShardOptions {
  // The lease: another node may take the shard over once this has passed
  // without a renewal. Renewed every third of it.
  int lease_sec = 30;
  // How long Acquire waits for a lease held by another process.
  int wait_sec = 120;
  // Told once, when Acquire starts waiting, who holds the lease.
  std::function<void(const std::string& holder)> waiting;
  // Tests only: no renewal, so that the lease lapses as if paused.
  bool renew = true;
};

// One published write of the journal.
struct JournalEntry {
  uint64_t seq = 0;
  std::string oid;
  uint64_t size = 0;
  std::string sha256;  // hex
};

class Shard {
 public:
  // Creates the shard object of a new store: epoch 0, an empty journal.
  // AlreadyExists if it exists.
  static Status Create(rados::Client* client);
  // Takes the lease, waiting up to wait_sec while another process holds it
  // (Busy after that, naming the holder), then raises the epoch by one,
  // which fences every earlier owner. NotFound when the shard object is
  // missing. client must outlive the Shard.
  static Result<std::unique_ptr<Shard>> Acquire(rados::Client* client, const ShardOptions& options);
  // Stops renewing and releases the lease.
  ~Shard();
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  uint64_t epoch() const { return epoch_; }
  // The last published seq as of Acquire, then of this owner's publishes.
  uint64_t head() const;

  // Seals rep as the next entry and publishes it; returns its seq. Busy
  // when another process has taken the shard over (nothing was published)
  // or when the lease was lost; IoError when RADOS failed (the outcome of
  // the publish may then be unknown, and every later call fails too: the
  // process must open the store again).
  Result<uint64_t> Publish(std::string_view rep);
  // The published entries with seq > after, in order.
  Result<std::vector<JournalEntry>> Since(uint64_t after) const;
  // The bytes of an entry, checked against its size and SHA-256
  // (Corruption otherwise).
  Result<std::string> Fetch(const JournalEntry& entry) const;

 private:
  struct Rep;
  explicit Shard(std::unique_ptr<Rep> rep, uint64_t epoch);
  std::unique_ptr<Rep> rep_;
  const uint64_t epoch_;
};

}  // namespace keepfs
