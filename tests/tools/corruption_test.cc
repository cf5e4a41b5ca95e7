// Random bit flips in the metadata database's own files (SST tables, the
// WAL, the MANIFEST) of a store with a few snapshots. After each: no crash;
// the store either refuses to open with an error that says what to do, or it
// opens, and then every file of every snapshot reads back either as the
// bytes backed up or as an error, never as other bytes, and `keepfs check`
// exits 1 naming the damage whenever a read failed. A snapshot that is gone
// from the listing is named by check as missing or counted here.
// KEEPFS_CORRUPTION_ITERATIONS sets the number of flips (default 24).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "snapshot/catalog.h"
#include "snapshot/repo.h"
#include "store/file_util.h"
#include "tests/testing/backup_util.h"
#include "tests/testing/test_util.h"
#include "tests/tools/cli_test_util.h"

namespace keepfs::testing {
namespace {

namespace stdfs = std::filesystem;

int Iterations() {
  const char* env = std::getenv("KEEPFS_CORRUPTION_ITERATIONS");
  return env ? std::atoi(env) : 24;
}

// The metadata files a flip may hit: tables, logs and the MANIFEST.
std::vector<std::string> MetaFiles(const std::string& meta) {
  std::vector<std::string> out;
  for (const auto& e : stdfs::directory_iterator(meta)) {
    std::string name = e.path().filename().string();
    if (!e.is_regular_file() || e.file_size() == 0) continue;
    if (name.ends_with(".sst") || name.ends_with(".log") || name.starts_with("MANIFEST-")) {
      out.push_back(e.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(CorruptionTest, BitFlipsInTheMetadataFilesNeverGiveOtherBytes) {
  TempDir dir;
  const std::string pristine = dir.Join("pristine"), src = dir.Join("src");
  ASSERT_EQ(RunCli({"init", "--store", pristine, "-q"}).code, 0);
  Rng rng(41);
  // name -> path -> bytes, for every snapshot.
  std::map<std::string, std::map<std::string, std::string>> want;
  std::map<std::string, std::string> files;
  ASSERT_OK(MakeDirs(src + "/docs"));
  // Enough small files (inline in the database) that its tables have many
  // blocks, so that most flips damage a few records, not the store record.
  for (int d = 0; d < 6; ++d) {
    ASSERT_OK(MakeDirs(src + "/many/d" + std::to_string(d)));
    for (int f = 0; f < 100; ++f) {
      std::string path = "many/d" + std::to_string(d) + "/n" + std::to_string(f);
      files[path] = RandomBytes(300 + rng.Uniform(1500), rng.Next());
      ASSERT_OK(WriteFile(src + "/" + path, files[path]));
    }
  }
  for (int day = 0; day < 4; ++day) {
    for (int f = 0; f < 6; ++f) {
      if (day > 0 && rng.Uniform(2) == 0) continue;
      std::string path = "docs/f" + std::to_string(f);
      // Small files are stored inline in the database, large ones in packs.
      files[path] = RandomBytes(f % 2 ? 200 + rng.Uniform(3000) : 100000 + rng.Uniform(400000),
                                rng.Next());
      ASSERT_OK(WriteFile(src + "/" + path, files[path]));
    }
    int64_t t = 1790000000 + day * 86400;
    ASSERT_EQ(RunCli({"backup", "--store", pristine, "--user", "alice", "-q", "--time",
                      snapshot::FormatUtcTime(t), src}).code, 0);
    want[snapshot::FormatSnapshotName(t, 0)] = files;
  }
  int refused = 0, opened = 0, reads_failed = 0, snapshots_gone = 0;
  for (int i = 0; i < Iterations(); ++i) {
    const std::string store = dir.Join("s" + std::to_string(i));
    stdfs::copy(pristine, store, stdfs::copy_options::recursive);
    std::vector<std::string> targets = MetaFiles(store + "/meta");
    ASSERT_FALSE(targets.empty());
    const std::string victim = targets[rng.Uniform(targets.size())];
    const uint64_t size = stdfs::file_size(victim);
    for (int k = 0; k < 1 + static_cast<int>(rng.Uniform(3)); ++k) {
      ASSERT_OK(FlipByte(victim, rng.Uniform(size), static_cast<uint8_t>(1u << rng.Uniform(8))));
    }
    const std::string what = "flip " + std::to_string(i) + " in " + stdfs::path(victim).filename().string();
    auto s = Store::Open(store, OpenMode::kReadWrite);
    if (!s.ok()) {
      ++refused;
      if (std::getenv("KEEPFS_CORRUPTION_VERBOSE")) std::cout << what << ": " << s.status().message() << "\n";
      EXPECT_EQ(s.status().code(), StatusCode::kCorruption) << what << ": " << s.status().message();
      EXPECT_NE(s.status().message().find("keepfs store-restore"), std::string::npos)
          << what << ": the error must say what to do: " << s.status().message();
      continue;
    }
    ++opened;
    bool failed_here = false;
    {
      snapshot::Repo repo(s->get());
      auto listed = repo.ListSnapshots("alice");
      if (!listed.ok()) {
        failed_here = true;
      } else {
        std::map<std::string, snapshot::SnapshotRecord> by_name;
        for (const auto& r : *listed) by_name[r.name] = r;
        for (const auto& [name, snap_files] : want) {
          auto it = by_name.find(name);
          if (it == by_name.end()) {
            ++snapshots_gone;
            failed_here = true;
            continue;
          }
          for (const auto& [path, bytes] : snap_files) {
            auto got = ReadSnapshotFile(s->get(), it->second, path);
            if (!got.ok()) {
              ++reads_failed;
              failed_here = true;
              continue;
            }
            ASSERT_TRUE(*got == bytes) << what << ": " << name << "/" << path << " read other bytes";
          }
        }
      }
    }
    s->reset();
    CliRun check = RunCli({"check", "--store", store, "-q"});
    EXPECT_TRUE(check.code == 0 || check.code == 1) << what << ": exit " << check.code << check.err;
    if (failed_here && check.code == 0) {
      ADD_FAILURE() << what << ": a read failed or a snapshot is gone, but check is clean:\n"
                    << check.out << check.err;
    }
  }
  std::cout << "[corruption] " << Iterations() << " flips: " << refused << " refused to open, "
            << opened << " opened; " << reads_failed << " reads failed, " << snapshots_gone
            << " snapshots gone\n";
}

}  // namespace
}  // namespace keepfs::testing
