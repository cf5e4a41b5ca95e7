// The offline restore of a store from its own backup (keepfs store-restore,
// docs/integrity.md "Offline restore"): BACKUP, a copy made by
// store/store_backup.h, becomes the store directory STORE again.
//
// The order is what makes a kill at any instant harmless:
//   1. BACKUP's MANIFEST is read and every file it names is checked for
//      presence and size (hashes are checked while copying, below).
//   2. STORE's lock is taken exclusively (nothing can open or mount STORE
//      meanwhile) and STORE/RESTORING is written (store/restore_marker.h)
//      before anything else in STORE changes. From then until step 7,
//      Store::Open and Store::Init refuse STORE.
//   3. Packs: each copied into STORE/tmp, hashed on the way and compared
//      with the manifest, fsynced, renamed to its final name, directory
//      fsynced. A mismatch stops the restore, naming the file. A pack under
//      its final name is whole, so a resume skips it.
//   4. Metadata: meta.N copied into STORE/meta.restoring/ (hash-checked,
//      each file fsynced), then renamed to STORE/meta. A meta/ of the store
//      being replaced is moved to STORE/meta.replaced.TIME/, never deleted.
//   5. Config: config.N.toml written to STORE/config.toml atomically.
//   6. Audit: STORE is opened under the restore's lock despite the marker
//      and options.audit runs on it (snapshot/restore_audit.h: a check).
//   7. The marker is removed (unlink, directory fsynced), even if the audit
//      found damage: the store is consistent and openable then, and the
//      damaged snapshots are reported by name.
// With replace (a STORE that holds a damaged store): before step 3, its
// packs that the manifest lists with the same size and SHA-256 are kept,
// every other file under packs/ is moved to STORE/packs.replaced.TIME/, and
// its config.toml to STORE/config.replaced.TIME.toml.
//
// Thread safety: one restore per STORE (the lock); RestoreStore blocks. The
// restoring process must not open STORE itself (see Store::LockExclusive).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "store/status.h"
#include "store/store.h"

namespace keepfs {

// A snapshot the restored store cannot fully serve, by name.
struct DamagedSnapshot {
  std::string user, snapshot;
  std::vector<std::string> paths;  // the affected paths, sorted; "" = its root
};

// What the audit of step 6 found.
struct RestoreAudit {
  uint64_t snapshots = 0;  // snapshots checked
  uint64_t problems = 0;
  std::vector<std::string> problem_lines;  // "STATE: KIND ID: MESSAGE", the first 100
  std::vector<DamagedSnapshot> damaged;    // sorted by user, then snapshot
};

struct StoreRestoreOptions {
  std::string backup;  // the store-backup copy
  std::string store;   // the directory to restore into
  // Continue an interrupted restore: STORE must hold RESTORING naming the same
  // backup path, generation and store id.
  bool resume = false;
  // STORE holds a (damaged) keepfs store: replace it, as described above.
  bool replace = false;
  // Phases "backup" (files checked, total), "sweep", "packs" and "metadata"
  // (done, total), "config", then whatever audit reports.
  std::function<void(const std::string& phase, uint64_t done, uint64_t total)> progress;
  // Step 6; runs on the restored store, opened read-write. Null: the store is
  // only opened (and so shown to open). An error stops the restore with the
  // marker in place.
  std::function<Result<RestoreAudit>(Store* restored)> audit;
};

struct StoreRestoreResult {
  std::string store_id;
  uint64_t generation = 0;
  bool resumed = false;
  uint64_t packs = 0;              // packs the manifest lists
  uint64_t packs_copied = 0;
  uint64_t packs_skipped = 0;      // already in place: a resume's, or kept by replace
  uint64_t packs_kept = 0;         // the replaced store's own packs found equal (hashed)
  uint64_t packs_moved_aside = 0;  // files of packs/ moved to packs.replaced.TIME/
  uint64_t bytes_copied = 0;       // pack, metadata and config bytes written
  uint64_t meta_files = 0;
  std::vector<std::string> moved_aside;  // what was moved aside, relative to STORE
  RestoreAudit audit;
  bool ok() const { return audit.problems == 0; }
};

// Steps 1-7. Errors (the marker stays once written): NotFound when BACKUP has
// no MANIFEST; Corruption naming a file that is missing, of another size or
// hashes differently from the manifest; Busy when STORE's lock is held
// ("in use by PID N"); InvalidArgument when STORE is not empty and not a
// store, is a store and replace is not set, holds a marker and resume is not
// set (or the reverse), or the marker names another backup or generation.
Result<StoreRestoreResult> RestoreStore(const StoreRestoreOptions& options);

}  // namespace keepfs
