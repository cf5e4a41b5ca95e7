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
#include <iostream>
#include <string>

#include "tools/bench/soak.h"

int main(int argc, char** argv) {
  keepfs::bench::SoakOptions o;
  o.seconds = 600;
  o.progress = &std::cerr;
  bool json = false;
  std::string json_file;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "keepfs_soak: " << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--keepfs") o.keepfs = value();
    else if (a == "--work") o.work = value();
    else if (a == "--seconds") o.seconds = std::atof(value().c_str());
    else if (a == "--readers") o.readers = std::atoi(value().c_str());
    else if (a == "--backup-every") o.backup_every = std::atof(value().c_str());
    else if (a == "--keep-last") o.keep_last = std::atoi(value().c_str());
    else if (a == "--gc-pause") o.gc_pause = std::atof(value().c_str());
    else if (a == "--profile") o.profile = value();
    else if (a == "--write-buffer") o.write_buffer = std::strtoull(value().c_str(), nullptr, 10);
    else if (a == "--sample-every") o.sample_every = std::atof(value().c_str());
    else if (a == "--hang-seconds") o.hang_seconds = std::atof(value().c_str());
    else if (a == "--no-evict") o.evict = false;
    else if (a == "--seed") o.seed = std::strtoull(value().c_str(), nullptr, 10);
    else if (a == "--json") json = true;
    else if (a == "--json-file") json_file = value();
    else {
      std::cerr << "keepfs_soak: unknown argument " << a << " (see tools/bench/soak_main.cc)\n";
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
