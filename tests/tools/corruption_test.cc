// Random bit flips in the metadata database's own files (SST tables, the
// WAL, the MANIFEST) of a store with a few snapshots. After each: no crash;
// the store either refuses to open with an error that says what to do, or it
// opens, and then every file of every snapshot reads back either as the
// bytes backed up or as an error, never as other bytes, and `keepfs check`
// exits 1 naming the damage whenever a read failed. A snapshot that is gone
// from the listing is named by check as missing or counted here.
// KEEPFS_CORRUPTION_ITERATIONS sets the number of flips (default 24).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "snapshot/catalog.h"
#include "snapshot/repo.h"
#include "store/file_util.h"
#include "tests/testing/backup_util.h"
#include "tests/testing/mount_util.h"
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

struct FlipCounts {
  int refused = 0, opened = 0, reads_failed = 0, snapshots_gone = 0;
};

using Want = std::map<std::string, std::map<std::string, std::string>>;  // snapshot -> path -> bytes

// iterations times: a copy of pristine with 1 to 3 bits flipped in one of
// files(meta dir), opened, read and checked (the properties above).
FlipCounts FlipAndCheck(const std::string& pristine, const Want& want,
                        const std::function<std::vector<std::string>(const std::string&)>& files,
                        int iterations, TempDir& dir, Rng& rng) {
  static int copies = 0;
  FlipCounts n;
  for (int i = 0; i < iterations; ++i) {
    const std::string store = dir.Join("s" + std::to_string(copies++));
    stdfs::copy(pristine, store, stdfs::copy_options::recursive);
    std::vector<std::string> targets = files(store + "/meta");
    EXPECT_FALSE(targets.empty());
    if (targets.empty()) return n;
    const std::string victim = targets[rng.Uniform(targets.size())];
    const uint64_t size = stdfs::file_size(victim);
    for (int k = 0; k < 1 + static_cast<int>(rng.Uniform(3)); ++k) {
      EXPECT_OK(FlipByte(victim, rng.Uniform(size), static_cast<uint8_t>(1u << rng.Uniform(8))));
    }
    const std::string what = "flip " + std::to_string(i) + " in " + stdfs::path(victim).filename().string();
    auto s = Store::Open(store, OpenMode::kReadWrite);
    if (!s.ok()) {
      ++n.refused;
      if (std::getenv("KEEPFS_CORRUPTION_VERBOSE")) std::cout << what << ": " << s.status().message() << "\n";
      EXPECT_EQ(s.status().code(), StatusCode::kCorruption) << what << ": " << s.status().message();
      EXPECT_NE(s.status().message().find("keepfs store-restore"), std::string::npos)
          << what << ": the error must say what to do: " << s.status().message();
      continue;
    }
    ++n.opened;
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
            ++n.snapshots_gone;
            failed_here = true;
            continue;
          }
          for (const auto& [path, bytes] : snap_files) {
            auto got = ReadSnapshotFile(s->get(), it->second, path);
            if (!got.ok()) {
              ++n.reads_failed;
              failed_here = true;
              continue;
            }
            EXPECT_TRUE(*got == bytes) << what << ": " << name << "/" << path << " read other bytes";
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
  return n;
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
  FlipCounts n = FlipAndCheck(pristine, want, MetaFiles, Iterations(), dir, rng);
  std::cout << "[corruption] " << Iterations() << " flips: " << n.refused << " refused to open, "
            << n.opened << " opened; " << n.reads_failed << " reads failed, " << n.snapshots_gone
            << " snapshots gone\n";
}

// The log a crash leaves: a mount (the one writer) commits snapshots that
// are acknowledged and in the WAL only, and is killed with SIGKILL; then bits
// flip in that log before the next open. The same properties hold: no
// crash, no other bytes, and a snapshot or a read that is lost is named by
// check or refused at open, never lost silently.
TEST(CorruptionTest, BitFlipsInALogLeftByAKillNeverGiveOtherBytesNorLoseSilently) {
  KEEPFS_REQUIRE_FUSE_OR_SKIP();
  TempDir dir;
  const std::string pristine = dir.Join("pristine"), src = dir.Join("src"), mnt = dir.Join("mnt");
  ASSERT_EQ(RunCli({"init", "--store", pristine, "-q"}).code, 0);
  ASSERT_OK(MakeDirs(src));
  ASSERT_OK(MakeDirs(mnt));
  std::string why;
  pid_t pid = StartMountProcess(KEEPFS_BINARY, pristine, mnt, dir.Join("mount.log"), &why);
  ASSERT_GT(pid, 0) << why;
  Rng rng(43);
  Want want;
  std::map<std::string, std::string> files;
  for (int day = 0; day < 5; ++day) {
    for (int f = 0; f < 40; ++f) {  // small files: inline records in the log
      std::string path = "f" + std::to_string(day) + "_" + std::to_string(f);
      files[path] = RandomBytes(200 + rng.Uniform(2000), rng.Next());
      ASSERT_OK(WriteFile(src + "/" + path, files[path]));
    }
    int64_t t = 1790000000 + day * 86400;
    // Sent to the mount over its socket: acknowledged when this returns.
    CliRun b = RunCli({"backup", "--store", pristine, "--user", "alice", "-q", "--time",
                       snapshot::FormatUtcTime(t), src});
    ASSERT_EQ(b.code, 0) << b.err;
    want[snapshot::FormatSnapshotName(t, 0)] = files;
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  ::umount2(mnt.c_str(), MNT_DETACH);
  // The dead mount's sockets stay behind; they are not the store's data.
  for (const auto& e : stdfs::directory_iterator(pristine)) {
    if (e.is_socket()) stdfs::remove(e.path());
  }
  auto logs = [](const std::string& meta) {
    std::vector<std::string> out;
    for (const std::string& f : MetaFiles(meta)) {
      if (f.ends_with(".log") && stdfs::file_size(f) > 4096) out.push_back(f);
    }
    return out;
  };
  ASSERT_FALSE(logs(pristine + "/meta").empty()) << "the kill left no log with records";
  FlipCounts n = FlipAndCheck(pristine, want, logs, Iterations() / 2, dir, rng);
  std::cout << "[corruption] " << Iterations() / 2 << " flips in a crash's log: " << n.refused
            << " refused to open, " << n.opened << " opened; " << n.reads_failed
            << " reads failed, " << n.snapshots_gone << " snapshots gone\n";
}

}  // namespace
}  // namespace keepfs::testing
