#include "snapshot/restore_audit.h"

#include <algorithm>
#include <ctime>
#include <utility>

#include "snapshot/check.h"
#include "snapshot/quarantine.h"

namespace keepfs::snapshot {

namespace {
constexpr size_t kMaxProblemLines = 100;
}  // namespace

Result<RestoreAudit> AuditRestoredStore(Store* store, const RestoreAuditOptions& options) {
  CheckOptions o;
  o.verify_data = options.verify_data;
  o.progress = options.progress;
  RestoreAudit audit;
  std::vector<CheckedObject> problems;
  KEEPFS_ASSIGN_OR_RETURN(CheckSummary s, CheckStore(store, o, [&](const CheckedObject& obj) {
    if (obj.ok()) return;
    problems.push_back(obj);
    ++audit.problems;
    if (audit.problem_lines.size() < kMaxProblemLines) {
      audit.problem_lines.push_back(obj.state + ": " + obj.kind + " " + obj.id + ": " +
                                    obj.message);
    }
  }));
  audit.snapshots = s.snapshots;
  // Counted by the check itself as well: a problem found but not reported
  // through on_object would be a check bug, not a clean store.
  audit.problems = std::max<uint64_t>(audit.problems, s.problems);
  // Marked, as repair marks what it cannot mend: `keepfs snapshots` shows
  // them DAMAGED and their files read as errors until a repair mends them.
  // The records, one per snapshot (in user, snapshot order), are the report.
  KEEPFS_ASSIGN_OR_RETURN(
      std::vector<Quarantine> marked,
      QuarantineProblems(store, problems, static_cast<int64_t>(std::time(nullptr))));
  for (const Quarantine& q : marked) {
    DamagedSnapshot d{q.user, q.snapshot, {}};
    for (const QuarantinedPath& p : q.paths) d.paths.push_back(p.path);
    std::sort(d.paths.begin(), d.paths.end());
    audit.damaged.push_back(std::move(d));
  }
  return audit;
}

}  // namespace keepfs::snapshot
