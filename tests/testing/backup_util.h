// BackupOrFail: one backup for tests that need snapshots as a given, not as
// the subject (the mount's tests). A failure is a test failure; the returned
// record is then empty.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "snapshot/ingest.h"
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

}  // namespace keepfs::testing
