// keepfs spool-ingest: one pass over the spool (tools/server/spool.h).
#include <CLI/CLI.hpp>
#include <climits>
#include <cstdlib>

#include "snapshot/catalog.h"
#include "tools/cli/common.h"
#include "tools/server/spool.h"

namespace keepfs::cli {

namespace {
struct SpoolArgs {
  std::string spool;
  bool json = false;
};

int RunSpoolIngest(Context& ctx, const SpoolArgs& a) {
  return Run(ctx, [&]() -> Status {
    KEEPFS_ASSIGN_OR_RETURN(StoreHandle store, OpenStore(ctx, OpenMode::kReadWrite));
    // Resolved, as backup resolves its source: a snapshot records the path it
    // read, and a pass after a crash recognises a committed push by it.
    char resolved[PATH_MAX];
    if (!::realpath(ctx.Abs(a.spool).c_str(), resolved)) {
      return Status::FromErrno(errno, "spool " + a.spool);
    }
    const std::string spool = resolved;
    KEEPFS_ASSIGN_OR_RETURN(std::vector<server::SpoolPush> pushes, server::FindFinishedPushes(spool));
    const std::atomic<bool>* cancel = ctx.hosted ? ctx.hosted->cancel : nullptr;
    if (a.json) ctx.io.out << "[";
    int failed = 0;
    for (size_t i = 0; i < pushes.size(); ++i) {
      const auto& p = pushes[i];
      auto r = server::IngestPush(store.get(), p, {.cancel = cancel});
      if (a.json) {
        ctx.io.out << (i ? ",\n" : "") << "{\"user\":" << JsonString(p.user) << ",\"ok\":"
                   << (r.ok() ? "true" : "false");
        if (r.ok()) {
          ctx.io.out << ",\"snapshot\":" << JsonString(r->snapshot.name)
                     << ",\"already_committed\":" << (r->already_committed ? "true" : "false")
                     << ",\"files\":" << r->snapshot.stats.files;
        } else {
          ctx.io.out << ",\"error\":" << JsonString(r.status().message());
        }
        ctx.io.out << "}";
      } else if (r.ok()) {
        ctx.io.out << p.user << ": " << r->snapshot.name
                   << (r->already_committed ? " (committed before; flag removed)" : "") << "\n";
      } else {
        ctx.io.err << "keepfs: " << p.user << ": " << r.status().message() << "\n";
      }
      if (!r.ok()) ++failed;
      if (cancel && cancel->load()) return Status::Cancelled("spool-ingest stopped");
    }
    if (a.json) ctx.io.out << "]\n";
    if (!a.json && pushes.empty() && !ctx.quiet) ctx.io.err << "no finished push in " << spool << "\n";
    if (failed) ctx.exit_code = kExitError;
    return Status::OK();
  });
}
}  // namespace

void RegisterSpoolIngest(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<SpoolArgs>();
  CLI::App* c = app.add_subcommand(
      "spool-ingest",
      "Ingest every finished push in a spool once: for each SPOOL/USER/.done, a snapshot of\n"
      "SPOOL/USER/data/ timed at the flag's mtime is committed, then the flag is removed.\n"
      "A push without a flag is left alone; a push ingested but whose flag a crash left is\n"
      "not ingested twice. SPOOL/USER must be owned by the user's uid ([users.USER] in\n"
      "config.toml, else root) and writable by nobody else (docs/server.md). Exit 0 when\n"
      "every push was taken, 1 when one could not be");
  c->add_option("SPOOL", a->spool, "The spool directory")->required();
  c->add_flag("--json", a->json,
              "JSON array: one object per push with user, ok, and snapshot, already_committed\n"
              "and files, or error");
  c->callback([&ctx, a] { ctx.exit_code = RunSpoolIngest(ctx, *a); });
}

}  // namespace keepfs::cli
