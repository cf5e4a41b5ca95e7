// Check and scrub: every object of a store is looked at once, and every
// problem is reported with every user, snapshot and path it affects
// (docs/integrity.md).
//
// Phases, each a scan of one key range in key order (so memory does not grow
// with the store, only with what is damaged):
//   packs      every `p` record's file exists with its size; no pack file is
//              unknown to the index
//   chunks     every `c` entry points inside a known, present pack; chunks of
//              the packs chosen for data verification are re-read and
//              re-hashed (a rolling scrub: packs verified longest ago first)
//   contents   every `o` record decodes, matches its id (an alias: its target
//              exists and matches), and its chunks are indexed
//   trees      every `t` node decodes, matches its id, and what it names exists
//              (contents and trees: every user holding one holds what it
//              names, so the collector cannot take it: `h` records)
//   snapshots  every `s` record decodes and its root exists and is held by its
//              user; every `P` pin's object exists and is held by its user
// Then, if anything was wrong, the damaged set is closed upwards (contents
// over bad chunks, trees over bad contents and trees) and the snapshots that
// reach it are walked down that set only, to name each affected path
// (snapshot/check_map.h).
//
// A check can stop at any instant and `resume` continues it: a cursor (`K`,
// saved every 1024 objects and on a stop, with the run's options) and the
// problems found so far (`k`, saved at once) are in the store. A resume redoes
// the objects after the last save; with sink_position/on_resume the caller
// cuts its output back so that their lines are not written twice. Exact
// reference counts are recounted by `keepfs audit`, not here (that needs
// memory per object a user holds); here only that nothing reachable is
// unheld, edge by edge.
//
// Thread safety: runs beside readers, backups and gc (it only reads, plus its
// own cursor and scrub records); one check at a time per store.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "store/status.h"
#include "store/store.h"

namespace keepfs::snapshot {

struct CheckOptions {
  // Re-read and re-hash chunks. verify_percent < 100 is a rolling scrub: only
  // about that share of the pack bytes, the packs verified longest ago (never
  // first) before the others.
  bool verify_data = false;
  int verify_percent = 100;
  // With verify_data: skip packs verified less than this many seconds ago.
  int64_t verified_within_sec = 0;
  // With verify_data: verify exactly these packs (those listed in the
  // index), instead of choosing by verify_percent and verified_within_sec.
  std::vector<uint64_t> verify_packs;
  bool resume = false;  // continue the interrupted check (NotFound if there is none)
  // Exactly-once output across a kill: after each object's line, the caller's
  // sink_position() (e.g. its output file's offset) is kept with the cursor;
  // a resume first calls on_resume with the position of the last line the
  // cursor covers, so the caller can drop what it wrote after that (a line
  // written before the kill but not yet covered is then written again).
  std::function<std::string()> sink_position;
  std::function<Status(const std::string& position)> on_resume;
  int64_t now_unix = 0;  // 0 = now
  const std::atomic<bool>* cancel = nullptr;
  // With verify_data: called with each chunk's stored size before it is
  // read (a background I/O throttle may wait there). May be null.
  std::function<void(uint64_t bytes)> throttle;
  // Called every 1024 objects: the phase ("packs", "chunks", "contents",
  // "trees", "snapshots", "pins", "report") and the objects done in it.
  std::function<void(const std::string& phase, uint64_t done)> progress;
};

struct Affected {
  std::string user, snapshot, path;  // path "" = the snapshot's root; a pin's path for a pin
};

// One object looked at. kind: "pack", "chunk", "content", "tree",
// "snapshot" or "pin"; state: "ok", "missing", "corrupt", "dangling" (points
// at something that is not there), "unknown" (a pack file nobody indexed) or
// "uncounted" (a user reaches the object but is not counted as holding it).
struct CheckedObject {
  std::string kind;
  std::string id;  // pack: its number; snapshot and pin: user/name[:path]; else the hex id
  std::string state;
  std::string message;            // for a problem: what is wrong
  std::vector<Affected> affects;  // for a problem: every user, snapshot and path it touches
  bool ok() const { return state == "ok"; }
};

struct CheckSummary {
  uint64_t packs = 0, chunks = 0, contents = 0, trees = 0, snapshots = 0, pins = 0;
  uint64_t packs_verified = 0, bytes_verified = 0;
  uint64_t problems = 0;
  uint64_t affected_paths = 0;
  bool resumed = false;
  bool cancelled = false;  // stopped early; the cursor is kept for resume
};

// Calls on_object once for every object (an ok one as it is checked, a
// problem at the end with what it affects), across an interrupted run and its
// resume. The store must be writable (the cursor), except for a run without
// resume that writes nothing: then a read-only store is fine.
// Whether an interrupted check waits to be resumed (CheckOptions::resume).
Result<bool> HasInterruptedCheck(Store* store);

Result<CheckSummary> CheckStore(Store* store, const CheckOptions& options,
                                const std::function<void(const CheckedObject&)>& on_object);

}  // namespace keepfs::snapshot
