// keepfs forget / prune: remove named snapshots, or apply the retention
// policy (docs/retention.md). Both run in the mount process while mounted.
#include <CLI/CLI.hpp>

#include <ctime>
#include <functional>
#include <ostream>

#include "gc/prune.h"
#include "gc/report.h"
#include "snapshot/catalog.h"
#include "snapshot/repo.h"
#include "tools/cli/common.h"

namespace keepfs::cli {

namespace {
struct ForgetArgs {
  std::string user;
  std::vector<std::string> snapshots;
};

// Runs op on each named snapshot of the user, in order; op returns the line
// to report (unless quiet). The first error stops the rest.
using SnapshotOp = std::function<Result<std::string>(Store* store, const std::string& name)>;
int RunEachSnapshot(Context& ctx, const ForgetArgs& a, const SnapshotOp& op) {
  return Run(ctx, [&]() -> Status {
    KEEPFS_RETURN_IF_ERROR(snapshot::ValidateUserName(a.user));
    KEEPFS_ASSIGN_OR_RETURN(StoreHandle store, OpenStore(ctx, OpenMode::kReadWrite));
    for (const auto& name : a.snapshots) {
      KEEPFS_ASSIGN_OR_RETURN(std::string line, op(store.get(), name));
      if (!ctx.quiet) ctx.io.err << line << "\n";
    }
    return Status::OK();
  });
}

// All names in one call: each count the snapshots share is read and written
// once (gc/prune.h), and a bad name removes nothing.
int RunForget(Context& ctx, const ForgetArgs& a) {
  return Run(ctx, [&]() -> Status {
    KEEPFS_RETURN_IF_ERROR(snapshot::ValidateUserName(a.user));
    KEEPFS_ASSIGN_OR_RETURN(StoreHandle store, OpenStore(ctx, OpenMode::kReadWrite));
    KEEPFS_ASSIGN_OR_RETURN(std::vector<gc::Forgotten> done,
                            gc::ForgetSnapshots(store.get(), a.user, a.snapshots));
    for (size_t i = 0; i < done.size() && !ctx.quiet; ++i) {
      const gc::Forgotten& f = done[i];
      ctx.io.err << (f.husk ? "made a husk of " : "forgot ") << a.user << " " << a.snapshots[i]
                 << " (" << HumanBytes(f.freed)
                 << " no longer held by anyone; reclaimed by garbage collection"
                 << (f.husk ? "; only its pinned paths are left)" : ")") << "\n";
    }
    return Status::OK();
  });
}

int RunUndelete(Context& ctx, const ForgetArgs& a) {
  return RunEachSnapshot(ctx, a, [&](Store* store, const std::string& name) -> Result<std::string> {
    KEEPFS_RETURN_IF_ERROR(gc::Undelete(store, a.user, name));
    return "undeleted " + a.user + " " + name;
  });
}

struct PruneArgs {
  std::string user;
  bool dry_run = false;
  bool json = false;
  std::string now;
  std::map<std::string, std::string> rules;  // rule -> value, from the flags
};

int RunPrune(Context& ctx, const PruneArgs& a) {
  return Run(ctx, [&]() -> Status {
    int64_t now = std::time(nullptr);
    if (!a.now.empty()) {
      KEEPFS_ASSIGN_OR_RETURN(now, snapshot::ParseUtcTime(a.now));
    }
    KEEPFS_ASSIGN_OR_RETURN(StoreHandle store,
                            OpenStore(ctx, a.dry_run ? OpenMode::kReadOnly : OpenMode::kReadWrite));
    std::vector<std::string> users;
    if (a.user.empty()) {
      KEEPFS_ASSIGN_OR_RETURN(users, snapshot::Repo(store.get()).ListUsers());
    } else {
      users.push_back(a.user);
    }
    StoreConfig config = store->config();
    if (a.json) ctx.io.out << "[";
    for (size_t i = 0; i < users.size(); ++i) {
      RetentionPolicy policy = config.RetentionFor(users[i]);
      for (const auto& [rule, value] : a.rules) {
        KEEPFS_RETURN_IF_ERROR(SetRetentionRule(&policy, rule, value));
      }
      KEEPFS_ASSIGN_OR_RETURN(gc::UserPrune p,
                              gc::PruneUser(store.get(), users[i], policy, now, a.dry_run));
      if (a.json) {
        ctx.io.out << (i ? "," : "") << gc::PruneJson(p);
      } else {
        ctx.io.out << gc::PruneText(p, a.dry_run);
      }
    }
    if (a.json) ctx.io.out << "]\n";
    return Status::OK();
  });
}
}  // namespace

void RegisterPrune(CLI::App& app, Context& ctx) {
  auto fa = std::make_shared<ForgetArgs>();
  CLI::App* f = app.add_subcommand(
      "forget",
      "Remove the named snapshots of --user now, each atomically. A snapshot holding pins\n"
      "becomes a husk (only its pinned paths stay); a husk whose pins are all gone is removed.\n"
      "Their data stays in the store until garbage collection reclaims what nothing references\n"
      "any more; until then 'keepfs undelete' brings them back.");
  f->add_option("--user", fa->user, "Whose snapshots")->required();
  f->add_option("SNAPSHOT", fa->snapshots, "Snapshot names (or 'latest')")->required();
  f->callback([&ctx, fa] { ctx.exit_code = RunForget(ctx, *fa); });

  auto ua = std::make_shared<ForgetArgs>();
  CLI::App* u = app.add_subcommand(
      "undelete",
      "Bring forgotten snapshots of --user back whole, under their old names (a husk gives\n"
      "way to the whole snapshot). Possible until garbage collection reclaims their data;\n"
      "'keepfs snapshots --deleted' lists what can still be undeleted. The next prune applies\n"
      "the policy again: pin what must stay.");
  u->add_option("--user", ua->user, "Whose snapshots")->required();
  u->add_option("SNAPSHOT", ua->snapshots, "Snapshot names")->required();
  u->callback([&ctx, ua] { ctx.exit_code = RunUndelete(ctx, *ua); });

  auto pa = std::make_shared<PruneArgs>();
  CLI::App* p = app.add_subcommand(
      "prune",
      "Apply the retention policy of config.toml ([retention], docs/retention.md) to every user\n"
      "or one: list each snapshot as keep or forget with the rules that decided it and the\n"
      "bytes it frees, then remove the forgotten ones, oldest first, each atomically. A dry\n"
      "run reports exactly what a real run does. Rule flags replace the configured rule for\n"
      "this run.");
  p->add_option("--user", pa->user, "Only this user");
  p->add_flag("--dry-run,-n", pa->dry_run, "Only report; change nothing");
  p->add_flag("--json", pa->json,
              "One JSON array on stdout: per user the policy, each snapshot's name, fate "
              "(keep/forget/husk), reasons and frees, and the totals");
  p->add_option("--now", pa->now, "Plan as if it were this UTC time (default: now)");
  // Each rule given as a flag replaces the configured rule for this run.
  for (const auto& rule : kRetentionRules) {
    std::string name = rule.name;
    p->add_option_function<std::string>(
         "--" + name, [pa, name](const std::string& v) { pa->rules[name] = v; }, rule.values)
        ->allow_extra_args(false);
  }
  p->callback([&ctx, pa] { ctx.exit_code = RunPrune(ctx, *pa); });
}

}  // namespace keepfs::cli
