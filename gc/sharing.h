// The sharing pass: identical files of different users are one content from
// the moment of ingest (content ids are hashes of the recipe); this pass
// finds the identical files that ingest could not see because their recipes
// differ, makes them one, and records who shares what with whom
// (docs/gc.md, "The sharing pass").
//
// 1. Unify. Every chunked content a backup stores gets a fingerprint record
//    (`F fingerprint id`, store/file_fingerprint.h): a hash of the file's
//    bytes that ignores chunk boundaries and holes. Contents with the same
//    fingerprint are read and SHA-256-hashed; those with equal bytes and at
//    least one holder are unified onto one of them (the canonical: already
//    the target of aliases, else the most holders, else the fewest data
//    bytes). The others' records become aliases of it, in one synced batch
//    per content that also moves every holder's references: one more to the
//    canonical (taking its chunks along if new to the user), one fewer per
//    chunk part of the old recipe. Chunks that nobody references then are
//    queued, and the next `keepfs gc` reclaims them. Trees are not rewritten.
// 2. Report. A scan of the holder records of charged objects (chunks,
//    inline contents) gives, for each pair of users, the stored bytes both
//    hold; it is stored (`S`) with the unification's numbers, and `keepfs
//    usage --sharing` shows it beside the accounts' totals.
//
// Usage itself needs no recomputing here: every commit, prune, pin and
// unification keeps the fair-share accounts exact in its own batch
// (docs/accounting.md), and `keepfs audit` recomputes them independently.
//
// Thread safety: one pass at a time per store (Busy otherwise). Hashing runs
// without locks; each unification re-checks both contents and writes under
// the commit lock, so backups, prunes, gc and readers go on beside it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "gc/collector.h"
#include "store/status.h"
#include "store/store.h"

namespace keepfs::gc {

struct SharingOptions {
  bool dry_run = false;
  int64_t now_unix = 0;  // the report's time; 0 = now
  const std::atomic<bool>* cancel = nullptr;
  std::function<void(const GcProgress&)> progress;  // "fingerprints", "pairs"
  // Tests: called after a group's contents were hashed, before the first
  // unification's lock is taken (a forced interleaving with gc and backups).
  std::function<void()> before_unify_for_test;
};

// Stored bytes that two users both hold (chunks and inline contents), the
// pair in name order.
struct PairShare {
  std::string a, b;
  uint64_t bytes = 0;
};

struct SharingResult {
  bool dry_run = false;
  bool cancelled = false;
  int64_t finished_unix = 0;
  uint64_t fingerprints = 0;   // F records read
  uint64_t groups = 0;         // fingerprints shared by two or more live contents
  uint64_t hashed = 0;         // contents read to compare
  uint64_t bytes_hashed = 0;
  uint64_t differ = 0;         // contents whose fingerprint matched but bytes did not
  uint64_t unified = 0;        // contents made aliases
  uint64_t unified_bytes = 0;  // their file sizes
  uint64_t released = 0;       // chunk references dropped with them
  uint64_t freed = 0;          // stored bytes nobody references after (gc reclaims them)
  uint64_t stale = 0;          // F records of contents gone, removed
  uint64_t skipped = 0;        // contents left as they were (unreadable, changed meanwhile)
  std::vector<std::string> problems;  // what could not be read, with the reason
  std::vector<PairShare> pairs;       // sorted by pair
};

Result<SharingResult> RunSharingPass(Store* store, const SharingOptions& options);

// The last pass's result as stored (`S`), or nullopt before the first.
Result<std::optional<SharingResult>> LastSharingPass(Store* store);

std::string SharingPassText(const SharingResult& r);
// One object: dry_run, cancelled, finished_unix, fingerprints, groups,
// hashed, bytes_hashed, differ, unified, unified_bytes, released, freed,
// stale, skipped, problems[], pairs[{a,b,bytes}].
std::string SharingPassJson(const SharingResult& r);

}  // namespace keepfs::gc
