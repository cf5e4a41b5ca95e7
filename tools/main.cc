// keepfs: the command-line entry point. All logic is in tools/cli/.
#include <sys/resource.h>
#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include "tools/cli/cli.h"

namespace {
// Backup and restore hold one open folder per level of depth (every name is
// opened relative to its folder, so paths of any length work), and a path of
// 4095 bytes may be 2048 levels deep: more than the soft limit of 1024 open
// files a login shell or cron gives. Raise it towards the hard limit (up
// to 65536, which is plenty and keeps fd tables small), as a process that
// must walk any tree Linux allows has to.
void RaiseOpenFileLimit() {
  constexpr rlim_t kWanted = 65536;
  struct rlimit rl;
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < kWanted &&
      rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max < kWanted ? rl.rlim_max : kWanted;
    ::setrlimit(RLIMIT_NOFILE, &rl);  // best effort: without it, deep trees list errors
  }
}
}  // namespace

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  RaiseOpenFileLimit();
  keepfs::cli::Io io{std::cout, std::cerr, ::isatty(STDOUT_FILENO) == 1,
                     ::isatty(STDERR_FILENO) == 1, STDOUT_FILENO};
  std::vector<std::string> args(argv, argv + argc);
  int code = keepfs::cli::KeepfsMain(args, io);
  std::cout.flush();
  return code;
}
