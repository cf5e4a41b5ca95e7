// Runs a program under the faultfs shim (tests/testing/faultfs/faultfs.cc):
// power loss at the Nth mutating call, or injected I/O errors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace keepfs::testing {

struct FaultFsOptions {
  std::vector<std::string> roots;  // directories whose files the shim tracks
  std::string aside;               // where replaced files wait for their dir's fsync
  uint64_t crash_at = 0;           // power loss before this mutating call (0: never)
  std::string count_file;          // gets the number of mutating calls on exit
  std::string fail;                // KEEPFS_FAULTFS_FAIL: "op errno after times substring"
  std::string state_file;          // carries unsynced state to the next run (see the shim)
};

struct FaultRun {
  int code = -1;    // exit code, if it exited
  int signal = 0;   // the signal that ended it, if one did (SIGKILL: power loss)
  std::string out, err;
  bool PoweredOff() const { return signal == 9; }
};

// The shim's path (built next to the tests).
std::string FaultFsLibrary();

// Runs args (args[0] is the program) with the shim preloaded and options in
// its environment; waits for it and returns how it ended and its output.
FaultRun RunUnderFaultFs(const std::vector<std::string>& args, const FaultFsOptions& options);

// Puts the shim and options into this process's environment, for children
// started by other helpers (StartMountProcess); restores it when destroyed.
// Only for a test that starts no other children meanwhile.
class ScopedFaultFsEnv {
 public:
  explicit ScopedFaultFsEnv(const FaultFsOptions& options);
  ~ScopedFaultFsEnv();
  ScopedFaultFsEnv(const ScopedFaultFsEnv&) = delete;
  ScopedFaultFsEnv& operator=(const ScopedFaultFsEnv&) = delete;
};

// A power cut now: drops what the runs sharing options.state_file left
// unsynced (through faultfs_probe); true if it happened.
bool PowerLossNow(const FaultFsOptions& options);

// Reads a count file the shim wrote; 0 if it is missing.
uint64_t ReadFaultCount(const std::string& path);

}  // namespace keepfs::testing
