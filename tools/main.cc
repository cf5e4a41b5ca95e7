// keepfs: the command-line entry point. All logic is in tools/cli/.
#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include "tools/cli/cli.h"

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  keepfs::cli::Io io{std::cout, std::cerr, ::isatty(STDOUT_FILENO) == 1,
                     ::isatty(STDERR_FILENO) == 1, STDOUT_FILENO};
  std::vector<std::string> args(argv, argv + argc);
  int code = keepfs::cli::KeepfsMain(args, io);
  std::cout.flush();
  return code;
}
