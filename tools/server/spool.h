// The spool: how laptops hand their files to the server (docs/server.md).
//
//   SPOOL/USER/data/   what the user's laptop pushed (rsync -a --delete ...)
//   SPOOL/USER/.done   created by the laptop once a push has finished
//
// A flag means "data/ is whole now". Ingesting it makes one snapshot of
// USER from data/, timed at the flag's mtime, commits it, and only then
// removes the flag, so that:
//   - a push without a flag (interrupted) is never ingested;
//   - a kill before the commit leaves the flag, and the next pass ingests
//     the push again (nothing of the first try was visible);
//   - a kill between the commit and the flag's removal is recognised by the
//     next pass (USER has a snapshot of data/ at exactly the flag's time)
//     and only removes the flag: one push, one snapshot;
//   - a flag removed or renewed while its push is read (the laptop started
//     the next push: `rm .done; rsync ...; touch .done`) stops the ingest
//     with nothing committed, and a renewed flag is ingested on the next
//     pass, not removed by this one.
// data/ stays in place, so the next rsync sends only differences and the
// files cache makes the next ingest cheap.
//
// Trust: SPOOL/USER is the user's to write, nobody else's. A push is taken
// only if SPOOL/USER, data/ and the flag are real (no symlinks), SPOOL/USER
// is owned by the user's uid ([users.USER] in config.toml; root when the
// store maps none) and writable by no one else.
//
// Thread safety: free functions; one ingest per user at a time (the caller's).
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "snapshot/ingest.h"
#include "snapshot/snapshot_record.h"
#include "snapshot/source_fs.h"
#include "store/status.h"
#include "store/store.h"

namespace keepfs::server {

inline constexpr char kSpoolFlag[] = ".done";
inline constexpr char kSpoolData[] = "data";

struct SpoolPush {
  std::string user;
  std::string dir;           // SPOOL/USER
  int64_t flag_mtime_sec = 0;
  int64_t flag_mtime_nsec = 0;
  uint64_t flag_ino = 0;
};

// SPOOL/USER's push if its flag is up; nullopt when not, or when user is
// not a valid user name.
std::optional<SpoolPush> FindFinishedPush(const std::string& spool, const std::string& user);

// Users of spool whose flag is up, oldest flag first. Entries that are not
// user names, or hold no flag, are left out.
Result<std::vector<SpoolPush>> FindFinishedPushes(const std::string& spool);

// PermissionDenied naming what is wrong when the push may not be trusted.
Status CheckSpoolTrust(Store* store, const SpoolPush& push);

struct SpoolIngestResult {
  snapshot::SnapshotRecord snapshot;  // the new one, or the one found committed
  bool already_committed = false;     // a kill came between its commit and the flag's removal
};

struct IngestPushOptions {
  const std::atomic<bool>* cancel = nullptr;      // stop: nothing is committed
  snapshot::BackupProgress* progress = nullptr;   // live counters for a status display
  snapshot::SourceFs* source_fs = nullptr;        // what reads data/ (null: the real one)
};

// Ingests one push as described above. Cancelled (nothing committed) when
// cancel becomes true or the flag is removed or renewed meanwhile.
Result<SpoolIngestResult> IngestPush(Store* store, const SpoolPush& push,
                                     const IngestPushOptions& options = {});

}  // namespace keepfs::server
