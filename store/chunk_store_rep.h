// ChunkStore's private state, shared by chunk_store.cc (reads and writes)
// and chunk_store_gc.cc (what the garbage collector does to packs). Not
// part of any contract: include only from those two files.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/chunk_store.h"
#include "store/pack.h"

namespace keepfs {

// The index value of a chunk stored at e in pack_id.
std::string EncodeLocation(const PackEntry& e, uint64_t pack_id);

// Lets a pack's file be removed only once no read that may have found the
// pack in the index is still running. A read enters before its index lookup
// and leaves after its pread; Synchronize(), called after the index stopped
// naming the pack, flips the epoch and waits for the reads of the old one.
class ReadEpochs {
 public:
  int Enter() {
    for (;;) {
      int e = epoch_.load();
      readers_[e].fetch_add(1);
      if (epoch_.load() == e) return e;
      readers_[e].fetch_sub(1);  // a flip raced with us: join the new epoch
    }
  }
  void Leave(int e) { readers_[e].fetch_sub(1); }
  void Synchronize();

 private:
  std::mutex flip_mu_;
  std::atomic<int> epoch_{0};
  std::atomic<uint64_t> readers_[2] = {0, 0};
};

struct ChunkStore::Rep {
  KvStore* kv = nullptr;
  ObjectGuard* guard = nullptr;
  ReadEpochs epochs;
  ChunkStoreOptions options;
  uint64_t adopted = 0;

  // Write side.
  std::mutex write_mu;
  std::mutex retire_mu;  // held while pack files are unlinked (ChunkStore::retire_mu)
  std::unique_ptr<PackWriter> writer;                                  // GUARDED_BY(write_mu)
  std::unordered_map<ObjectId, PackEntry, ObjectIdHash> pending;       // GUARDED_BY(write_mu)
  uint64_t next_pack_id = 1;                                           // GUARDED_BY(write_mu)
  // Full packs being sealed by a worker outside write_mu; Flush waits for 0.
  int sealing = 0;                                                     // GUARDED_BY(write_mu)
  // Bumped whenever chunks move from `pending` to the index, so that Put can
  // tell whether its unlocked index lookup may have gone stale.
  uint64_t index_epoch = 0;                                            // GUARDED_BY(write_mu)
  std::condition_variable seal_done;
  // The first write error. Once set, the open pack is abandoned and every
  // later Put/Flush fails with it: chunks other workers deduplicated against
  // that pack are gone, so the running backup must not commit.
  Status failed;                                                       // GUARDED_BY(write_mu)

  Status Fail(const Status& s) {
    failed = s;
    writer.reset();  // removes the temporary file
    pending.clear();
    return s;
  }

  Status SealLocked();
  Status SealDetached(std::unique_ptr<PackWriter> full);
  Status IndexPack(uint64_t pack_id, const std::vector<PackEntry>& entries, uint64_t size);
  Status ScanPacks();
  Status AdoptPack(uint64_t pack_id, const std::vector<PackEntry>& entries, uint64_t size);
  // Removes condemned packs: waits (once) until no read that may have
  // looked up an index entry into them is still running, removes the packs,
  // then deletes the records. Idempotent: recovery at open calls it for
  // every condemned pack. Adds to r->packs_removed and bytes_removed (sizes
  // as recorded).
  Status RetirePacks(const std::vector<std::pair<uint64_t, PackInfo>>& packs,
                     ChunkStore::RepackResult* r);
  // New packs written one after another by a repack or a repair: a new pack
  // is begun when the current one reaches the target size; Finish seals the
  // last. Records, as a fresh pack's (nothing dead), are the caller's to add
  // to the batch that indexes the blobs.
  class Series {
   public:
    explicit Series(Rep* rep) : rep_(rep) {}
    // Appends a blob; returns the pack it went to and its entry.
    Result<std::pair<uint64_t, PackEntry>> Add(const ObjectId& id, Codec codec,
                                               std::string_view stored, uint32_t raw_len);
    Status Finish();
    // The sealed packs (after Finish: all), as records created at now.
    std::vector<std::pair<uint64_t, PackInfo>> Records(int64_t now) const;

   private:
    Rep* rep_;
    std::unique_ptr<PackWriter> open_;
    std::vector<std::unique_ptr<PackWriter>> sealed_;
  };

  // A new pack writer with the next id (for a backup or a repack).
  Result<std::unique_ptr<PackWriter>> NewWriter();  // REQUIRES(write_mu)
};



}  // namespace keepfs
