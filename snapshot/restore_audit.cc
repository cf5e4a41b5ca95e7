#include "snapshot/restore_audit.h"

#include <algorithm>
#include <ctime>
#include <map>
#include <set>
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
  std::map<std::pair<std::string, std::string>, std::set<std::string>> damaged;
  std::vector<CheckedObject> problems;
  KEEPFS_ASSIGN_OR_RETURN(CheckSummary s, CheckStore(store, o, [&](const CheckedObject& obj) {
    if (obj.ok()) return;
    problems.push_back(obj);
    ++audit.problems;
    if (audit.problem_lines.size() < kMaxProblemLines) {
      audit.problem_lines.push_back(obj.state + ": " + obj.kind + " " + obj.id + ": " +
                                    obj.message);
    }
    for (const Affected& a : obj.affects) damaged[{a.user, a.snapshot}].insert(a.path);
  }));
  audit.snapshots = s.snapshots;
  // Counted by the check itself as well: a problem found but not reported
  // through on_object would be a check bug, not a clean store.
  audit.problems = std::max<uint64_t>(audit.problems, s.problems);
  // Marked, as repair marks what it cannot mend: `keepfs snapshots` shows
  // them DAMAGED and their files read as errors until a repair mends them.
  KEEPFS_RETURN_IF_ERROR(
      QuarantineProblems(store, problems, static_cast<int64_t>(std::time(nullptr))).status());
  for (auto& [key, paths] : damaged) {
    audit.damaged.push_back({key.first, key.second, {paths.begin(), paths.end()}});
  }
  return audit;
}

}  // namespace keepfs::snapshot
