// BackupOrFail: one backup for tests that need snapshots as a given, not as
// the subject (the mount's tests). A failure is a test failure; the returned
// record is then empty. ReadSnapshotFile: a file of a snapshot read back
// through Repo.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "snapshot/ingest.h"
#include "snapshot/repo.h"
#include "tests/testing/test_util.h"

namespace keepfs::testing {

inline snapshot::SnapshotRecord BackupOrFail(Store* store, const std::string& user,
                                             const std::string& source, int64_t time_sec) {
  snapshot::BackupOptions o;
  o.user = user;
  o.source = source;
  o.time_sec = time_sec;
  o.workers = 2;
  auto r = snapshot::Backup(store, o, nullptr);
  EXPECT_OK(r);
  return r.ok() ? *r : snapshot::SnapshotRecord{};
}

// The bytes of the file at path in snap, holes as zeros. InvalidArgument for
// something that is not a file; Corruption when the parts do not add up.
inline Result<std::string> ReadSnapshotFile(Store* store, const snapshot::SnapshotRecord& snap,
                                            const std::string& path) {
  snapshot::Repo repo(store);
  KEEPFS_ASSIGN_OR_RETURN(snapshot::Entry e, repo.ResolvePath(snap, path));
  if (e.type != snapshot::EntryType::kFile) return Status::InvalidArgument(path + " is not a file");
  KEEPFS_ASSIGN_OR_RETURN(snapshot::Content c, repo.GetContent(e.ref));
  if (c.size != e.size) return Status::Corruption(path + ": entry and content sizes differ");
  std::string out(c.size, '\0');
  uint64_t next = 0;
  KEEPFS_RETURN_IF_ERROR(repo.ReadContent(c, [&](uint64_t off, std::string_view d) {
    if (off < next || off + d.size() > out.size()) return Status::Corruption("bad offset");
    std::memcpy(out.data() + off, d.data(), d.size());
    next = off + d.size();
    return Status::OK();
  }));
  return out;
}

}  // namespace keepfs::testing
