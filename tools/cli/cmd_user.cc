// keepfs user add / list: who each user of the store is on this server.
#include <CLI/CLI.hpp>

#include <ostream>

#include "snapshot/catalog.h"
#include "snapshot/repo.h"
#include "snapshot/users.h"
#include "tools/cli/common.h"

namespace keepfs::cli {

namespace {
struct UserAddArgs {
  std::string name;
  int64_t uid = -1;
  int64_t gid = -1;
};

int RunUserAdd(Context& ctx, const UserAddArgs& a) {
  return Run(ctx, [&]() -> Status {
    KEEPFS_RETURN_IF_ERROR(snapshot::ValidateUserName(a.name));
    KEEPFS_ASSIGN_OR_RETURN(StoreHandle store, OpenStore(ctx, OpenMode::kReadWrite));
    UserMapping m{static_cast<uint32_t>(a.uid),
                  static_cast<uint32_t>(a.gid >= 0 ? a.gid : a.uid)};
    KEEPFS_RETURN_IF_ERROR(snapshot::EnsureUser(store.get(), a.name).status());
    KEEPFS_RETURN_IF_ERROR(store->SetUser(a.name, m));
    if (!ctx.quiet) {
      ctx.io.err << "user " << a.name << " is uid " << m.uid << ", gid " << m.gid
                 << " on this server (config.toml [users." << a.name << "])\n";
    }
    return Status::OK();
  });
}

int RunUserList(Context& ctx, bool json) {
  return Run(ctx, [&]() -> Status {
    KEEPFS_ASSIGN_OR_RETURN(StoreHandle store, OpenStore(ctx, OpenMode::kReadOnly));
    snapshot::Repo repo(store.get());
    KEEPFS_ASSIGN_OR_RETURN(std::vector<std::string> users, repo.ListUsers());
    StoreConfig config = store->config();
    if (json) ctx.io.out << "[";
    bool first = true;
    for (const auto& u : users) {
      KEEPFS_ASSIGN_OR_RETURN(std::vector<snapshot::SnapshotRecord> snaps, repo.ListSnapshots(u));
      auto it = config.users.find(u);
      bool mapped = it != config.users.end();
      if (json) {
        ctx.io.out << (first ? "" : ",") << "{\"user\":" << JsonString(u) << ",\"snapshots\":"
                   << snaps.size();
        if (mapped) ctx.io.out << ",\"uid\":" << it->second.uid << ",\"gid\":" << it->second.gid;
        ctx.io.out << "}";
      } else {
        ctx.io.out << u << "\t" << snaps.size() << " snapshots\t"
                   << (mapped ? "uid " + std::to_string(it->second.uid) + " gid " +
                                    std::to_string(it->second.gid)
                              : std::string("not mapped (server account of the same name, else "
                                            "root only)"))
                   << "\n";
      }
      first = false;
    }
    if (json) ctx.io.out << "]\n";
    return Status::OK();
  });
}
}  // namespace

void RegisterUser(CLI::App& app, Context& ctx) {
  CLI::App* c = app.add_subcommand("user", "Map store users to server accounts");
  c->require_subcommand(1);
  auto args = std::make_shared<UserAddArgs>();
  CLI::App* add = c->add_subcommand(
      "add",
      "Make NAME's folder in the mount owned by --uid (and --gid, default the uid): only that\n"
      "account (and root, and the admin group) may enter it. Writes [users.NAME] to config.toml.");
  add->add_option("NAME", args->name, "Store user name")->required();
  add->add_option("--uid", args->uid, "Server uid")->required()->check(CLI::Range(0, 0x7fffffff));
  add->add_option("--gid", args->gid, "Server gid (default: the uid)")
      ->check(CLI::Range(0, 0x7fffffff));
  add->callback([&ctx, args] { ctx.exit_code = RunUserAdd(ctx, *args); });
  auto json = std::make_shared<bool>(false);
  CLI::App* list = c->add_subcommand("list", "List users, their snapshot counts and server ids");
  list->add_flag("--json", *json, "One JSON array on stdout");
  list->callback([&ctx, json] { ctx.exit_code = RunUserList(ctx, *json); });
}

}  // namespace keepfs::cli
