// Repair: mends what a check finds damaged from other copies, retires the
// damaged packs, and quarantines what cannot be mended (docs/integrity.md,
// "Repair").
//
// 1. A check (snapshot/check.h; every pack's data re-hashed unless
//    verify_data is off) lists every damaged or missing chunk, tree node and
//    content record, and every damaged pack.
// 2. Tree and content records come from mirrors (store/mirror.h) by key and
//    are kept only if they hash to their id; what they name that is missing
//    is wanted in turn. They are written in one synced batch, then the
//    auditor (gc/audit.h) raises any reference count the restored records
//    need, so the collector cannot take what they name.
//    Reference records the check found short ("uncounted": an object a
//    user reaches but is not counted as holding) are raised by the same
//    recount.
// 3. Every intact chunk of a damaged pack is re-read, re-hashed and moved
//    to a new pack, so that the damaged pack can go.
// 4. Wanted chunks are fetched by id from the mirrors, in the order given,
//    then from the source trees (each file cut with the store's chunker and
//    every chunk hashed; a sparse file's data extents also on their own, as
//    a backup cuts them). Only bytes whose SHA-256 is the chunk's id are
//    taken. They go to new packs (ChunkStore::ReplaceChunks).
// 5. A damaged pack left with nothing live is condemned and removed.
// 6. A final check (structural, plus the data of the damaged packs that
//    remain) says what is left. It is quarantined (snapshot/quarantine.h):
//    its chunks stay as they are, so reads keep failing with EIO, never
//    zeros, and its snapshots are marked damaged with their paths.
//
// Idempotent and crash-safe: each step is durable before the next relies on
// it (new packs are sealed before the index moves onto them; a pack is
// removed only once nothing live is in it), and a run after a kill or after
// a finished run starts from the check again: what is mended is no longer
// found, what is left is found and quarantined again.
//
// Thread safety: runs beside backups and mounts; excludes the collector
// (Store::gc_mu) and other checks for its duration.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "snapshot/check.h"
#include "store/status.h"
#include "store/store.h"

namespace keepfs::gc {

struct RepairOptions {
  std::vector<std::string> mirrors;      // stores or store-backup copies, tried in this order
  std::vector<std::string> source_dirs;  // trees to cut into chunks (a spool, home folders)
  bool dry_run = false;                  // find and look up only: write nothing
  // Re-read and re-hash every pack to find corrupt chunks. Off: only what
  // the structure shows (missing packs, chunks and records).
  bool verify_data = true;
  int64_t now_unix = 0;  // 0 = now
  const std::atomic<bool>* cancel = nullptr;
  // Called now and then: the step ("check", "records", "move", "mirror",
  // "source", "final check") and its progress (total 0 = unknown).
  std::function<void(const std::string& step, uint64_t done, uint64_t total)> progress;
};

// One problem, and what repair did about it.
struct RepairedObject {
  // As the check reported it. For what is left unrepaired, `affects` comes
  // from the final check.
  snapshot::CheckedObject found;
  // "repaired", "unrepaired", or in a dry run "would repair".
  std::string outcome;
  // Where the good copy came from: "mirror DIR", "source FILE", "recount"
  // (reference records raised by the auditor), or "" when it was mended by
  // other means (a pack's record once its chunks moved).
  std::string source;
};

struct RepairSummary {
  uint64_t problems = 0;    // objects the first check found wrong (and any found on the way)
  uint64_t repaired = 0;    // (dry run: would be)
  uint64_t unrepaired = 0;  // left, quarantined
  uint64_t records_fetched = 0;
  uint64_t chunks_fetched = 0;
  uint64_t chunks_moved = 0;  // intact chunks moved out of damaged packs
  uint64_t packs_written = 0;
  uint64_t packs_retired = 0;
  uint64_t quarantined_snapshots = 0;
  uint64_t quarantined_paths = 0;
  bool dry_run = false;
  bool cancelled = false;
  bool clean() const { return unrepaired == 0 && !cancelled; }
};

// Calls on_object for every problem (as it is settled, at the end).
Result<RepairSummary> RepairStore(Store* store, const RepairOptions& options,
                                  const std::function<void(const RepairedObject&)>& on_object);

}  // namespace keepfs::gc
