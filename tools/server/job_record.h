// What the server remembers of each scheduled job (prune, gc, scrub,
// store-backup): when it last started and finished, and how it ended. Kept
// in the store (`J` records, docs/format.md), so it outlives restarts: a
// record still "running" at start-up means the server died in that run, and
// the job is taken up again at once.
//
// Thread safety: free functions over the store's KvStore (thread-safe).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/status.h"
#include "store/store.h"

namespace keepfs::server {

struct JobRecord {
  std::string name;
  int64_t started_unix = 0;
  int64_t finished_unix = 0;  // 0 while running
  // "running", "ok", "problems" (finished, found something: exit 1 of a
  // check, 3 of gc), "failed", "interrupted" (stopped by a shutdown; resumed
  // at the next start).
  std::string result;
  int exit_code = 0;
  std::string summary;  // the run's last line of output, or its error
};

// Writes the record (synced: it must survive the crash it is meant to reveal).
Status SaveJobRecord(Store* store, const JobRecord& r);
// The record of name, if the job ever ran.
Result<std::optional<JobRecord>> LoadJobRecord(Store* store, const std::string& name);
Result<std::vector<JobRecord>> LoadJobRecords(Store* store);

}  // namespace keepfs::server
