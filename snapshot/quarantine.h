// Quarantine: what repair could not mend, recorded per snapshot so that it
// is never forgotten or mistaken for good (docs/integrity.md, "Repair").
//
// A quarantined file keeps its damaged or missing chunks: reads of it keep
// failing with EIO, it never becomes zeros. Its snapshot is marked damaged
// (`keepfs snapshots`) with the paths and why. The record is keyed by the
// snapshot's name and carries its store-wide number, so a later snapshot
// that reuses a forgotten one's name is never taken for it. Every repair
// (and store-restore's audit) rewrites the whole set from what its final
// check found: a snapshot mended since, or gone, loses its record.
//
// Key: 'X' user 0x00 snapshot-name. Value: u8 version = 1, varint snapshot
// number, svarint since_unix, varint n, n x { lp path, lp why } (docs/format.md).
//
// Thread safety: free functions over the store's KvStore.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "snapshot/check.h"
#include "store/status.h"
#include "store/store.h"

namespace keepfs::snapshot {

struct QuarantinedPath {
  std::string path;  // "" = the snapshot's root; "pin PATH" for a pin
  std::string why;   // the problem: "chunk 3fa2…: corrupt: …"
};

struct Quarantine {
  std::string user, snapshot;
  uint64_t snapshot_number = 0;
  int64_t since_unix = 0;
  std::vector<QuarantinedPath> paths;
};

std::string QuarantineKey(std::string_view user, std::string_view snapshot);
std::string EncodeQuarantine(const Quarantine& q);
// user and snapshot are taken from the key.
Result<Quarantine> DecodeQuarantine(std::string_view key, std::string_view value);

// Replaces every quarantine record with `now` in one synced batch. A
// snapshot already quarantined keeps its since_unix.
Status ReplaceQuarantine(Store* store, const std::vector<Quarantine>& now);

// Quarantines what a check found and nothing mended: each problem's
// affected paths under their snapshot (once per path; why: "KIND ID: STATE:
// MESSAGE"), for snapshots that exist (a husk's pin of a forgotten snapshot
// marks nothing). Replaces the whole set (ReplaceQuarantine) and returns it.
Result<std::vector<Quarantine>> QuarantineProblems(Store* store,
                                                   const std::vector<CheckedObject>& problems,
                                                   int64_t now_unix);

// The records of user ("" = everyone) whose snapshot still exists under that
// number, by (user, snapshot).
Result<std::map<std::pair<std::string, std::string>, Quarantine>> ListQuarantine(
    Store* store, std::string_view user);

}  // namespace keepfs::snapshot
