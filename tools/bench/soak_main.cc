// keepfs_soak: the soak test for a long run (tools/bench/soak.sh; the bounded
// run in CI is SoakTest in tests/tools/soak_test.cc). What it runs and what
// counts as an error: tools/bench/soak.h.
//
//   keepfs_soak --keepfs BIN --work DIR [--seconds 600] [--readers 32]
//       [--backup-every 2] [--keep-last 3] [--gc-pause 0.5] [--profile small]
//       [--write-buffer BYTES] [--sample-every 1] [--hang-seconds 60] [--no-evict] [--seed 1]
//       [--json | --json-file FILE]
//
// DIR must be missing or empty; it keeps the store, the sources and the
// mount's log afterwards. Prints the report on stdout (JSON with --json;
// --json-file writes the JSON there as well as the text on stdout) and
// progress on stderr. Exit 0 when the soak passed (no error, check and audit
// clean, the mount's RSS, fds and threads flat), 1 when it did not, 2 when it
// could not run.
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <string>

#include "tools/bench/soak.h"

int main(int argc, char** argv) {
  keepfs::bench::SoakOptions o;
  o.seconds = 600;
  o.progress = &std::cerr;
  bool json = false;
  std::string json_file;
  auto number = [](const std::string& v) { return std::atof(v.c_str()); };
  // Options that take a value.
  const std::map<std::string, std::function<void(const std::string&)>> set = {
      {"--keepfs", [&](const std::string& v) { o.keepfs = v; }},
      {"--work", [&](const std::string& v) { o.work = v; }},
      {"--seconds", [&](const std::string& v) { o.seconds = number(v); }},
      {"--readers", [&](const std::string& v) { o.readers = static_cast<int>(number(v)); }},
      {"--backup-every", [&](const std::string& v) { o.backup_every = number(v); }},
      {"--keep-last", [&](const std::string& v) { o.keep_last = static_cast<int>(number(v)); }},
      {"--gc-pause", [&](const std::string& v) { o.gc_pause = number(v); }},
      {"--profile", [&](const std::string& v) { o.profile = v; }},
      {"--write-buffer", [&](const std::string& v) { o.write_buffer = std::stoull(v); }},
      {"--sample-every", [&](const std::string& v) { o.sample_every = number(v); }},
      {"--hang-seconds", [&](const std::string& v) { o.hang_seconds = number(v); }},
      {"--seed", [&](const std::string& v) { o.seed = std::stoull(v); }},
      {"--json-file", [&](const std::string& v) { json_file = v; }},
  };
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--json") {
      json = true;
    } else if (a == "--no-evict") {
      o.evict = false;
    } else if (auto it = set.find(a); it != set.end() && i + 1 < argc) {
      it->second(argv[++i]);
    } else {
      std::cerr << "keepfs_soak: unknown argument or missing value: " << a
                << " (see tools/bench/soak_main.cc)\n";
      return 2;
    }
  }
  if (o.keepfs.empty() || o.work.empty() || o.seconds <= 0 || o.readers < 1 || o.keep_last < 1 ||
      o.sample_every <= 0) {
    std::cerr << "keepfs_soak: --keepfs and --work are needed; --seconds, --readers, --keep-last "
                 "and --sample-every must be positive\n";
    return 2;
  }
  auto report = keepfs::bench::RunSoak(o);
  if (!report.ok()) {
    std::cerr << "keepfs_soak: " << report.status().ToString() << "\n";
    return 2;
  }
  if (!json_file.empty()) std::ofstream(json_file) << keepfs::bench::SoakJson(*report) << "\n";
  std::cout << (json ? keepfs::bench::SoakJson(*report) + "\n" : keepfs::bench::SoakText(*report));
  return report->ok() ? 0 : 1;
}
