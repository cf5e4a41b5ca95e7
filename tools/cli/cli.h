// The keepfs command line, callable in-process: tests run KeepfsMain with
// string streams, tools/main.cc runs it with the process's stdio.
//
// Exit codes: 0 ok; 1 error; 2 usage; 3 partial (a backup or restore
// committed but some files could not be read or written); 4 permission
// denied (by keepfs: a user asking a server for what is not theirs; or by
// the file system); 75 busy (keepfs admit: retry later); 130 cancelled.
//
// No exception escapes KeepfsMain.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace keepfs::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitPartial = 3;
inline constexpr int kExitDenied = 4;       // permission denied: nothing was committed
inline constexpr int kExitBusy = 75;         // keepfs admit: not now, retry later (EX_TEMPFAIL)
inline constexpr int kExitCancelled = 130;  // Ctrl-C: stopped cleanly, nothing committed

struct Io {
  std::ostream& out;
  std::ostream& err;
  bool out_is_tty = false;
  bool err_is_tty = false;
  // The file descriptor `out` writes to, when it is one (the binary's
  // stdout); -1 otherwise (in-process, or forwarded to a mount).
  int out_fd = -1;
};

// args[0] is the program name.
int KeepfsMain(const std::vector<std::string>& args, Io& io);

}  // namespace keepfs::cli
