#include "tools/cli/fs_identity.h"

#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace keepfs::cli {

namespace {
// One thread's file system identity.
struct ThreadIdentity {
  uint32_t fsuid = 0;
  uint32_t fsgid = 0;
  std::vector<gid_t> groups;
  __user_cap_data_struct caps[_LINUX_CAPABILITY_U32S_3] = {};
};

// Raw system calls: each acts on the calling thread only. setfsuid(-1) and
// setfsgid(-1) change nothing and return the current value.
uint32_t FsUid(uint32_t uid) { return static_cast<uint32_t>(::syscall(SYS_setfsuid, uid)); }
uint32_t FsGid(uint32_t gid) { return static_cast<uint32_t>(::syscall(SYS_setfsgid, gid)); }
constexpr uint32_t kQuery = static_cast<uint32_t>(-1);

bool SetGroups(const std::vector<gid_t>& groups) {
  return ::syscall(SYS_setgroups, groups.size(), groups.data()) == 0;
}

bool Caps(bool set, __user_cap_data_struct* data) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};  // pid 0: this thread
  return ::syscall(set ? SYS_capset : SYS_capget, &header, data) == 0;
}

Status Capture(ThreadIdentity* id) {
  id->fsuid = FsUid(kQuery);
  id->fsgid = FsGid(kQuery);
  int n = ::getgroups(0, nullptr);  // reads the calling thread's credentials
  if (n < 0) return Status::FromErrno(errno, "getgroups");
  id->groups.resize(static_cast<size_t>(n));
  n = ::getgroups(n, id->groups.data());
  if (n < 0) return Status::FromErrno(errno, "getgroups");
  id->groups.resize(static_cast<size_t>(n));
  if (!Caps(/*set=*/false, id->caps)) return Status::FromErrno(errno, "capget");
  return Status::OK();
}

// Groups, fs gid and fs uid first: they need CAP_SETGID and CAP_SETUID, which
// the capset at the end takes away.
Status Become(const FsIdentity& who, const ThreadIdentity& old) {
  std::vector<gid_t> groups(who.groups.begin(), who.groups.end());
  if (!SetGroups(groups)) return Status::FromErrno(errno, "setgroups");
  FsGid(who.gid);
  FsUid(who.uid);
  if (FsGid(kQuery) != who.gid || FsUid(kQuery) != who.uid) {
    return Status(StatusCode::kPermissionDenied, "setfsuid/setfsgid refused", EPERM);
  }
  // setfsuid away from 0 drops the file system capabilities; the rest
  // (CAP_SYS_ADMIN writes trusted.* xattrs, CAP_SETFCAP file capabilities)
  // go too: the step has the user's rights and no more.
  __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3];
  for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; ++i) {
    none[i] = old.caps[i];
    none[i].effective = 0;
  }
  if (!Caps(/*set=*/true, none)) return Status::FromErrno(errno, "capset");
  return Status::OK();
}

// Capabilities first: the old fs uid and groups may need them.
Status PutBack(ThreadIdentity& old) {
  bool ok = Caps(/*set=*/true, old.caps);
  FsUid(old.fsuid);
  FsGid(old.fsgid);
  ok = SetGroups(old.groups) && ok;
  if (!ok || FsUid(kQuery) != old.fsuid || FsGid(kQuery) != old.fsgid) {
    return Status::Internal("could not restore this thread's file system identity");
  }
  return Status::OK();
}
}  // namespace

Status RunWithFsIdentity(const FsIdentity& who, const std::function<Status()>& step) {
  ThreadIdentity old;
  KEEPFS_RETURN_IF_ERROR(Capture(&old));
  if (Status s = Become(who, old); !s.ok()) {
    KEEPFS_RETURN_IF_ERROR(PutBack(old));
    return Status(StatusCode::kPermissionDenied,
                  "cannot act as uid " + std::to_string(who.uid) + " (" + s.message() +
                      "); the server must run as root",
                  EPERM);
  }
  Status result;
  try {
    result = step();
  } catch (...) {
    PutBack(old).IgnoreError();  // the exception is the error that counts
    throw;
  }
  KEEPFS_RETURN_IF_ERROR(PutBack(old));
  return result;
}

std::vector<uint32_t> GroupsOfAccount(uint32_t uid, uint32_t gid) {
  struct passwd pw, *found = nullptr;
  std::vector<char> buf(16384);
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) != 0 || !found) return {gid};
  std::vector<gid_t> groups(64);
  int n = static_cast<int>(groups.size());
  while (::getgrouplist(pw.pw_name, gid, groups.data(), &n) < 0) {
    if (n <= static_cast<int>(groups.size())) return {gid};  // an error, not a short list
    groups.resize(static_cast<size_t>(n));
  }
  return std::vector<uint32_t>(groups.begin(), groups.begin() + n);
}

}  // namespace keepfs::cli
