// keepfs check and keepfs stats.
#include <CLI/CLI.hpp>

#include <ostream>

#include "gc/stats.h"
#include "snapshot/check.h"
#include "tools/cli/common.h"

namespace keepfs::cli {

namespace {
struct CheckArgs {
  bool verify_data = false;
  bool json = false;
};

int RunCheck(Context& ctx, const CheckArgs& a) {
  return Run(ctx, [&]() -> Status {
    // Read-write so that sealed packs left by an interrupted backup are
    // adopted first instead of being reported as unknown.
    KEEPFS_ASSIGN_OR_RETURN(StoreHandle store, OpenStore(ctx, OpenMode::kReadWrite));
    snapshot::Repo repo(store.get());
    snapshot::CheckOptions o;
    o.verify_data = a.verify_data;
    KEEPFS_ASSIGN_OR_RETURN(
        snapshot::CheckSummary s, snapshot::CheckStore(repo, o, [&](const snapshot::CheckProblem& p) {
          if (a.json) {
            ctx.io.out << "{\"object\":" << JsonString(p.object) << ",\"state\":"
                       << JsonString(p.state) << ",\"message\":" << JsonString(p.message)
                       << ",\"user\":" << JsonString(p.user) << ",\"snapshot\":"
                       << JsonString(p.snapshot) << ",\"path\":" << JsonString(p.path) << "}\n";
          } else {
            ctx.io.out << p.state << ": " << p.object << ": " << p.message;
            if (!p.user.empty()) ctx.io.out << " (affects " << p.user << "/" << p.snapshot;
            if (!p.user.empty() && !p.path.empty()) ctx.io.out << ":" << p.path;
            if (!p.user.empty()) ctx.io.out << ")";
            ctx.io.out << "\n";
          }
        }));
    if (a.json) {
      ctx.io.out << "{\"summary\":true,\"snapshots\":" << s.snapshots << ",\"trees\":" << s.trees
                 << ",\"contents\":" << s.contents << ",\"chunks\":" << s.chunks
                 << ",\"packs\":" << s.packs << ",\"bytes_verified\":" << s.bytes_verified
                 << ",\"problems\":" << s.problems << "}\n";
    } else {
      ctx.io.out << (s.problems ? "PROBLEMS FOUND: " : "ok: ") << s.snapshots << " snapshots, "
                 << s.trees << " trees, " << s.contents << " contents, " << s.chunks
                 << " chunks in " << s.packs << " packs"
                 << (a.verify_data ? ", " + HumanBytes(s.bytes_verified) + " verified" : "")
                 << ", " << s.problems << " problems\n";
    }
    if (s.problems) ctx.exit_code = kExitError;
    return Status::OK();
  });
}

int RunStats(Context& ctx, bool json) {
  return Run(ctx, [&]() -> Status {
    KEEPFS_ASSIGN_OR_RETURN(StoreHandle store, OpenStore(ctx, OpenMode::kReadOnly));
    snapshot::Repo repo(store.get());
    KEEPFS_ASSIGN_OR_RETURN(gc::StoreStats s, gc::ComputeStoreStats(repo));
    if (json) {
      ctx.io.out << "{\"users\":" << s.users << ",\"snapshots\":" << s.snapshots
                 << ",\"packs\":" << s.packs << ",\"pack_bytes\":" << s.pack_bytes
                 << ",\"chunks\":" << s.chunks << ",\"chunk_raw_bytes\":" << s.chunk_raw_bytes
                 << ",\"chunk_stored_bytes\":" << s.chunk_stored_bytes
                 << ",\"contents\":" << s.contents << ",\"trees\":" << s.trees
                 << ",\"logical_bytes\":" << s.logical_bytes << "}\n";
      return Status::OK();
    }
    ctx.io.out << "users:        " << s.users << "\nsnapshots:    " << s.snapshots
               << "\nlogical data: " << HumanBytes(s.logical_bytes) << " (all snapshots)"
               << "\nunique data:  " << HumanBytes(s.chunk_raw_bytes) << " in " << s.chunks
               << " chunks\nstored:       " << HumanBytes(s.pack_bytes) << " in " << s.packs
               << " packs\ncontents:     " << s.contents << "\ntrees:        " << s.trees << "\n";
    return Status::OK();
  });
}
}  // namespace

void RegisterCheck(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<CheckArgs>();
  CLI::App* c = app.add_subcommand(
      "check",
      "Check the store's consistency: packs, chunk index, and every snapshot's trees,\n"
      "contents and chunks. Prints each problem with what it affects. Exit 1 on problems.");
  c->add_flag("--verify-data", a->verify_data, "Also re-read and re-hash every chunk");
  c->add_flag("--json", a->json, "One JSON object per problem, then a summary object");
  c->callback([&ctx, a] { ctx.exit_code = RunCheck(ctx, *a); });
}

void RegisterStats(CLI::App& app, Context& ctx) {
  auto json = std::make_shared<bool>(false);
  CLI::App* c = app.add_subcommand("stats", "Show what the store holds and the space it takes");
  c->add_flag("--json", *json, "JSON object on stdout");
  c->callback([&ctx, json] { ctx.exit_code = RunStats(ctx, *json); });
}

}  // namespace keepfs::cli
