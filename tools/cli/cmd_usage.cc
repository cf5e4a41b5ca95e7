// keepfs usage: per-user logical and stored bytes, what is shared, what each
// user is charged, and the quota (docs/accounting.md).
#include <CLI/CLI.hpp>

#include <ostream>

#include "gc/report.h"
#include "snapshot/catalog.h"
#include "snapshot/repo.h"
#include "tools/cli/common.h"

namespace keepfs::cli {

namespace {
struct UsageArgs {
  std::string user;
  bool json = false;
  bool sharing = false;
};

int RunUsage(Context& ctx, const UsageArgs& a) {
  return Run(ctx, [&]() -> Status {
    if (!a.user.empty()) KEEPFS_RETURN_IF_ERROR(snapshot::ValidateUserName(a.user));
    KEEPFS_ASSIGN_OR_RETURN(StoreHandle store, OpenStore(ctx, OpenMode::kReadOnly));
    if (a.sharing) {
      // It names every user (tools/cli/caller.h refuses it first).
      if (ctx.user_caller()) {
        return Status(StatusCode::kPermissionDenied, "permission denied: --sharing is for root",
                      EACCES);
      }
      if (!a.user.empty()) return Status::InvalidArgument("--sharing is store-wide: drop --user");
      KEEPFS_ASSIGN_OR_RETURN(gc::SharingReport r, gc::ComputeSharing(store.get()));
      ctx.io.out << (a.json ? gc::SharingJson(r) + "\n" : gc::SharingText(r));
      return Status::OK();
    }
    std::vector<std::string> users = {a.user};
    if (a.user.empty()) {
      KEEPFS_ASSIGN_OR_RETURN(users, snapshot::Repo(store.get()).ListUsers());
      std::erase_if(users, [&](const std::string& u) { return !ctx.MaySee(u); });
    }
    if (a.json) ctx.io.out << "[";
    for (size_t i = 0; i < users.size(); ++i) {
      KEEPFS_ASSIGN_OR_RETURN(gc::UserUsage u, gc::ComputeUsage(store.get(), users[i]));
      if (a.json) {
        ctx.io.out << (i ? "," : "") << gc::UsageJson(u);
      } else {
        ctx.io.out << gc::UsageText(u);
      }
    }
    if (a.json) ctx.io.out << "]\n";
    return Status::OK();
  });
}
}  // namespace

void RegisterUsage(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<UsageArgs>();
  CLI::App* c = app.add_subcommand(
      "usage",
      "Per user: logical bytes (newest snapshot, all snapshots), stored bytes only they\n"
      "reference and bytes shared with other users, the stored bytes their pins hold, charged\n"
      "bytes (their own plus an even share of what they share: docs/accounting.md) and the\n"
      "quota");
  AddUserOption(c, ctx, &args->user, "Only this user", /*required=*/false);
  c->add_flag("--json", args->json,
              "One JSON array on stdout: user, snapshots, husks, logical_newest, logical_all, "
              "exclusive, shared, charged, pins, pinned, quota, quota_percent (bytes; null "
              "without a quota)");
  c->add_flag("--sharing", args->sharing,
              "Instead: what sharing between users saves. Per user, their stored bytes by how "
              "many users hold them; then the bytes the store would hold if every user kept "
              "their own copy, and what it holds (with --json: without_sharing, with_sharing, "
              "saved, users[{user, held_by{holders: bytes}}]); then who shares how much with "
              "whom, as of the last 'keepfs share' (last_pass, null before the first)");
  c->callback([&ctx, args] { ctx.exit_code = RunUsage(ctx, *args); });
}

}  // namespace keepfs::cli
