#include "snapshot/restore_audit.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "snapshot/check.h"

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
  KEEPFS_ASSIGN_OR_RETURN(CheckSummary s, CheckStore(store, o, [&](const CheckedObject& obj) {
    if (obj.ok()) return;
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
  for (auto& [key, paths] : damaged) {
    audit.damaged.push_back({key.first, key.second, {paths.begin(), paths.end()}});
  }
  return audit;
}

}  // namespace keepfs::snapshot
