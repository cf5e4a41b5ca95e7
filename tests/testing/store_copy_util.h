// The "days" workload of the store-backup and store-restore tests, and the
// check that a store made from a copy is whole.
//
// Day d of a user writes file f<d> (600000 bytes, random from seed d) into
// the user's source folder, removes f<d-2>, and backs the folder up; so the
// bytes every snapshot's files must have follow from their names alone.
// Users backing up the same days share every chunk.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "snapshot/repo.h"
#include "store/file_util.h"
#include "tests/testing/backup_util.h"
#include "tests/testing/check_util.h"
#include "tests/testing/refs_oracle.h"
#include "tests/testing/test_util.h"

namespace keepfs::testing {

inline constexpr int64_t kDay1 = 1790823600;  // 2026-10-01T03:00:00Z
inline constexpr size_t kDayFileSize = 600000;

inline snapshot::SnapshotRecord BackupDay(Store* store, const std::string& user,
                                          const std::string& src, int d) {
  ::unlink((src + "/f" + std::to_string(d - 2)).c_str());
  EXPECT_OK(WriteFile(src + "/f" + std::to_string(d), RandomBytes(kDayFileSize, d)));
  return BackupOrFail(store, user, src, kDay1 + d * 86400);
}

// `keepfs check --verify-data` is clean, the counts equal a recount, and
// every file of every snapshot of each user reads back byte-identical.
// what names the store in failure messages.
inline void ExpectDaysWhole(Store* store, const std::vector<std::string>& users,
                            const std::string& what) {
  ExpectCheckClean(store);
  ExpectRefsConsistent(store);
  snapshot::Repo repo(store);
  for (const std::string& user : users) {
    auto snaps = repo.ListSnapshots(user);
    ASSERT_OK(snaps);
    EXPECT_FALSE(snaps->empty()) << what << ": no snapshot of " << user;
    for (const auto& s : *snaps) {
      auto node = repo.GetTreeNode(s.root);
      ASSERT_OK(node);
      for (const auto& e : node->entries) {
        auto got = ReadSnapshotFile(store, s, e.name);
        ASSERT_OK(got) << what << " " << user << "/" << s.name << " " << e.name;
        EXPECT_TRUE(*got == RandomBytes(kDayFileSize, std::stoi(e.name.substr(1))))
            << what << " " << user << "/" << s.name << " " << e.name;
      }
    }
  }
}

// The store the copy in dest describes, laid out at `at` by hand (meta.N ->
// meta, config.N.toml -> config.toml, packs as they are): the oracle that
// keepfs store-restore is not.
inline std::string AssembleStoreCopy(const std::string& dest, const std::string& at) {
  namespace fs = std::filesystem;
  std::string manifest = ReadSmallFile(dest + "/MANIFEST").value();
  std::string gen = manifest.substr(manifest.find("generation ") + 11);
  gen = gen.substr(0, gen.find('\n'));
  fs::create_directories(at);
  fs::copy(dest + "/meta." + gen, at + "/meta", fs::copy_options::recursive);
  fs::copy(dest + "/packs", at + "/packs", fs::copy_options::recursive);
  fs::copy_file(dest + "/config." + gen + ".toml", at + "/config.toml");
  EXPECT_OK(WriteFile(at + "/lock", ""));
  return at;
}

}  // namespace keepfs::testing
