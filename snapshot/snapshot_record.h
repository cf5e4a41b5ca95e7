// SnapshotRecord: the record whose write makes a snapshot visible. It names
// the root tree and carries the backup's statistics and error list.
//
// Thread safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "snapshot/tree.h"
#include "store/object_id.h"
#include "store/status.h"

namespace keepfs::snapshot {

struct SnapshotError {
  std::string path;  // relative to the backup source; "" for the source itself
  std::string message;
};

struct SnapshotStats {
  uint64_t files = 0;
  uint64_t dirs = 0;
  uint64_t others = 0;         // symlinks, devices, fifos, sockets
  uint64_t bytes_logical = 0;  // sum of file sizes in the snapshot
  uint64_t bytes_read = 0;     // bytes actually read from the source
  uint64_t bytes_new = 0;      // plaintext bytes of chunks not already stored
  uint64_t bytes_stored = 0;   // bytes added to packs (after compression)
  uint64_t files_cached = 0;   // files reused from the files cache without reading
};

// The source directory's own metadata (its entry has no parent tree).
struct RootMeta {
  uint32_t mode = 0755;
  uint32_t uid = 0;
  uint32_t gid = 0;
  int64_t mtime_sec = 0;
  uint32_t mtime_nsec = 0;
  std::vector<Xattr> xattrs;
  bool operator==(const RootMeta&) const = default;
};

struct SnapshotRecord {
  std::string user;
  std::string name;     // YYYY-MM-DD_HHMMSS[_N]
  int64_t time_sec = 0; // the snapshot's time (UTC seconds)
  uint32_t seq = 0;     // N of the _N suffix; 0 when there is none
  ObjectId root;
  std::string source;   // absolute path that was backed up
  std::string hostname;
  int64_t started_ns = 0;
  int64_t finished_ns = 0;
  SnapshotStats stats;
  std::vector<SnapshotError> errors;
  std::optional<RootMeta> root_meta;  // absent in records written before it was kept
  // The store-wide number of this snapshot (Store::AllocateNumber), assigned at
  // commit and never reused: the high bits of its inode numbers in the mount.
  uint64_t number = 0;
  // Hard-link groups: (link_id, names in this snapshot), sorted by link_id.
  // The mount reports the count as st_nlink and numbers group i's inode by i.
  std::vector<std::pair<uint64_t, uint64_t>> links;
  // Set when prune or forget turned the snapshot into a husk (only its pinned
  // paths and their parent folders left): when, in UTC seconds. The whole
  // record is then kept as a DeletedSnapshot until undeleted or reclaimed.
  std::optional<int64_t> husk_unix;

  bool is_husk() const { return husk_unix.has_value(); }
};

// A forgotten snapshot's whole record (the `d` key), kept so that
// `keepfs undelete` can bring it back while its data is still stored.
struct DeletedSnapshot {
  SnapshotRecord record;  // as it was before it was forgotten (never a husk)
  int64_t deleted_unix = 0;
  bool husk_left = false;  // a husk of it is still listed under the same name
};

std::string EncodeSnapshotRecord(const SnapshotRecord& r);
// user and name come from the key and are filled by the caller.
Result<SnapshotRecord> DecodeSnapshotRecord(std::string_view bytes);

std::string EncodeDeletedSnapshot(const DeletedSnapshot& d);
// record.user and record.name come from the key and are filled by the caller.
Result<DeletedSnapshot> DecodeDeletedSnapshot(std::string_view bytes);

}  // namespace keepfs::snapshot
