// Acting as another user for file system access, on one thread only.
//
// Linux keeps credentials per thread. setfsuid and setfsgid, and the raw
// setgroups and capset system calls, change only the calling thread's
// (glibc's setgroups() and setuid() wrappers would change every thread of
// the process; this code never calls them). The server uses RunWithFsIdentity
// to write a user's restore with exactly that user's rights: their uid, gid
// and groups decide every permission check, and no capability of the server
// (not even CAP_SYS_ADMIN or CAP_SETFCAP, which setfsuid alone would leave)
// applies. Files the step creates belong to the user. Everything else the
// thread does before and after runs as before.
//
// Needs CAP_SETUID and CAP_SETGID (the server runs as root) unless the
// identity is the process's own; without them the step does not run and the
// result is PermissionDenied.
//
// Thread safety: each call changes and restores only the calling thread's
// credentials; calls on different threads are independent. A thread started
// inside a step inherits the step's identity (Linux copies a thread's
// credentials to the threads it creates): steps start none.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "store/status.h"

namespace keepfs::cli {

struct FsIdentity {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> groups;  // supplementary groups
};

// Runs step with the calling thread acting as who for file system access,
// then puts the thread's fs uid, fs gid, groups and effective capabilities
// back as they were. Returns step's status; PermissionDenied without running
// step when the thread cannot become who; Internal when the old identity
// cannot be put back (the thread is then left with at most who's rights:
// never more than it had).
Status RunWithFsIdentity(const FsIdentity& who, const std::function<Status()>& step);

// who's supplementary groups as the account database has them
// (getgrouplist of uid's passwd entry), or just gid when uid has none.
std::vector<uint32_t> GroupsOfAccount(uint32_t uid, uint32_t gid);

}  // namespace keepfs::cli
