// keepfs pin / unpin / pins: files and folders kept whatever retention says
// (snapshot/pins.h, docs/retention.md). Pinning runs in the mount process
// while mounted, like every writing command.
#include <CLI/CLI.hpp>

#include <ctime>
#include <map>
#include <ostream>
#include <unistd.h>

#include "gc/pins.h"
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
    KEEPFS_RETURN_IF_ERROR(snapshot::ValidateUserName(a.user));
    KEEPFS_ASSIGN_OR_RETURN(StoreHandle store, OpenStore(ctx, OpenMode::kReadWrite));
    if (pin) {
      KEEPFS_ASSIGN_OR_RETURN(
          snapshot::Pin p, gc::PinPath(store.get(), a.user, a.snapshot, a.path,
                                       static_cast<uint32_t>(::getuid()), std::time(nullptr)));
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
      snapshot::Repo repo(store.get());
      KEEPFS_ASSIGN_OR_RETURN(std::vector<std::string> users, repo.ListUsers());
      if (std::find(users.begin(), users.end(), a.user) == users.end()) {
        return repo.ListUserSnapshots(a.user).status();
      }
    }
    KEEPFS_ASSIGN_OR_RETURN(std::vector<snapshot::Pin> pins,
                            snapshot::ListPins(store.get(), a.user));
    // Whether each pin's snapshot is a husk now.
    std::map<std::pair<std::string, std::string>, bool> husk;
    snapshot::Repo repo(store.get());
    for (const auto& p : pins) {
      auto key = std::make_pair(p.user, p.snapshot);
      if (husk.count(key)) continue;
      auto s = repo.FindSnapshot(p.user, p.snapshot);
      husk[key] = s.ok() && s->is_husk();
    }
    if (a.json) {
      ctx.io.out << "[";
      for (size_t i = 0; i < pins.size(); ++i) {
        const auto& p = pins[i];
        ctx.io.out << (i ? ",\n" : "") << "{\"user\":" << JsonString(p.user)
                   << ",\"snapshot\":" << JsonString(p.snapshot)
                   << ",\"path\":" << JsonString(p.path)
                   << ",\"type\":" << JsonString(snapshot::EntryTypeName(p.type))
                   << ",\"pinned\":" << JsonString(snapshot::FormatUtcTime(p.created_unix))
                   << ",\"by_uid\":" << p.by_uid
                   << ",\"husk\":" << (husk[{p.user, p.snapshot}] ? "true" : "false") << "}";
      }
      ctx.io.out << "]\n";
      return Status::OK();
    }
    for (const auto& p : pins) {
      ctx.io.out << p.user << " " << p.snapshot << " /" << p.path << "  ("
                 << snapshot::EntryTypeName(p.type) << ", pinned "
                 << snapshot::FormatUtcTime(p.created_unix) << " UTC by uid " << p.by_uid
                 << (husk[{p.user, p.snapshot}] ? ", in a husk" : "") << ")\n";
    }
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
    c->add_option("--user", a->user, "Whose snapshot")->required();
    c->add_option("SNAPSHOT", a->snapshot, "Snapshot name or 'latest'")->required();
    c->add_option("PATH", a->path, "Path inside the snapshot ('/' = the whole snapshot)")
        ->required();
    c->callback([&ctx, a, pin] { ctx.exit_code = RunPin(ctx, *a, pin); });
  }
  auto a = std::make_shared<PinArgs>();
  CLI::App* c = app.add_subcommand("pins", "List pins: user, snapshot, path, when and by whom");
  c->add_option("--user", a->user, "Only this user's pins");
  c->add_flag("--json", a->json,
              "One JSON array on stdout: user, snapshot, path, type, pinned (UTC), by_uid, husk");
  c->callback([&ctx, a] { ctx.exit_code = RunPins(ctx, *a); });
}

}  // namespace keepfs::cli
