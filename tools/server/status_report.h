// keepfs status: what an admin looks at each morning. Gathers, from the
// store and (when one runs) the server: jobs running and queued with their
// progress, each user's last backup, snapshot count, usage, quota and pins,
// the last result of each scheduled job, and what needs attention (users
// with no recent backup, users over quota, check findings, quarantined
// snapshots, failed pushes).
//
// Thread safety: free functions; GatherStatus only reads the store.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/status.h"
#include "store/store.h"
#include "tools/server/server_state.h"

namespace keepfs::server {

struct UserStatus {
  std::string user;
  std::optional<int64_t> last_backup_unix;  // the newest whole snapshot
  uint64_t snapshots = 0;
  uint64_t charged = 0;                     // bytes (docs/accounting.md)
  std::optional<uint64_t> quota;
  uint64_t pins = 0;
};

struct StatusReport {
  int64_t now_unix = 0;
  std::optional<ServerStatus> server;  // absent: no keepfs serve runs this store
  std::vector<JobRecord> job_records;  // without a server: the last runs recorded
  std::vector<UserStatus> users;
  std::vector<std::string> attention;  // one sentence each, with what to do
};

// server: the running server's state, or null. no_backup_days: a user whose
// newest snapshot is older than this needs attention.
Result<StatusReport> GatherStatus(Store* store, const ServerStatus* server,
                                  uint32_t no_backup_days, int64_t now_unix);
std::string StatusText(const StatusReport& r);
std::string StatusJson(const StatusReport& r);

}  // namespace keepfs::server
