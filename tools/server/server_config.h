// The server's config file, /etc/keepfs/keepfs.toml (docs/config.md).
//
// The minimal config is three top-level keys:
//   store = "/srv/keepfs/store"   mountpoint = "/backups"   spool = "/srv/spool"
// Everything else has a default. Parsing is strict: a TOML syntax error, an
// unknown key or table, a value of the wrong type or out of range is an
// InvalidArgument naming the file, the line and the key, with what to do.
//
// Thread safety: plain values and pure functions.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "store/status.h"

namespace keepfs::server {

// When a scheduled job runs, in the server's local time zone.
struct Schedule {
  enum class Every { kOff, kHourly, kDaily, kWeekly };
  Every every = Every::kOff;
  int weekday = 0;  // kWeekly: 0 = Sunday ... 6 = Saturday
  int hour = 0;     // kDaily, kWeekly: 0-23
  int minute = 0;   // 0-59 (kHourly: the minute past each hour)
  // "off", "hourly :15", "daily 02:30", "weekly sun 03:00".
  static Result<Schedule> Parse(std::string_view text);
  std::string Describe() const;  // the same syntax
  // The first instant strictly after `after` (UTC seconds) when the job is
  // due; nullopt when off. Uses the local time zone (TZ, re-read on each
  // call), DST included: a time the clock skips (02:30 on the spring-forward
  // day) is due when it would have been, had the clock not moved (03:30); a
  // time that occurs twice is due once (hourly: at both). Always > after.
  std::optional<int64_t> NextAfter(int64_t after) const;
  bool operator==(const Schedule&) const = default;
};

// CPU and I/O priority of a kind of work (applied per thread).
struct Priority {
  int nice = 10;  // 0 (normal) to 19 (lowest)
  // I/O class: "none" (inherit), "best-effort" (level 0-7) or "idle".
  // ionice_level is 7 unless best-effort was given a level ("best-effort:N").
  std::string ionice_class = "idle";
  int ionice_level = 7;
  // At most this many bytes read per second (0: unlimited).
  uint64_t read_bytes_per_sec = 0;
  bool operator==(const Priority&) const = default;
};

struct IngestConfig {
  uint32_t max_concurrent = 1;     // ingests at once; others wait in the queue
  int64_t rescan_sec = 60;         // full spool rescan, beside inotify
  // keepfs admit: pushes admitted at once (running ingests included), and
  // how long an admission holds a slot while its push is not yet flagged.
  uint32_t admit_slots = 0;        // 0: 2 x max_concurrent; else >= max_concurrent
  int64_t admit_lease_sec = 3600;
  Priority priority;               // of the ingest workers

  // admit_slots, or its default.
  uint32_t AdmitSlots() const {
    return admit_slots ? admit_slots : 2 * std::max<uint32_t>(1, max_concurrent);
  }
};

struct ScheduleConfig {
  Schedule prune = *Schedule::Parse("daily 01:00");
  Schedule gc = *Schedule::Parse("daily 02:00");  // the sharing pass, then gc
  Schedule scrub = *Schedule::Parse("weekly sun 03:00");
  int scrub_percent = 10;          // of the pack bytes verified per scrub run
  Schedule store_backup = *Schedule::Parse("off");
  std::string store_backup_dest;   // required when store_backup is not off
                                   // (absolute after LoadServerConfig)
  Priority priority;               // of scheduled jobs
};

struct LogConfig {
  // Empty: the journal when run by systemd (JOURNAL_STREAM set), else stderr.
  std::string file;
  uint64_t max_bytes = 10ull << 20;  // rotate the file at this size
  uint32_t max_files = 5;            // rotated files kept
  std::string level = "info";        // trace, debug, info, warn, error
};

struct ServerConfig {
  std::string path;  // the file read (for messages)
  std::string store;
  std::string mountpoint;
  std::string spool;
  // The public control socket users reach the server through (mode 0666;
  // who may do what is decided by SO_PEERCRED, docs/server.md). Empty: none,
  // only root's STORE/control.sock.
  std::string socket = "/run/keepfs/keepfs.sock";
  uint32_t mount_threads = 16;  // [mount] threads
  IngestConfig ingest;
  ScheduleConfig schedule;
  LogConfig log;
  uint32_t attention_no_backup_days = 3;  // [attention] no_backup_days

  // The line of each key and table the file gives, by dotted name ("store",
  // "ingest", "schedule.store_backup_dest"): a check of a value made after
  // parsing can still name its line, through Where().
  std::map<std::string, int, std::less<>> lines;
  // How a message names a key: "PATH:LINE: spool",
  // "PATH:LINE: [schedule] store_backup_dest"; "PATH: KEY" for a key not given.
  std::string Where(std::string_view dotted_key) const;
};

// Parses a config text; path names the file in messages. Checks syntax,
// keys and values only (no file system access).
Result<ServerConfig> ParseServerConfig(std::string_view toml_text, const std::string& path);

// Reads and parses path, then checks the file system: store holds a keepfs
// store (a directory with config.toml; the database is not opened),
// mountpoint and spool are existing directories (a missing one is named with
// a hint that its disk may not be mounted), and the parents of
// store_backup_dest (when store_backup is on) and of log.file (when given)
// exist. Relative paths (store, mountpoint, spool, store_backup_dest,
// log.file) are made absolute against the config file's directory. Every
// error is InvalidArgument "PATH[:LINE]: KEY: what is wrong; what to do".
Result<ServerConfig> LoadServerConfig(const std::string& path);

}  // namespace keepfs::server
