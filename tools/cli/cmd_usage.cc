// keepfs usage: per-user logical and stored bytes, what is shared, what each
// user is charged, and the quota (docs/accounting.md).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <ostream>

#include "snapshot/accounting.h"
#include "snapshot/repo.h"
#include "tools/cli/common.h"

namespace keepfs::cli {

namespace {
struct UsageArgs {
  std::string user;
  bool json = false;
};

struct UserUsage {
  std::string user;
  uint64_t snapshots = 0;
  uint64_t logical_newest = 0;
  uint64_t logical_all = 0;
  snapshot::UserHoldings held;
  std::optional<uint64_t> quota;
};

std::string Percent(uint64_t part, uint64_t whole) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", whole ? 100.0 * static_cast<double>(part) / whole : 0.0);
  return buf;
}

int RunUsage(Context& ctx, const UsageArgs& a) {
  return Run(ctx, [&]() -> Status {
    KEEPFS_ASSIGN_OR_RETURN(StoreHandle store, OpenStore(ctx, OpenMode::kReadOnly));
    snapshot::Repo repo(store.get());
    std::vector<std::string> users = {a.user};
    if (a.user.empty()) {
      KEEPFS_ASSIGN_OR_RETURN(users, repo.ListUsers());
    }
    StoreConfig config = store->config();
    std::vector<UserUsage> rows;
    for (const auto& u : users) {
      UserUsage r;
      r.user = u;
      // A named user must exist (the error lists those that do); listed ones may have none left.
      KEEPFS_ASSIGN_OR_RETURN(std::vector<snapshot::SnapshotRecord> snaps,
                              a.user.empty() ? repo.ListSnapshots(u) : repo.ListUserSnapshots(u));
      r.snapshots = snaps.size();
      for (const auto& s : snaps) r.logical_all += s.stats.bytes_logical;
      if (!snaps.empty()) r.logical_newest = snaps.back().stats.bytes_logical;
      KEEPFS_ASSIGN_OR_RETURN(r.held, snapshot::LoadHoldings(store.get(), u));
      r.quota = config.RetentionFor(u).quota_bytes;
      rows.push_back(std::move(r));
    }
    if (a.json) {
      ctx.io.out << "[";
      for (size_t i = 0; i < rows.size(); ++i) {
        const UserUsage& r = rows[i];
        ctx.io.out << (i ? "," : "") << "{\"user\":" << JsonString(r.user)
                   << ",\"snapshots\":" << r.snapshots << ",\"logical_newest\":" << r.logical_newest
                   << ",\"logical_all\":" << r.logical_all
                   << ",\"exclusive\":" << r.held.exclusive() << ",\"shared\":" << r.held.shared()
                   << ",\"charged\":" << r.held.charged() << ",\"quota\":";
        if (r.quota) {
          ctx.io.out << *r.quota << ",\"quota_percent\":" << Percent(r.held.charged(), *r.quota);
        } else {
          ctx.io.out << "null,\"quota_percent\":null";
        }
        ctx.io.out << "}";
      }
      ctx.io.out << "]\n";
      return Status::OK();
    }
    for (const UserUsage& r : rows) {
      ctx.io.out << r.user << ": " << r.snapshots << " snapshots\n"
                 << "  logical   " << HumanBytes(r.logical_newest) << " newest, "
                 << HumanBytes(r.logical_all) << " all snapshots\n"
                 << "  stored    " << HumanBytes(r.held.exclusive()) << " only theirs, "
                 << HumanBytes(r.held.shared()) << " shared with other users\n"
                 << "  charged   " << HumanBytes(r.held.charged());
      if (r.quota) {
        ctx.io.out << " of " << HumanBytes(*r.quota) << " quota ("
                   << Percent(r.held.charged(), *r.quota) << "%)";
      } else {
        ctx.io.out << " (no quota)";
      }
      ctx.io.out << "\n";
    }
    return Status::OK();
  });
}
}  // namespace

void RegisterUsage(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<UsageArgs>();
  CLI::App* c = app.add_subcommand(
      "usage",
      "Per user: logical bytes (newest snapshot, all snapshots), stored bytes only they\n"
      "reference and bytes shared with other users, charged bytes (their own plus an even\n"
      "share of what they share: docs/accounting.md) and the quota");
  c->add_option("--user", args->user, "Only this user");
  c->add_flag("--json", args->json,
              "One JSON array on stdout: user, snapshots, logical_newest, logical_all, exclusive, "
              "shared, charged, quota, quota_percent (bytes; null without a quota)");
  c->callback([&ctx, args] { ctx.exit_code = RunUsage(ctx, *args); });
}

}  // namespace keepfs::cli
