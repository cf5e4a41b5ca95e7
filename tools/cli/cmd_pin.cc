// keepfs pin / unpin / pins: files and folders kept whatever retention says
// (snapshot/pins.h, docs/retention.md). Pinning runs in the mount process
// while mounted, like every writing command.
#include <CLI/CLI.hpp>

#include <ctime>
#include <ostream>
#include <unistd.h>

#include "gc/pins.h"
#include "gc/report.h"
#include "snapshot/catalog.h"
#include "snapshot/pins.h"
#include "snapshot/repo.h"
#include "tools/cli/common.h"

namespace keepfs::cli {

namespace {
struct PinArgs {
  std::string user;
  std::string snapshot;
  std::string path;
  bool json = false;
};

int RunPin(Context& ctx, const PinArgs& a, bool pin) {
  return Run(ctx, [&]() -> Status {
    // After OpenStore: a client bound for a server may leave --user to it.
    KEEPFS_ASSIGN_OR_RETURN(StoreHandle store, OpenStore(ctx, OpenMode::kReadWrite));
    KEEPFS_RETURN_IF_ERROR(snapshot::ValidateUserName(a.user));
    if (pin) {
      KEEPFS_ASSIGN_OR_RETURN(
          snapshot::Pin p,
          gc::PinPath(store.get(), a.user, a.snapshot, a.path,
                      // by whom: the client, when a server runs this for one
                      ctx.hosted ? ctx.hosted->caller.uid : static_cast<uint32_t>(::getuid()),
                      std::time(nullptr)));
      if (!ctx.quiet) {
        ctx.io.err << "pinned " << p.user << " " << p.snapshot << " /" << p.path
                   << " (kept whatever retention decides, until 'keepfs unpin')\n";
      }
    } else {
      KEEPFS_RETURN_IF_ERROR(gc::UnpinPath(store.get(), a.user, a.snapshot, a.path));
      if (!ctx.quiet) {
        ctx.io.err << "unpinned " << a.user << " " << a.snapshot << " " << a.path
                   << " (the next prune applies the retention policy to it)\n";
      }
    }
    return Status::OK();
  });
}

int RunPins(Context& ctx, const PinArgs& a) {
  return Run(ctx, [&]() -> Status {
    if (!a.user.empty()) KEEPFS_RETURN_IF_ERROR(snapshot::ValidateUserName(a.user));
    KEEPFS_ASSIGN_OR_RETURN(StoreHandle store, OpenStore(ctx, OpenMode::kReadOnly));
    if (!a.user.empty()) {  // an unknown user is an error that lists the users
      KEEPFS_RETURN_IF_ERROR(snapshot::Repo(store.get()).RequireKnownUser(a.user));
    }
    KEEPFS_ASSIGN_OR_RETURN(std::vector<snapshot::Pin> pins,
                            snapshot::ListPins(store.get(), a.user));
    std::erase_if(pins, [&](const snapshot::Pin& p) { return !ctx.MaySee(p.user); });
    KEEPFS_ASSIGN_OR_RETURN(std::string report, gc::PinsReport(store.get(), pins, a.json));
    ctx.io.out << report;
    if (a.json) return Status::OK();
    if (pins.empty() && !ctx.quiet) {
      ctx.io.err << "no pins" << (a.user.empty() ? "" : " for " + a.user) << "\n";
    }
    return Status::OK();
  });
}
}  // namespace

void RegisterPin(CLI::App& app, Context& ctx) {
  for (bool pin : {true, false}) {
    auto a = std::make_shared<PinArgs>();
    CLI::App* c = app.add_subcommand(
        pin ? "pin" : "unpin",
        pin ? "Pin a file or folder of a snapshot: prune keeps it byte for byte, whatever the\n"
              "retention policy and later snapshots say. When prune removes the snapshot, its\n"
              "pinned paths stay browsable in a husk. Pinning a folder pins all below it.\n"
              "Through the mount, the owner can do the same with\n"
              "'setfattr -n user.keepfs.pin -v 1 FILE'."
            : "Remove a pin (also 'setfattr -x user.keepfs.pin FILE' in the mount). In a husk,\n"
              "the husk shrinks to the pins left; the next prune removes a husk without pins.");
    AddUserOption(c, ctx, &a->user, "Whose snapshot", /*required=*/true);
    c->add_option("SNAPSHOT", a->snapshot, "Snapshot name or 'latest'")->required();
    c->add_option("PATH", a->path, "Path inside the snapshot ('/' = the whole snapshot)")
        ->required();
    c->callback([&ctx, a, pin] { ctx.exit_code = RunPin(ctx, *a, pin); });
  }
  auto a = std::make_shared<PinArgs>();
  CLI::App* c = app.add_subcommand("pins", "List pins: user, snapshot, path, when and by whom");
  AddUserOption(c, ctx, &a->user, "Only this user's pins", /*required=*/false);
  c->add_flag("--json", a->json,
              "One JSON array on stdout: user, snapshot, path, type, pinned (UTC), by_uid, husk");
  c->callback([&ctx, a] { ctx.exit_code = RunPins(ctx, *a); });
}

}  // namespace keepfs::cli
