// What a caller of a server's socket may ask for (tools/cli/caller.h), as a
// table: the rules without a socket or a store.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/testing/test_util.h"
#include "tools/cli/caller.h"

namespace keepfs::testing {
namespace {

using cli::Authorize;
using cli::Caller;
using cli::CommandRequest;

Caller User(uint32_t uid, std::vector<std::string> users) {
  Caller c;
  c.uid = uid;
  c.gid = uid;
  c.users = std::move(users);
  return c;
}

TEST(CallerTest, AuthorizeFollowsTheTable) {
  const Caller root;
  Caller server_user = User(1000, {});
  server_user.is_server_user = true;
  const Caller alice = User(61001, {"alice"});
  const Caller both = User(61004, {"alice", "alice-laptop"});
  const Caller stranger = User(61003, {});
  struct Case {
    const Caller& caller;
    CommandRequest request;
    const char* denied;  // nullptr: allowed; else a part of the message
  } cases[] = {
      {root, {"gc", {"dry-run"}, {}}, nullptr},
      {root, {"snapshots", {"user"}, "bob"}, nullptr},
      {server_user, {"backup", {"user"}, "bob"}, nullptr},
      {alice, {"snapshots", {}, {}}, nullptr},
      {alice, {"snapshots", {"user", "deleted", "json"}, "alice"}, nullptr},
      {alice, {"ls", {"user", "recursive", "json"}, "alice"}, nullptr},
      {alice, {"cat", {"user"}, "alice"}, nullptr},
      {alice, {"diff", {"json"}, {}}, nullptr},
      {alice, {"usage", {"json"}, {}}, nullptr},
      {alice, {"pins", {}, {}}, nullptr},
      {alice, {"pin", {"user"}, "alice"}, nullptr},
      {alice, {"unpin", {}, {}}, nullptr},
      {alice, {"restore", {"no-owner"}, {}}, nullptr},
      {both, {"snapshots", {"user"}, "alice-laptop"}, nullptr},
      {alice, {"snapshots", {"user"}, "bob"}, "--user bob is not you: uid 61001 is alice"},
      {both, {"pin", {"user"}, "bob"}, "uid 61004 is alice and alice-laptop"},
      {alice, {"restore", {"user"}, "bob"}, "--user bob is not you"},
      {alice, {"gc", {}, {}}, "gc is for root; as alice you may: snapshots, ls, cat, diff, versions, "
                              "deleted, usage, pins, pin, unpin, restore, admit"},
      {alice, {"user add", {"uid"}, {}}, "user add is for root"},
      {alice, {"backup", {"user"}, "alice"}, "backup is for root"},
      {alice, {"usage", {"sharing"}, {}}, "usage --sharing is for root"},
      {alice, {"prune", {"user"}, "alice"}, "prune is for root"},
      {stranger, {"snapshots", {}, {}}, "uid 61003 is no user of this store; ask the admin to "
                                        "run 'keepfs user add NAME --uid 61003'"},
      {stranger, {"gc", {}, {}}, "uid 61003 is no user of this store"},
  };
  for (const Case& c : cases) {
    Status s = Authorize(c.caller, c.request);
    std::string what = "uid " + std::to_string(c.caller.uid) + " " + c.request.command;
    if (!c.denied) {
      EXPECT_OK(s) << what;
      continue;
    }
    EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << what;
    EXPECT_EQ(s.message().rfind("permission denied: ", 0), 0u) << s.message();
    EXPECT_NE(s.message().find(c.denied), std::string::npos) << what << ": " << s.message();
  }
}

TEST(CallerTest, OnlyACallerWhoIsOneUserHasADefault) {
  EXPECT_EQ(User(61001, {"alice"}).DefaultUser(), "alice");
  EXPECT_EQ(User(61004, {"alice", "alice-laptop"}).DefaultUser(), std::nullopt);
  EXPECT_EQ(User(61003, {}).DefaultUser(), std::nullopt);
  EXPECT_EQ(Caller().DefaultUser(), std::nullopt) << "root means whom it says";
}

}  // namespace
}  // namespace keepfs::testing
