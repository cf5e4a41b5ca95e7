#include "gc/report.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "gc/pins.h"
#include "snapshot/catalog.h"
#include "snapshot/repo.h"
#include "store/text.h"

namespace keepfs::gc {

namespace {
std::string Percent(uint64_t part, uint64_t whole) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", whole ? 100.0 * static_cast<double>(part) / whole : 0.0);
  return buf;
}

std::string Reasons(const RetentionDecision& d) {
  std::string s;
  for (const auto& r : d.reasons) s += (s.empty() ? "" : ", ") + r;
  return s;
}
}  // namespace

Result<UserUsage> ComputeUsage(Store* store, const std::string& user) {
  snapshot::Repo repo(store);
  UserUsage r;
  r.user = user;
  KEEPFS_ASSIGN_OR_RETURN(std::vector<snapshot::SnapshotRecord> snaps, repo.ListSnapshots(user));
  // Known users may have none left; unknown ones are an error.
  if (snaps.empty()) KEEPFS_RETURN_IF_ERROR(repo.RequireKnownUser(user));
  r.snapshots = snaps.size();
  for (const auto& s : snaps) {
    r.logical_all += s.stats.bytes_logical;
    if (s.is_husk()) {
      ++r.husks;
    } else {
      r.logical_newest = s.stats.bytes_logical;  // oldest first: the last whole one wins
      r.newest_time = s.time_sec;
    }
  }
  KEEPFS_ASSIGN_OR_RETURN(r.held, snapshot::LoadHoldings(store, user));
  KEEPFS_ASSIGN_OR_RETURN(std::vector<snapshot::Pin> pins, snapshot::ListPins(store, user));
  r.pins = pins.size();
  KEEPFS_ASSIGN_OR_RETURN(r.pinned, PinnedBytes(store, pins));
  r.quota = store->config().RetentionFor(user).quota_bytes;
  return r;
}

std::string UsageJson(const UserUsage& r) {
  std::string o = "{\"user\":" + JsonString(r.user) +
                  ",\"snapshots\":" + std::to_string(r.snapshots) +
                  ",\"husks\":" + std::to_string(r.husks) +
                  ",\"logical_newest\":" + std::to_string(r.logical_newest) +
                  ",\"logical_all\":" + std::to_string(r.logical_all) +
                  ",\"exclusive\":" + std::to_string(r.held.exclusive()) +
                  ",\"shared\":" + std::to_string(r.held.shared()) +
                  ",\"charged\":" + std::to_string(r.held.charged()) +
                  ",\"pins\":" + std::to_string(r.pins) +
                  ",\"pinned\":" + std::to_string(r.pinned) + ",\"quota\":";
  if (r.quota) {
    o += std::to_string(*r.quota) + ",\"quota_percent\":" + Percent(r.held.charged(), *r.quota);
  } else {
    o += "null,\"quota_percent\":null";
  }
  return o + "}";
}

std::string UsageText(const UserUsage& r) {
  std::string o = r.user + ": " + std::to_string(r.snapshots) + " snapshots";
  if (r.husks > 0) o += " (" + std::to_string(r.husks) + " of them husks)";
  o += "\n  logical   " + HumanBytes(r.logical_newest) + " newest, " +
       HumanBytes(r.logical_all) + " all snapshots\n";
  o += "  stored    " + HumanBytes(r.held.exclusive()) + " only theirs, " +
       HumanBytes(r.held.shared()) + " shared with other users\n";
  o += "  pinned    " + HumanBytes(r.pinned) + " in " + std::to_string(r.pins) +
       (r.pins == 1 ? " pin\n" : " pins\n");
  o += "  charged   " + HumanBytes(r.held.charged());
  if (r.quota) {
    o += " of " + HumanBytes(*r.quota) + " quota (" + Percent(r.held.charged(), *r.quota) + "%)";
  } else {
    o += " (no quota)";
  }
  return o + "\n";
}

Result<SharingReport> ComputeSharing(Store* store) {
  SharingReport r;
  KEEPFS_ASSIGN_OR_RETURN(std::vector<std::string> users, snapshot::Repo(store).ListUsers());
  std::map<uint64_t, uint64_t> by_holders;  // k -> bytes held by k, summed over users
  for (const auto& user : users) {
    KEEPFS_ASSIGN_OR_RETURN(snapshot::UserHoldings h, snapshot::LoadHoldings(store, user));
    for (const auto& [k, bytes] : h.bytes_by_holders) {
      r.without_sharing += bytes;
      by_holders[k] += bytes;
    }
    r.users.emplace_back(user, std::move(h));
  }
  for (const auto& [k, bytes] : by_holders) r.with_sharing += bytes / k;
  KEEPFS_ASSIGN_OR_RETURN(r.last_pass, LastSharingPass(store));
  return r;
}

std::string SharingText(const SharingReport& r) {
  std::string o;
  for (const auto& [user, h] : r.users) {
    o += user + ":";
    if (h.bytes_by_holders.empty()) o += " holds nothing";
    for (const auto& [k, bytes] : h.bytes_by_holders) {
      o += " " + HumanBytes(bytes) +
           (k == 1 ? " alone" : " with " + std::to_string(k - 1) + (k == 2 ? " other" : " others")) +
           ";";
    }
    if (o.back() == ';') o.pop_back();
    o += "\n";
  }
  o += "stored without sharing between users " + HumanBytes(r.without_sharing) + ", with it " +
       HumanBytes(r.with_sharing) + ": sharing saves " + HumanBytes(r.saved()) + " (" +
       Percent(r.saved(), r.without_sharing) + "%)\n";
  if (!r.last_pass) {
    o += "who shares with whom: no sharing pass yet ('keepfs share')\n";
    return o;
  }
  o += "last sharing pass " + snapshot::FormatUtcTime(r.last_pass->finished_unix) + " UTC: unified " +
       std::to_string(r.last_pass->unified) + " identical files stored under other recipes (" +
       HumanBytes(r.last_pass->unified_bytes) + ")\n";
  for (const PairShare& p : r.last_pass->pairs) {
    o += "  " + p.a + " & " + p.b + " both hold " + HumanBytes(p.bytes) + "\n";
  }
  if (r.last_pass->pairs.empty()) o += "  no stored data is shared between users\n";
  return o;
}

