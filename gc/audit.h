// The auditor: a mark-and-sweep recount from the roots that checks the
// exact counts the collector relies on (docs/gc.md, "Auditor").
//
// Mark: for each user, under the commit lock (that user's counts cannot
// change meanwhile), every snapshot root and pin is walked and the
// references are recounted by the rule of snapshot/accounting.h. Compared
// with the stored `r` counts and `h` holder lists:
//   - a count below the recount, or a holder missing, could let the
//     collector delete something reachable: it is raised (unless dry_run)
//     and reported;
//   - a count above the recount, or an extra holder, only keeps garbage: it
//     is reported and left as it is (an auditor never lowers a count);
//   - either way the user's account is recomputed and compared, and
//     rewritten if any holder list changed.
// Every disagreement is a bug in keepfs and is reported as one.
//
// Sweep: every tree, content and chunk record that no user holds and that
// is not queued is an orphan (an interrupted backup's, or a bug's): it is
// queued (`Q`) so that the next collection deletes it, unless a hold covers it.
//
// Memory: the recount of one user at a time, about 80 bytes per distinct
// object that user references.
//
// Thread safety: may run beside backups, mounts and the collector.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "gc/collector.h"
#include "store/store.h"

namespace keepfs::gc {

struct AuditOptions {
  bool dry_run = false;  // report only
  const std::atomic<bool>* cancel = nullptr;
  std::function<void(const GcProgress&)> progress;  // called now and then; may be null
};

struct AuditResult {
  bool dry_run = false;
  bool cancelled = false;
  uint64_t users = 0;
  uint64_t references = 0;  // distinct (user, object) pairs recounted
  uint64_t raised = 0;      // counts below the recount (raised unless dry_run)
  uint64_t over = 0;        // counts above the recount, or left for an unreachable object
  uint64_t holders_added = 0;
  uint64_t holders_extra = 0;
  uint64_t accounts_wrong = 0;
  uint64_t records_swept = 0;  // tree, content and chunk records looked at
  uint64_t orphans = 0;        // queued for collection (unless dry_run)
  std::vector<std::string> findings;  // one line per disagreement (the first 100)

  bool clean() const { return raised + over + holders_added + holders_extra + accounts_wrong == 0; }
};

Result<AuditResult> Audit(Store* store, const AuditOptions& options);

std::string AuditText(const AuditResult& r);
std::string AuditJson(const AuditResult& r);

}  // namespace keepfs::gc
