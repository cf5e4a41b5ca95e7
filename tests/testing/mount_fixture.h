// MountFixture: a fresh store, a mount point other uids can reach, and a
// TestMount stopped at the end; the base of the FUSE test suites.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <memory>
#include <string>

#include "snapshot/snapshot_record.h"
#include "store/file_util.h"
#include "tests/testing/backup_util.h"
#include "tests/testing/mount_util.h"
#include "tests/testing/test_util.h"

namespace keepfs::testing {

class MountFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    // Other uids must be able to reach the mount point.
    ASSERT_EQ(::chmod(tmp_.path().c_str(), 0755), 0);
    mnt_ = tmp_.Join("mnt");
    ASSERT_OK(MakeDirs(mnt_));
    ASSERT_OK_AND_ASSIGN(store_, InitAndOpen(tmp_.Join("store")));
  }
  void TearDown() override { mount_.Stop(); }

  snapshot::SnapshotRecord Backup(const std::string& user, const std::string& src, int64_t t) {
    return BackupOrFail(store_.get(), user, src, t);
  }

  TempDir tmp_;
  std::string mnt_;
  std::unique_ptr<Store> store_;
  TestMount mount_;
};

}  // namespace keepfs::testing
