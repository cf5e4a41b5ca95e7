// Internal to tools/bench/soak*.cc: what the soak's threads share.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "tools/bench/soak.h"
#include "tools/bench/soak_data.h"

namespace keepfs::bench {

inline constexpr const char* kSoakUsers[] = {"alice", "bob"};
inline constexpr size_t kMaxErrorSamples = 20;

struct SoakState {
  SoakOptions o;
  std::string store, src, mnt, log;
  pid_t mount_pid = -1;
  std::chrono::steady_clock::time_point start;
  std::atomic<bool> stop{false};

  // What each snapshot holds, entered before its backup starts (so a reader
  // never meets a snapshot it cannot check). Key: (user index, name).
  std::mutex manifests_mu;
  std::map<std::pair<int, std::string>, std::shared_ptr<const Manifest>>
      manifests;  // GUARDED_BY(manifests_mu)

  std::mutex report_mu;
  SoakReport report;  // GUARDED_BY(report_mu) while the threads run

  double Elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  void Error(const std::string& what) {
    std::lock_guard<std::mutex> lock(report_mu);
    ++report.errors;
    if (report.error_samples.size() < kMaxErrorSamples) {
      char at[32];
      std::snprintf(at, sizeof at, "%.1fs: ", Elapsed());
      report.error_samples.push_back(at + what);
    }
  }
  std::shared_ptr<const Manifest> FindManifest(int user, const std::string& name) {
    std::lock_guard<std::mutex> lock(manifests_mu);
    auto it = manifests.find({user, name});
    return it == manifests.end() ? nullptr : it->second;
  }
};

// One reader: walks snapshots and reads files until s.stop (soak_reader.cc).
void RunReader(SoakState& s, uint64_t seed);

// Runs argv (argv[0] a path) to its end; its exit code (128 + signal when
// killed, -1 when it could not start), stdout and stderr into *out.
int RunCommand(const std::vector<std::string>& argv, std::string* out);

// The first number after "key": in a JSON text; 0 when there is none.
uint64_t JsonNumber(const std::string& json, const std::string& key);

}  // namespace keepfs::bench
