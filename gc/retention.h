// Retention: which snapshots of one user prune keeps, forgets or turns into
// husks, and why. A pure function of (snapshots, pins, policy, usage, now):
// the same inputs give the same plan, so a dry run and a real run agree.
// The rules and the worked school example: docs/retention.md.
//
//   1. The newest snapshot is always kept.
//   2. keep-within, keep-last, keep-first and the calendar rules (keep-hourly
//      ... keep-yearly: the newest snapshot of each of the last N hours, days,
//      ISO weeks, months, years that have one; UTC) keep what they select.
//   3. Everything else goes: a snapshot that holds pins becomes a husk (only
//      the pinned paths and their parent folders stay), others are forgotten.
//   4. Quota (soft): while the user's charged bytes exceed the quota, the
//      oldest snapshot kept only by calendar rules goes too (a husk if it
//      holds pins). The newest and what keep-within, keep-last and keep-first
//      keep are never taken for quota: what is still over is reported.
//
// Thread safety: pure functions; a ChargeModel is used by one plan at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/config.h"
#include "store/status.h"

namespace keepfs::gc {

struct RetentionSnapshot {
  std::string name;
  int64_t time_sec = 0;  // UTC seconds
  uint64_t pins = 0;     // pinned paths in it
  bool husk = false;     // already a husk: only its pins keep it
  uint32_t seq = 0;      // the _N of a name taken at the same second ("_10" is after "_9")
};

// The user's charged bytes as snapshots are forgotten one by one. Planning
// calls Forget in the order the plan forgets them (oldest first), so the
// model can answer exactly, shared chunks included.
class ChargeModel {
 public:
  virtual ~ChargeModel() = default;
  virtual uint64_t Charged() const = 0;
  // snapshots[index] goes (to a husk if it holds pins).
  virtual void Forget(size_t index) = 0;
};

enum class Fate { kKeep, kForget, kHusk };
const char* FateName(Fate f);  // "keep", "forget", "husk"

struct RetentionDecision {
  Fate fate = Fate::kKeep;
  // Keep: every rule that keeps it ("newest", "within 30d", "last 3",
  // "first", "daily 2026-11-21", "weekly 2026-W47", "monthly 2026-11", ...).
  // Forget or husk: "no rule keeps it" or "over quota", then "pinned: N paths".
  std::vector<std::string> reasons;
};

struct RetentionPlan {
  std::vector<RetentionDecision> decisions;  // one per input snapshot, same order
  std::optional<uint64_t> quota_bytes;
  uint64_t charged_before = 0;  // with a ChargeModel; else 0
  uint64_t charged_after = 0;
  bool over_quota_after = false;  // still over: what remains is protected
};

// snapshots: one user's, oldest first (by time, then name). charge may be
// null when the policy has no quota. InvalidArgument if they are not sorted.
Result<RetentionPlan> PlanRetention(const std::vector<RetentionSnapshot>& snapshots,
                                    const RetentionPolicy& policy, int64_t now_sec,
                                    ChargeModel* charge);

}  // namespace keepfs::gc
