// MetaBuffer: collects the metadata records (contents, trees, files-cache
// entries) a backup creates and writes them in batches, keeping the commit
// order: a batch is written only after ChunkStore::Flush() has made every
// chunk it can reference durable. Commit() writes the last batch together
// with the records that make the snapshot visible, synced.
//
// Thread safety: Put and MaybeFlush from many threads; Commit from one.
#pragma once

#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "store/kv_store.h"
#include "store/store.h"

namespace keepfs::snapshot {

class MetaBuffer {
 public:
  // Flushes when the pending batch exceeds flush_bytes.
  MetaBuffer(Store* store, size_t flush_bytes) : store_(store), flush_bytes_(flush_bytes) {}

  // Precondition: every chunk the record references was already given to
  // ChunkStore::Put (records are added after their data).
  void Put(std::string key, std::string value);
  void Delete(std::string key);
  // Writes the pending batch if it is over the limit.
  Status MaybeFlush();
  // Writes everything pending (not synced), so that it can be read back.
  Status Flush();
  // Seals the open pack, then writes everything pending plus the `last`
  // records (key, value) in one synced batch: the commit point.
  using Records = std::vector<std::pair<std::string, std::string>>;
  Status Commit(const Records& last);

 private:
  Status FlushLocked(const Records& extra, bool sync);

  Store* store_;
  size_t flush_bytes_;
  std::mutex mu_;        // guards batch_; lock order: flush_mu_ before mu_
  WriteBatch batch_;     // GUARDED_BY(mu_)
  std::mutex flush_mu_;  // serialises flushes so batches land in order
};

}  // namespace keepfs::snapshot
