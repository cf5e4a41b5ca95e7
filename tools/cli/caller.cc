#include "tools/cli/caller.h"

#include <pwd.h>

#include <algorithm>

#include "snapshot/catalog.h"
#include "snapshot/repo.h"

namespace keepfs::cli {

namespace {
Status Denied(const std::string& why) {
  return Status(StatusCode::kPermissionDenied, "permission denied: " + why, EACCES);
}

std::string Join(const std::vector<std::string>& names, const char* sep) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : sep) + n;
  return out;
}

const UserCommand* FindUserCommand(std::string_view name) {
  for (const UserCommand& c : UserCommands()) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

std::string WhatTheyMay(const Caller& caller) {
  std::vector<std::string> names;
  for (const UserCommand& c : UserCommands()) names.emplace_back(c.name);
  return "as " + Join(caller.users, " and ") + " you may: " + Join(names, ", ");
}
}  // namespace

bool Caller::Is(std::string_view user) const {
  return std::find(users.begin(), users.end(), user) != users.end();
}

std::optional<std::string> Caller::DefaultUser() const {
  if (unrestricted() || users.size() != 1) return std::nullopt;
  return users.front();
}

Result<std::vector<std::string>> UsersOfUid(Store* store, uint32_t uid) {
  StoreConfig config = store->config();
  std::vector<std::string> users;
  for (const auto& [name, mapping] : config.users) {
    if (mapping.uid == uid) users.push_back(name);
  }
  // An unmapped store user is owned by the server account of its name.
  struct passwd pw, *found = nullptr;
  std::vector<char> buf(16384);
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found &&
      !config.users.contains(std::string_view(found->pw_name)) &&
      snapshot::ValidateUserName(found->pw_name).ok()) {
    KEEPFS_ASSIGN_OR_RETURN(std::vector<std::string> known, snapshot::Repo(store).ListUsers());
    if (std::find(known.begin(), known.end(), found->pw_name) != known.end()) {
      users.emplace_back(found->pw_name);
    }
  }
  std::sort(users.begin(), users.end());
  return users;
}

const std::vector<UserCommand>& UserCommands() {
  // Adding a command for users: one line here, and the docs (docs/server.md,
  // "Users on the server"). Options not listed are root's.
  static const std::vector<UserCommand> kCommands = {
      {"snapshots", {"user", "deleted", "json"}, false},
      {"ls", {"user", "recursive", "json"}, true},
      {"cat", {"user"}, true},
      {"diff", {"user", "json"}, true},
      {"versions", {"user", "json"}, true},
      {"deleted", {"user", "since", "json"}, false},
      {"usage", {"user", "json"}, false},  // not --sharing: it names every user
      {"pins", {"user", "json"}, false},
      {"pin", {"user"}, true},
      {"unpin", {"user"}, true},
      {"restore", {"user", "no-owner"}, true},
      // keepfs serve: may I push now? (a laptop over ssh, as its user)
      {"admit", {"user", "json"}, false},
  };
  return kCommands;
}

Status Authorize(const Caller& caller, const CommandRequest& request) {
  if (caller.unrestricted()) return Status::OK();
  if (caller.users.empty()) {
    const std::string uid = std::to_string(caller.uid);
    return Denied("uid " + uid +
                  " is no user of this store; ask the admin to run 'keepfs user add "
                  "NAME --uid " +
                  uid + "'");
  }
  const UserCommand* c = FindUserCommand(request.command);
  if (!c) return Denied(request.command + " is for root; " + WhatTheyMay(caller));
  for (const std::string& o : request.options) {
    if (std::find(c->options.begin(), c->options.end(), o) == c->options.end()) {
      return Denied(request.command + " " + (o.size() == 1 ? "-" : "--") + o + " is for root; " +
                    WhatTheyMay(caller));
    }
  }
  if (request.user && !caller.Is(*request.user)) {
    return Denied("--user " + *request.user + " is not you: uid " + std::to_string(caller.uid) +
                  " is " + Join(caller.users, " and ") + " in this store");
  }
  return Status::OK();
}

Status CheckOwnData(Store* store, const CommandRequest& request, const std::string& user) {
  snapshot::Repo repo(store);
  Status none = Status::NotFound("user '" + user + "' has no snapshots in this store");
  KEEPFS_ASSIGN_OR_RETURN(std::vector<std::string> known, repo.ListUsers());
  if (std::find(known.begin(), known.end(), user) == known.end()) return none;
  const UserCommand* c = FindUserCommand(request.command);
  if (c && c->needs_snapshot) {
    KEEPFS_ASSIGN_OR_RETURN(std::optional<std::string> newest, repo.NewestSnapshotName(user));
    if (!newest) return none;
  }
  return Status::OK();
}

}  // namespace keepfs::cli
