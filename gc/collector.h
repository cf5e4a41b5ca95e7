// The garbage collector: reclaims what no snapshot or pin references, while
// backups, reads and prunes go on (docs/gc.md).
//
// 1. Logical. Accounting queued every object whose count for some user
//    reached zero (`Q kind id`, snapshot/accounting.h). For each candidate,
//    trees first, then contents, then chunks, the collector asks one holder
//    record (`h kind id`) whether any user still references it. If nobody
//    does and no hold covers it (store/object_guard.h: a backup in flight,
//    an open file, the undelete window), its record (`t`, `o` or `c`) and
//    its candidate key go in one synced batch, which also adds a deleted
//    chunk's bytes to its pack's dead counters and bumps the generation `G`.
//    From then on dedup misses it, and a backup stores it again.
// 2. Physical. Packs whose blobs are all dead are condemned and removed;
//    packs mostly dead (or small) are repacked within a byte budget. The
//    dead counters are exact, so no mark pass is needed.
//
// Deleted-snapshot records (`d`) older than the undelete window are dropped
// first; younger ones keep the objects only they reference.
//
// Every step is a batch that leaves the store consistent, so a run can stop
// anywhere (kill, Ctrl-C) and the next run continues: candidates stay
// queued, condemned packs are finished at the next open.
//
// Thread safety: one run at a time per store (Busy otherwise). A run takes
// the commit lock only around each batch, so commits interleave.
#pragma once

#include <atomic>
#include <cstdint>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

#include "store/config.h"
#include "store/store.h"

namespace keepfs::gc {

// Where a run of the collector (or the auditor) is, for a progress line.
struct GcProgress {
  std::string phase;  // "deleted snapshots", "candidates", "packs"; "recount USER", "sweep"
  uint64_t done = 0;
  uint64_t total = 0;  // 0 when not known in advance
};

struct GcOptions {
  bool dry_run = false;
  int64_t now_unix = std::time(nullptr);
  GcConfig config;  // thresholds, budget, undelete window (from config.toml)
  const std::atomic<bool>* cancel = nullptr;
  std::function<void(const GcProgress&)> progress;  // called now and then; may be null
  // Called with the size of each pack read before it is read (repacking):
  // a background I/O throttle may wait there. May be null.
  std::function<void(uint64_t bytes)> throttle;
};

struct GcResult {
  bool dry_run = false;
  bool cancelled = false;
  // Deleted-snapshot records dropped because their undelete window passed,
  // and those still inside it.
  uint64_t expired_deleted = 0;
  uint64_t undeletable = 0;
  // Candidates: checked, found referenced again, kept (a hold or the
  // undelete window), and deleted by kind.
  uint64_t candidates = 0;
  uint64_t referenced = 0;
  uint64_t kept_in_flight = 0;  // a running backup or an open file holds it
  uint64_t kept_undelete = 0;   // only a forgotten snapshot inside the window has it
  uint64_t trees = 0, contents = 0, chunks = 0;
  uint64_t chunk_bytes = 0;  // stored bytes of the deleted chunks (now dead in packs)
  // Packs.
  uint64_t packs_condemned = 0;
  uint64_t packs_repacked = 0;
  uint64_t packs_written = 0;
  uint64_t bytes_moved = 0;  // live bytes copied by repacking
  uint64_t bytes_freed = 0;  // pack file bytes removed (less what the copies take)
  uint64_t packs_before = 0, bytes_before = 0;
  uint64_t packs_after = 0, bytes_after = 0;
  uint64_t dead_bytes_left = 0;  // dead blob bytes still in packs after the run
  bool delete_only = false;      // free space was below gc.min_free: no repacking
  bool budget_exhausted = false; // more was worth repacking than max_repack allowed
  std::vector<std::string> problems;  // packs left alone (damaged), with the reason
};

// Runs the collector once. dry_run writes nothing and reports what a real
// run would delete and which packs it would remove or repack.
Result<GcResult> CollectGarbage(Store* store, const GcOptions& options);

// The result as text for people, and as one JSON object.
std::string GcText(const GcResult& r);
std::string GcJson(const GcResult& r);

}  // namespace keepfs::gc
