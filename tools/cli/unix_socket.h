// Unix stream sockets named by path, for the control sockets
// (tools/cli/control.h). A path longer than sun_path (108 bytes) is reached
// through /proc/self/fd/N/NAME of its directory.
//
// Thread safety: plain functions of the calling thread's descriptors.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "store/status.h"

namespace keepfs::cli {

// A socket connected to the listener at path, or -1 with errno set
// (ENOENT: no socket; ECONNREFUSED: nobody listens; EACCES: not ours to use).
int ConnectUnix(const std::string& path);
// A socket listening at path with the given mode. Whatever was at path is
// replaced: the caller has made sure it may be.
Result<int> ListenUnix(const std::string& path, mode_t mode);
// Removes the socket file at path, if any.
void UnlinkUnix(const std::string& path);
// The pid of the process listening at path (SO_PEERCRED); nullopt when
// nothing answers there.
std::optional<pid_t> ListenerPid(const std::string& path);

}  // namespace keepfs::cli
