#include "snapshot/commit.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <mutex>

#include "snapshot/catalog.h"
#include "snapshot/repo.h"
#include "snapshot/users.h"

namespace keepfs::snapshot {

namespace {
int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

Result<SnapshotRecord> CommitSnapshot(Store* store, MetaBuffer* meta, SnapshotRecord rec,
                                      const CommitOptions& options) {
  // Every tree and content record is written before the reference counts
  // walk them; the counts, the name and the record then commit as one.
  KEEPFS_RETURN_IF_ERROR(meta->Flush());
  std::lock_guard<std::mutex> commit_lock(store->commit_mu());
  KEEPFS_ASSIGN_OR_RETURN(rec.seq, Repo(store).NextSeq(rec.user, rec.time_sec));
  rec.name = FormatSnapshotName(rec.time_sec, rec.seq);
  rec.finished_ns = NowNs();
  if (options.cancel && options.cancel->load()) {
    return Status::Cancelled("backup cancelled; nothing was committed");
  }
  KEEPFS_RETURN_IF_ERROR(EnsureUser(store, rec.user).status());
  KEEPFS_ASSIGN_OR_RETURN(rec.number, store->AllocateNumber());
  int64_t refs_start = NowNs();
  KEEPFS_ASSIGN_OR_RETURN(
      MetaBuffer::Records last,
      AddSnapshotRefs(store, rec.user, rec.root, options.fresh,
                      /*others_committed=*/store->backup_commits() != options.commits_at_start));
  spdlog::debug("{}: {} reference and usage records in {:.3f} s", rec.user, last.size(),
                static_cast<double>(NowNs() - refs_start) / 1e9);
  last.emplace_back(SnapshotKey(rec.user, rec.name), EncodeSnapshotRecord(rec));
  KEEPFS_RETURN_IF_ERROR(meta->Commit(last));
  store->NoteBackupCommit();  // still under the commit lock
  store->SnapshotChanged(rec.user, rec.name);
  return rec;
}

}  // namespace keepfs::snapshot
