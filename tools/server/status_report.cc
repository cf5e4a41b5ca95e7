#include "tools/server/status_report.h"

#include <algorithm>
#include <sstream>

#include "gc/report.h"
#include "snapshot/catalog.h"
#include "snapshot/quarantine.h"
#include "snapshot/repo.h"
#include "store/config.h"
#include "store/text.h"

namespace keepfs::server {

namespace {
std::string Time(int64_t t) { return snapshot::FormatUtcTime(t) + " UTC"; }

std::string Ago(int64_t now, int64_t then) {
  return now > then ? FormatDuration(std::max<int64_t>(60, (now - then) / 60 * 60)) + " ago" : "now";
}

// "ok 2026-11-22 02:00:03 UTC (12 s): <summary>"
std::string LastRun(const JobRecord& r) {
  std::string s = r.result + " " + Time(r.started_unix);
  if (r.finished_unix) s += " (" + std::to_string(r.finished_unix - r.started_unix) + " s)";
  if (!r.summary.empty()) s += ": " + r.summary;
  return s;
}

void Attend(const std::vector<JobRecord>& records, std::vector<std::string>* out) {
  for (const auto& j : records) {
    if (j.result == "failed") {
      out->push_back("job " + j.name + " failed on " + Time(j.started_unix) + " (exit " +
                     std::to_string(j.exit_code) + "): " + j.summary + "; see the log");
    } else if (j.result == "problems") {
      out->push_back("job " + j.name + " found problems on " + Time(j.started_unix) + ": " +
                     j.summary + (j.name == "scrub" ? "; run 'keepfs check' for the list and "
                                                      "'keepfs repair' (docs/integrity.md)"
                                                    : "; see the log"));
    }
  }
}

std::string JsonOpt(const std::optional<int64_t>& v) { return v ? std::to_string(*v) : "null"; }

std::string RecordJson(const JobRecord& j) {
  std::ostringstream o;
  o << "{\"name\":" << JsonString(j.name) << ",\"result\":" << JsonString(j.result)
    << ",\"started_unix\":" << j.started_unix << ",\"finished_unix\":" << j.finished_unix
    << ",\"exit_code\":" << j.exit_code << ",\"summary\":" << JsonString(j.summary) << "}";
  return o.str();
}
}  // namespace

Result<StatusReport> GatherStatus(Store* store, const ServerStatus* server,
                                  uint32_t no_backup_days, int64_t now_unix) {
  StatusReport r;
  r.now_unix = now_unix;
  if (server) r.server = *server;
  KEEPFS_ASSIGN_OR_RETURN(r.job_records, LoadJobRecords(store));
  snapshot::Repo repo(store);
  KEEPFS_ASSIGN_OR_RETURN(std::vector<std::string> users, repo.ListUsers());
  for (const auto& user : users) {
    UserStatus u;
    u.user = user;
    KEEPFS_ASSIGN_OR_RETURN(gc::UserUsage usage, gc::ComputeUsage(store, user));
    u.snapshots = usage.snapshots;
    u.last_backup_unix = usage.newest_time;
    u.charged = usage.held.charged();
    u.quota = usage.quota;
    u.pins = usage.pins;
    const int64_t limit = static_cast<int64_t>(no_backup_days) * 86400;
    if (!u.last_backup_unix) {
      r.attention.push_back(user + ": no backup at all yet; check the laptop's push (docs/server.md)");
    } else if (now_unix - *u.last_backup_unix > limit) {
      r.attention.push_back(user + ": no backup for " + FormatDuration((now_unix - *u.last_backup_unix) / 86400 * 86400) +
                            " (last " + Time(*u.last_backup_unix) + "); check the laptop's push");
    }
    if (u.quota && u.charged > *u.quota) {
      r.attention.push_back(user + ": over quota (" + HumanBytes(u.charged) + " charged, quota " +
                            HumanBytes(*u.quota) + "); prune removes old snapshots down to it, "
                            "pins and the newest snapshot stay (docs/retention.md)");
    }
    r.users.push_back(std::move(u));
  }
  KEEPFS_ASSIGN_OR_RETURN(auto quarantined, snapshot::ListQuarantine(store, ""));
  for (const auto& [key, q] : quarantined) {
    r.attention.push_back(q.user + "/" + q.snapshot + ": damaged, " + std::to_string(q.paths.size()) +
                          " paths quarantined since " + Time(q.since_unix) +
                          "; 'keepfs repair --from COPY' may mend it (docs/integrity.md)");
  }
  Attend(r.job_records, &r.attention);
  if (server) {
    for (const auto& f : server->recent_failures) r.attention.push_back("push not ingested: " + f);
  }
  return r;
}

std::string StatusText(const StatusReport& r) {
  std::ostringstream o;
  if (r.server) {
    const ServerStatus& s = *r.server;
    o << "server: running since " << Time(s.started_unix) << "; mount " << s.mountpoint << "; spool "
      << s.spool << "\n";
    o << "ingest: " << s.running.size() << " running, " << s.queued.size() << " queued (at most "
      << s.max_concurrent << " at once); " << s.admitted.size() << " of " << s.admit_slots
      << " admission slots held\n";
    for (const auto& i : s.running) {
      o << "  running  " << i.user << "  push of " << Time(i.flag_unix) << ", started "
        << Ago(r.now_unix, i.started_unix) << ": " << i.files << " files, " << HumanBytes(i.bytes_read)
        << " read" << (i.current.empty() ? "" : ", at " + i.current) << "\n";
    }
    for (const auto& q : s.queued) {
      o << "  queued   " << q.user << "  push of " << Time(q.flag_unix) << ", waiting since "
        << Time(q.queued_unix) << "\n";
    }
    for (const auto& a : s.admitted) {
      o << "  admitted " << a.user << "  until " << Time(a.until_unix) << "\n";
    }
    o << "jobs:\n";
    for (const auto& j : s.jobs) {
      o << "  " << j.name << " (" << j.schedule << ")";
      if (j.running) {
        o << ": running since " << (j.last ? Time(j.last->started_unix) : "now")
          << (j.progress.empty() ? "" : ": " + j.progress);
      } else {
        o << ": last " << (j.last ? LastRun(*j.last) : "never");
        if (j.next_unix && *j.next_unix <= r.now_unix) {
          o << "; queued (due since " << Time(*j.next_unix) << ", after the job running)";
        } else if (j.next_unix) {
          o << "; next " << Time(*j.next_unix);
        }
      }
      o << "\n";
    }
  } else {
    o << "server: not running (no 'keepfs serve' holds this store)\n";
    if (!r.job_records.empty()) o << "jobs (last runs):\n";
    for (const auto& j : r.job_records) o << "  " << j.name << ": " << LastRun(j) << "\n";
  }
  o << "users:\n";
  if (r.users.empty()) o << "  (none yet)\n";
  for (const auto& u : r.users) {
    o << "  " << u.user << ": last backup "
      << (u.last_backup_unix ? Time(*u.last_backup_unix) : "never") << ", " << u.snapshots
      << (u.snapshots == 1 ? " snapshot, " : " snapshots, ") << HumanBytes(u.charged) << " charged"
      << (u.quota ? " of " + HumanBytes(*u.quota) + " quota" : "") << ", " << u.pins
      << (u.pins == 1 ? " pin\n" : " pins\n");
  }
  if (r.attention.empty()) {
    o << "attention: nothing\n";
  } else {
    o << "attention:\n";
    for (const auto& a : r.attention) o << "  " << a << "\n";
  }
  return o.str();
}

std::string StatusJson(const StatusReport& r) {
  std::ostringstream o;
  o << "{\"now_unix\":" << r.now_unix << ",\"server\":";
  if (r.server) {
    const ServerStatus& s = *r.server;
    o << "{\"started_unix\":" << s.started_unix << ",\"mountpoint\":" << JsonString(s.mountpoint)
      << ",\"spool\":" << JsonString(s.spool) << ",\"max_concurrent\":" << s.max_concurrent
      << ",\"admit_slots\":" << s.admit_slots << ",\"running\":[";
    for (size_t i = 0; i < s.running.size(); ++i) {
      const auto& x = s.running[i];
      o << (i ? "," : "") << "{\"user\":" << JsonString(x.user) << ",\"flag_unix\":" << x.flag_unix
        << ",\"started_unix\":" << x.started_unix << ",\"files\":" << x.files
        << ",\"bytes_read\":" << x.bytes_read << ",\"current\":" << JsonString(x.current) << "}";
    }
    o << "],\"queued\":[";
    for (size_t i = 0; i < s.queued.size(); ++i) {
      const auto& x = s.queued[i];
      o << (i ? "," : "") << "{\"user\":" << JsonString(x.user) << ",\"flag_unix\":" << x.flag_unix
        << ",\"queued_unix\":" << x.queued_unix << "}";
    }
    o << "],\"admitted\":[";
    for (size_t i = 0; i < s.admitted.size(); ++i) {
      o << (i ? "," : "") << "{\"user\":" << JsonString(s.admitted[i].user)
        << ",\"until_unix\":" << s.admitted[i].until_unix << "}";
    }
    o << "],\"jobs\":[";
    for (size_t i = 0; i < s.jobs.size(); ++i) {
      const auto& j = s.jobs[i];
      o << (i ? "," : "") << "{\"name\":" << JsonString(j.name) << ",\"schedule\":"
        << JsonString(j.schedule) << ",\"next_unix\":" << JsonOpt(j.next_unix)
        << ",\"running\":" << (j.running ? "true" : "false") << ",\"progress\":"
        << JsonString(j.progress) << ",\"last\":" << (j.last ? RecordJson(*j.last) : "null") << "}";
    }
    o << "]}";
  } else {
    o << "null";
  }
  o << ",\"job_records\":[";
  for (size_t i = 0; i < r.job_records.size(); ++i) o << (i ? "," : "") << RecordJson(r.job_records[i]);
  o << "],\"users\":[";
  for (size_t i = 0; i < r.users.size(); ++i) {
    const auto& u = r.users[i];
    o << (i ? "," : "") << "{\"user\":" << JsonString(u.user)
      << ",\"last_backup_unix\":" << JsonOpt(u.last_backup_unix) << ",\"snapshots\":" << u.snapshots
      << ",\"charged\":" << u.charged << ",\"quota\":"
      << (u.quota ? std::to_string(*u.quota) : "null") << ",\"pins\":" << u.pins << "}";
  }
  o << "],\"attention\":[";
  for (size_t i = 0; i < r.attention.size(); ++i) o << (i ? "," : "") << JsonString(r.attention[i]);
  o << "]}";
  return o.str();
}

}  // namespace keepfs::server
