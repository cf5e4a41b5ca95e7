// Who sent a command through the control socket, and what they may do.
//
// The server knows a peer by SO_PEERCRED: uid, gid and pid as the kernel
// recorded them at connect time, which the client cannot forge. root (uid 0)
// may run every command, as if at the server's own shell, and so may the uid
// the server runs as (a store someone runs as themselves is theirs: they own
// its files). Any other uid is
// the store users it maps to (UsersOfUid) and may run only the commands of
// UserCommands(), each on those users' data only; everything else is
// PermissionDenied saying what they may do. The checks run in the server
// (tools/cli/cli.cc, before the command starts); the client is never trusted.
//
// Thread safety: plain values and functions; UsersOfUid reads the store's
// config and metadata, which are safe from many threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/status.h"
#include "store/store.h"

namespace keepfs::cli {

struct Caller {
  uint32_t uid = 0;  // root unless the server says otherwise
  uint32_t gid = 0;
  int32_t pid = 0;
  bool is_server_user = false;     // uid is the uid the server runs as
  std::vector<uint32_t> groups;    // supplementary groups (for a restore's writes)
  std::vector<std::string> users;  // the store users this uid is, sorted

  // May run every command on every user's data: root, or the server's uid.
  bool unrestricted() const { return uid == 0 || is_server_user; }
  bool Is(std::string_view user) const;
  // The user a command means when --user is not given: the caller's only
  // store user; nullopt when unrestricted and for a uid that is several users.
  std::optional<std::string> DefaultUser() const;
};

// The store users uid is: every [users.NAME] of config.toml whose uid is uid,
// and a store user without a [users.NAME] whose name is uid's account name
// (the mount decides ownership the same way: fs/view.cc OwnerOf). Sorted.
Result<std::vector<std::string>> UsersOfUid(Store* store, uint32_t uid);

// A command a non-root caller may run.
struct UserCommand {
  std::string_view name;
  // The named options they may give, by long name (positionals always).
  std::vector<std::string_view> options;
  // Whether it looks into one of the user's snapshots (so a user without
  // any gets "no snapshots" before it starts).
  bool needs_snapshot = false;
};
// The whole list, in one place: snapshots, ls, cat, diff, versions, deleted, usage, pins,
// pin, unpin, restore, admit.
const std::vector<UserCommand>& UserCommands();

// What a command line asks for, as the parser saw it.
struct CommandRequest {
  std::string command;               // "gc", "user add"
  std::vector<std::string> options;  // long (else short) names of named options given
  std::optional<std::string> user;   // --user, when given
};

// OK when caller may run request; PermissionDenied with a message that
// starts "permission denied: " and says what they may do, otherwise.
// Looks at names only; CheckOwnData looks at the store.
Status Authorize(const Caller& caller, const CommandRequest& request);

// For an authorized non-root request about user: NotFound "user 'U' has no
// snapshots in this store" when the store does not know user, or when the
// command needs a snapshot and user has none. Unlike the store's own errors
// for an unknown user, it never names other users.
Status CheckOwnData(Store* store, const CommandRequest& request, const std::string& user);

}  // namespace keepfs::cli
