// SambaServer: a real smbd for tests, confined to one directory (its own
// smb.conf, password database, state, locks and log), listening on a free
// port of 127.0.0.1 only, and started in a process group of its own so that
// Stop() ends it with every child it forked (one per client, each running as
// the logged-in user). While smbd runs, the calling process is a child
// subreaper (prctl), so that Stop() can reap those children itself.
// Client() runs smbclient against it.
//
// Needs root: smbd becomes the logged-in user, and smbpasswd writes the
// database. Not thread-safe: one test thread uses an instance.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "store/status.h"

namespace keepfs::testing {

// Empty when smbd, smbclient and smbpasswd are installed; else what is missing.
std::string SambaUnavailable();

// The absolute path of an installed program (searched in $PATH and the
// sbin folders, which a test's $PATH may lack); empty if there is none.
std::string FindProgram(const std::string& name);

// text with every occurrence of each key replaced by its value, in order.
std::string ReplaceAll(std::string text,
                       const std::vector<std::pair<std::string, std::string>>& vars);

struct ProgramRun {
  int code = -1;  // the exit code; -1 if it was killed or did not start
  std::string out, err;
};

// Runs args[0] (an absolute path) with args and only PATH in its
// environment, input on its stdin, its stdout and stderr captured through
// files in dir; kills it after timeout.
ProgramRun RunProgram(const std::vector<std::string>& args, const std::string& dir,
                      const std::string& input = "",
                      std::chrono::milliseconds timeout = std::chrono::seconds(30));

class SambaServer {
 public:
  // dir: an existing directory that only this server uses.
  explicit SambaServer(std::string dir);
  ~SambaServer();  // Stop()
  SambaServer(const SambaServer&) = delete;
  SambaServer& operator=(const SambaServer&) = delete;

  // Picks a free port and writes dir/smb.conf: a [global] section that keeps
  // smbd on that port of 127.0.0.1 and inside dir, then shares (smb.conf text).
  Status Configure(const std::string& shares);
  // Gives the existing system account name this Samba password.
  Status AddUser(const std::string& name, const std::string& password);
  // Starts smbd with env added to its environment ("TZ=..."), and returns
  // once its port accepts connections, or with its log if it exits first.
  Status Start(const std::vector<std::string>& env = {});
  // Ends smbd and all its children. Idempotent. False if some survived.
  bool Stop();

  // smbclient //127.0.0.1/share -U user%password -m SMB3 -c commands.
  ProgramRun Client(const std::string& share, const std::string& user, const std::string& password,
                    const std::string& commands);
  // smbd's log and its own output, for failure messages.
  std::string Log() const;

 private:
  bool Accepts() const;

  std::string dir_, conf_;
  int port_ = 0;
  pid_t pid_ = -1;  // smbd's pid, also its process group
  int was_subreaper_ = 0;
};

}  // namespace keepfs::testing
