// CommitSnapshot: the commit point of a new snapshot, shared by everything
// that makes one (Backup, and tools/bench/make_history, which builds trees
// directly). Under the store's commit lock it names the snapshot, counts its
// references (accounting.h) and writes the snapshot record in one synced
// batch together with whatever the MetaBuffer still holds (docs/commit.md,
// "Committing a snapshot").
//
// Thread safety: takes Store::commit_mu itself; callers must not hold it.
#pragma once

#include <atomic>
#include <cstdint>

#include "snapshot/accounting.h"
#include "snapshot/meta_buffer.h"
#include "snapshot/snapshot_record.h"
#include "store/store.h"

namespace keepfs::snapshot {

struct CommitOptions {
  // What the caller stored because it found it absent (may be null): the
  // reference walk reads none of it back.
  const NewObjects* fresh = nullptr;
  // Store::backup_commits() read before the caller stored anything: if
  // another commit came since, what fresh lists may be held already.
  uint64_t commits_at_start = 0;
  // When it is true once the lock is held, nothing is committed (Cancelled).
  const std::atomic<bool>* cancel = nullptr;
};

// Commits rec as user rec.user's newest snapshot at rec.time_sec and returns
// it with name, seq, number and finished_ns filled in. The caller fills
// everything else (root, source, hostname, started_ns, stats, errors,
// root_meta, links).
//
// Preconditions: every tree node and content rec.root reaches is stored or
// in meta (whose batches are written by the commit, after the chunks they
// name are sealed), and the caller's ObjectGuard hold covers whatever it
// reused, until this returns. The store is open read-write.
//
// Errors leave no snapshot: Cancelled, Corruption from the reference walk
// (an object of the DAG is missing or damaged), or the store's write error.
Result<SnapshotRecord> CommitSnapshot(Store* store, MetaBuffer* meta, SnapshotRecord rec,
                                      const CommitOptions& options);

}  // namespace keepfs::snapshot
