// Backup: walks a source directory and commits it as a new snapshot.
//
// The walk runs on the calling thread, in name order, depth first; regular
// files are read, chunked, hashed and compressed on a worker pool. A file
// whose path, inode, size, mtime and ctime match the files cache is not read.
// Commit order: chunks are sealed into fsynced packs before any record that
// references them is written, and the snapshot record, which makes the
// snapshot visible, is written last in a synced batch (docs/commit.md).
//
// Files that cannot be read are left out and listed in the snapshot's error
// list; the backup still commits (the CLI exits 3).
//
// Thread safety: backups may run at once in the one writer process (keepfs
// serve ingests several users' pushes side by side): each commits under the
// store's commit lock, and one that sees another commit since it began
// reads every count and holder list it changes instead of trusting that
// what it stored is held by nobody yet.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "snapshot/file_ingester.h"
#include "snapshot/snapshot_record.h"
#include "snapshot/source_fs.h"
#include "store/store.h"

namespace keepfs::snapshot {

struct BackupOptions {
  std::string user;
  std::string source;               // a directory; made absolute by the caller
  std::optional<int64_t> time_sec;  // default: now
  int workers = 0;                  // 0: one per core, at least 2
  bool use_files_cache = true;
  SourceFs* source_fs = nullptr;    // what to read; null: the real file system
  // When it becomes true the backup stops and commits nothing (Cancelled).
  const std::atomic<bool>* cancel = nullptr;
  // Tests: called after the walk, before the commit lock is taken (a forced
  // interleaving with the garbage collector). Null: none.
  std::function<void()> before_commit_for_test;
};

// Live view of a running backup, for progress display. Safe to read from
// another thread while Backup runs.
class BackupProgress {
 public:
  IngestCounters counters;
  void SetCurrent(const std::string& path) {
    std::lock_guard<std::mutex> lock(mu_);
    current_ = path;
  }
  std::string current() const {
    std::lock_guard<std::mutex> lock(mu_);
    return current_;
  }

 private:
  mutable std::mutex mu_;
  std::string current_;  // GUARDED_BY(mu_)
};

// Runs the backup and returns the committed record. The store must be open
// read-write. Errors before the commit leave no snapshot; what was already
// sealed is reused by the next backup.
Result<SnapshotRecord> Backup(Store* store, const BackupOptions& options,
                              BackupProgress* progress);

}  // namespace keepfs::snapshot
