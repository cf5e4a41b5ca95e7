// Internal to tools/bench/soak*.cc: what the soak's threads share.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
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
inline constexpr long kKeptManifests = 200;  // per user: far more than prune keeps

// A thread's last sign of progress, which the sampler watches: a thread
// silent for SoakOptions::hang_seconds is stuck (in the mount, most likely).
struct Heartbeat {
  explicit Heartbeat(std::string w) : who(std::move(w)) {}
  const std::string who;
  std::atomic<int64_t> at_ms{0};  // since the start
  std::atomic<bool> done{false};  // the thread has returned
  bool reported = false;          // by the sampler
};

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

  std::deque<Heartbeat> beats;  // one per thread, made before they start

  std::mutex report_mu;
  SoakReport report;  // GUARDED_BY(report_mu) while the threads run

  double Elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  void Beat(Heartbeat& h) const {
    h.at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
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
void RunReader(SoakState& s, uint64_t seed, Heartbeat& beat);

// "2026-10-01T03:00:00Z" for backup --time, and the snapshot name it gives.

// The last 600 bytes of a command's output, for an error message.
std::string Tail(const std::string& out);
// How many times needle occurs in text.
uint64_t CountOf(const std::string& text, const std::string& needle);

// Runs argv (argv[0] a path) to its end; its exit code (128 + signal when
// killed, -1 when it could not start), stdout and stderr into *out.
int RunCommand(const std::vector<std::string>& argv, std::string* out);

// The first number after "key": in a JSON text; 0 when there is none.
uint64_t JsonNumber(const std::string& json, const std::string& key);

// Replaces the keys of each named section of a config.toml with the given
// lines (the section is added if missing); comments and other sections stay.
Status SetConfig(const std::string& path, std::map<std::string, std::string> sections);

}  // namespace keepfs::bench
