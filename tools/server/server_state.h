// What a running `keepfs serve` tells the commands it hosts (keepfs status,
// keepfs admit): its ingest queue and its scheduled jobs. The CLI sees the
// server only through this interface, so tools/server never depends on the
// CLI.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/status.h"
#include "tools/server/job_record.h"

namespace keepfs::server {

struct RunningIngest {
  std::string user;
  int64_t started_unix = 0;
  int64_t flag_unix = 0;  // the push's time (its flag's mtime)
  uint64_t files = 0;     // read so far
  uint64_t bytes_read = 0;
  std::string current;    // the path being read
};

struct QueuedPush {
  std::string user;
  int64_t flag_unix = 0;
  int64_t queued_unix = 0;
};

struct Admission {
  std::string user;
  int64_t until_unix = 0;  // the lease ends (or when the user's push is ingested)
};

struct JobState {
  std::string name;
  std::string schedule;                 // "daily 02:00", "off"
  std::optional<int64_t> next_unix;     // when it is due next
  bool running = false;
  std::string progress;                 // while running: its last progress line
  std::optional<JobRecord> last;        // the last run (the current one while running)
};

struct ServerStatus {
  int64_t started_unix = 0;
  uint32_t max_concurrent = 0;
  uint32_t admit_slots = 0;
  uint32_t attention_no_backup_days = 0;
  std::string spool, mountpoint;
  std::vector<RunningIngest> running;
  std::vector<QueuedPush> queued;
  std::vector<Admission> admitted;
  std::vector<JobState> jobs;
  std::vector<std::string> recent_failures;  // "alice: why" of the last failed ingests
};

struct AdmitAnswer {
  bool ok = false;
  int64_t retry_after_sec = 0;  // when busy: a hint, before jitter
};

class ServerState {
 public:
  virtual ~ServerState() = default;
  virtual ServerStatus Status() const = 0;
  // May user start a push now? ok reserves a slot for the admission lease.
  virtual AdmitAnswer Admit(const std::string& user) = 0;
  // Makes a scheduled job due now. NotFound naming the jobs for an unknown one.
  virtual keepfs::Status RunJobNow(const std::string& name) = 0;
};

}  // namespace keepfs::server