std::string SharingJson(const SharingReport& r) {
  std::string o = "{\"without_sharing\":" + std::to_string(r.without_sharing) +
                  ",\"with_sharing\":" + std::to_string(r.with_sharing) +
                  ",\"saved\":" + std::to_string(r.saved()) + ",\"users\":[";
  for (size_t i = 0; i < r.users.size(); ++i) {
    o += (i ? "," : "") + std::string("{\"user\":") + JsonString(r.users[i].first) +
         ",\"held_by\":{";
    bool first = true;
    for (const auto& [k, bytes] : r.users[i].second.bytes_by_holders) {
      o += (first ? "\"" : ",\"") + std::to_string(k) + "\":" + std::to_string(bytes);
      first = false;
    }
    o += "}}";
  }
  return o + "],\"last_pass\":" + (r.last_pass ? SharingPassJson(*r.last_pass) : "null") + "}";
}

std::string PruneText(const UserPrune& p, bool dry_run) {
  std::string o = p.user + " (" + p.policy.Describe() + "):\n";
  for (const auto& s : p.snapshots) {
    std::string fate = FateName(s.decision.fate);
    fate.resize(7, ' ');
    o += "  " + s.name + "  " + fate + Reasons(s.decision);
    if (s.decision.fate != Fate::kKeep) o += "  [frees " + HumanBytes(s.frees) + "]";
    o += "\n";
  }
  o += std::string("  ") + (dry_run ? "would free " : "freed ") + HumanBytes(p.frees) +
       " (reclaimed by garbage collection); charged " + HumanBytes(p.plan.charged_before) +
       " -> " + HumanBytes(p.plan.charged_after);
  if (p.plan.quota_bytes) {
    o += " of " + HumanBytes(*p.plan.quota_bytes) + " quota" +
         (p.plan.over_quota_after ? ": STILL OVER (the rest is protected)" : "");
  }
  return o + "\n";
}

std::string PruneJson(const UserPrune& p) {
  std::string o = "{\"user\":" + JsonString(p.user) + ",\"policy\":" +
                  JsonString(p.policy.Describe()) + ",\"snapshots\":[";
  for (size_t i = 0; i < p.snapshots.size(); ++i) {
    const auto& s = p.snapshots[i];
    o += std::string(i ? "," : "") + "{\"name\":" + JsonString(s.name) +
         ",\"fate\":" + JsonString(FateName(s.decision.fate)) + ",\"reasons\":[";
    for (size_t j = 0; j < s.decision.reasons.size(); ++j) {
      o += (j ? "," : "") + JsonString(s.decision.reasons[j]);
    }
    o += "],\"frees\":" + std::to_string(s.frees) + "}";
  }
  o += "],\"frees\":" + std::to_string(p.frees) +
       ",\"charged_before\":" + std::to_string(p.plan.charged_before) +
       ",\"charged_after\":" + std::to_string(p.plan.charged_after) + ",\"quota\":" +
       (p.plan.quota_bytes ? std::to_string(*p.plan.quota_bytes) : std::string("null")) +
       ",\"over_quota\":" + (p.plan.over_quota_after ? "true" : "false") + "}";
  return o;
}

Result<std::string> PinsReport(Store* store, const std::vector<snapshot::Pin>& pins, bool json) {
  std::map<std::pair<std::string, std::string>, bool> husk;
  snapshot::Repo repo(store);
  for (const auto& p : pins) {
    auto key = std::make_pair(p.user, p.snapshot);
    if (husk.count(key)) continue;
    auto s = repo.FindSnapshot(p.user, p.snapshot);
    if (!s.ok() && s.status().code() != StatusCode::kNotFound) return s.status();
    husk[key] = s.ok() && s->is_husk();
  }
  std::string o = json ? "[" : "";
  for (size_t i = 0; i < pins.size(); ++i) {
    const auto& p = pins[i];
    bool in_husk = husk[{p.user, p.snapshot}];
    if (json) {
      o += std::string(i ? ",\n" : "") + "{\"user\":" + JsonString(p.user) +
           ",\"snapshot\":" + JsonString(p.snapshot) + ",\"path\":" + JsonString(p.path) +
           ",\"type\":" + JsonString(snapshot::EntryTypeName(p.type)) +
           ",\"pinned\":" + JsonString(snapshot::FormatUtcTime(p.created_unix)) +
           ",\"by_uid\":" + std::to_string(p.by_uid) +
           ",\"husk\":" + (in_husk ? "true" : "false") + "}";
    } else {
      o += p.user + " " + p.snapshot + " /" + p.path + "  (" + snapshot::EntryTypeName(p.type) +
           ", pinned " + snapshot::FormatUtcTime(p.created_unix) + " UTC by uid " +
           std::to_string(p.by_uid) + (in_husk ? ", in a husk" : "") + ")\n";
    }
  }
  if (json) o += "]\n";
  return o;
}

}  // namespace keepfs::gc
