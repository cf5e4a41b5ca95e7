// The audit that ends keepfs store-restore (store/store_restore.h, step 6):
// a check of the restored store (snapshot/check.h) whose verdict is the
// snapshots that cannot be fully served, each by user/snapshot with the
// affected paths, so that no damage the backup carried goes unnoticed.
//
// Structural by default: every pack present with its size, every chunk
// every content needs indexed inside a present pack, every content, tree,
// snapshot and pin whole. verify_data also re-reads and re-hashes every chunk.
//
// Thread safety: as CheckStore; runs on a store nothing else uses.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "store/status.h"
#include "store/store.h"
#include "store/store_restore.h"

namespace keepfs::snapshot {

struct RestoreAuditOptions {
  bool verify_data = false;
  // The check's phases and objects done (CheckOptions::progress).
  std::function<void(const std::string& phase, uint64_t done)> progress;
};

// A check of the whole store (never a resume of an earlier one). Errors are
// the check's: the store could not be read at all.
Result<RestoreAudit> AuditRestoredStore(Store* store, const RestoreAuditOptions& options);

}  // namespace keepfs::snapshot
