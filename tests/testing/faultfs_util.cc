#include "tests/testing/faultfs_util.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace keepfs::testing {

std::string FaultFsLibrary() { return KEEPFS_FAULTFS_LIB; }

namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ":") + p;
  return out;
}

const char* const kVars[] = {"LD_PRELOAD",           "KEEPFS_FAULTFS_ROOTS",
                             "KEEPFS_FAULTFS_ASIDE", "KEEPFS_FAULTFS_CRASH_AT",
                             "KEEPFS_FAULTFS_COUNT_FILE", "KEEPFS_FAULTFS_FAIL",
                             "KEEPFS_FAULTFS_STATE"};

// Sets the shim's variables for options (in a child before exec, or around
// the start of a child).
void SetFaultFsEnv(const FaultFsOptions& options) {
  ::setenv("LD_PRELOAD", FaultFsLibrary().c_str(), 1);
  // An ASan build checks that its runtime comes first; the shim must.
  ::setenv("ASAN_OPTIONS", "verify_asan_link_order=0", 0);
  ::setenv("KEEPFS_FAULTFS_ROOTS", Join(options.roots).c_str(), 1);
  if (!options.aside.empty()) ::setenv("KEEPFS_FAULTFS_ASIDE", options.aside.c_str(), 1);
  if (options.crash_at) {
    ::setenv("KEEPFS_FAULTFS_CRASH_AT", std::to_string(options.crash_at).c_str(), 1);
  }
  if (!options.count_file.empty()) {
    ::setenv("KEEPFS_FAULTFS_COUNT_FILE", options.count_file.c_str(), 1);
  }
  if (!options.fail.empty()) ::setenv("KEEPFS_FAULTFS_FAIL", options.fail.c_str(), 1);
  if (!options.state_file.empty()) {
    ::setenv("KEEPFS_FAULTFS_STATE", options.state_file.c_str(), 1);
  }
}

}  // namespace

ScopedFaultFsEnv::ScopedFaultFsEnv(const FaultFsOptions& options) { SetFaultFsEnv(options); }

ScopedFaultFsEnv::~ScopedFaultFsEnv() {
  for (const char* var : kVars) ::unsetenv(var);
}

FaultRun RunUnderFaultFs(const std::vector<std::string>& args, const FaultFsOptions& options) {
  char out_path[] = "/tmp/keepfs-faultfs-out.XXXXXX";
  char err_path[] = "/tmp/keepfs-faultfs-err.XXXXXX";
  int out_fd = ::mkstemp(out_path);
  int err_fd = ::mkstemp(err_path);
  FaultRun run;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    SetFaultFsEnv(options);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  if (pid > 0) ::waitpid(pid, &status, 0);
  if (pid > 0 && WIFEXITED(status)) run.code = WEXITSTATUS(status);
  if (pid > 0 && WIFSIGNALED(status)) run.signal = WTERMSIG(status);
  ::close(out_fd);
  ::close(err_fd);
  run.out = Slurp(out_path);
  run.err = Slurp(err_path);
  ::unlink(out_path);
  ::unlink(err_path);
  return run;
}

bool PowerLossNow(const FaultFsOptions& options) {
  FaultFsOptions o = options;
  o.crash_at = 0;
  o.fail.clear();
  o.count_file.clear();
  return RunUnderFaultFs({KEEPFS_FAULTFS_PROBE, "power-loss"}, o).PoweredOff();
}

uint64_t ReadFaultCount(const std::string& path) {
  std::ifstream in(path);
  uint64_t n = 0;
  in >> n;
  return n;
}

}  // namespace keepfs::testing
