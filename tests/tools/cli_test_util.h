// Runs the keepfs CLI in-process and captures its output.
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include "tools/cli/cli.h"

namespace keepfs::testing {

struct CliRun {
  int code = -1;
  std::string out, err;
};

inline CliRun RunCli(std::vector<std::string> args) {
  std::ostringstream out, err;
  cli::Io io{out, err, false, false};
  args.insert(args.begin(), "keepfs");
  CliRun r;
  r.code = cli::KeepfsMain(args, io);
  r.out = out.str();
  r.err = err.str();
  return r;
}

}  // namespace keepfs::testing
