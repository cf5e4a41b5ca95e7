// keepfs deleted: what a user's recent snapshots hold that the newest one
// does not (snapshot/deleted.h).
#include <CLI/CLI.hpp>

#include <ctime>

#include "snapshot/catalog.h"
#include "snapshot/deleted.h"
#include "snapshot/repo.h"
#include "store/config.h"
#include "tools/cli/common.h"

namespace keepfs::cli {

namespace {
struct DeletedArgs {
  std::string user, since;
  bool json = false;
};

const char* KindOf(const snapshot::Entry& e) {
  switch (e.type) {
    case snapshot::EntryType::kFile: return "file";
    case snapshot::EntryType::kDir: return "dir";
    case snapshot::EntryType::kSymlink: return "symlink";
    default: return "other";
  }
}

void PrintJson(Io& io, const snapshot::DeletedList& list, int64_t since) {
  io.out << "{\"latest\":" << JsonString(list.latest) << ",\"since\":" << since
         << ",\"entries\":[";
  for (size_t i = 0; i < list.entries.size(); ++i) {
    const auto& d = list.entries[i];
    io.out << (i ? ",\n" : "\n") << "{\"path\":" << JsonString(d.path) << ",\"type\":\""
           << KindOf(d.entry) << "\",\"snapshot\":" << JsonString(d.snapshot)
           << ",\"last_seen\":" << d.last_seen << ",\"mtime\":" << d.entry.mtime_sec
           << ",\"files\":" << d.files << ",\"bytes\":" << d.bytes << "}";
  }
  io.out << "]}\n";
}

int RunDeleted(Context& ctx, const DeletedArgs& a) {
  return Run(ctx, [&]() -> Status {
    KEEPFS_ASSIGN_OR_RETURN(StoreHandle store, OpenStore(ctx, OpenMode::kReadOnly));
    int64_t window = store->config().mount.deleted_window_sec;
    if (!a.since.empty()) {
      auto d = ParseDuration(a.since);
      if (!d.ok() || *d <= 0) {
        return Status::InvalidArgument("--since " + a.since +
                                       ": give a duration such as 30d, 12h or 2w");
      }
      window = *d;
    }
    const int64_t since = static_cast<int64_t>(std::time(nullptr)) - window;
    snapshot::Repo repo(store.get());
    KEEPFS_ASSIGN_OR_RETURN(snapshot::DeletedList list,
                            snapshot::DeletedSince(repo, a.user, since));
    if (a.json) {
      PrintJson(ctx.io, list, since);
    } else {
      ctx.io.out << snapshot::DeletedReport(a.user, list, since, /*index=*/false);
      if (!list.entries.empty()) {
        ctx.io.out << list.entries.size() << (list.entries.size() == 1 ? " entry" : " entries")
                   << ". Copy one back from MOUNT/" << a.user << "/.deleted/PATH, or run\n"
                   << "  keepfs restore --user " << a.user << " SNAPSHOT:PATH DEST\n";
      }
    }
    return Status::OK();
  });
}
}  // namespace

void RegisterDeleted(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<DeletedArgs>();
  CLI::App* c = app.add_subcommand(
      "deleted",
      "Files and folders that a snapshot of USER taken within --since holds and the newest\n"
      "snapshot does not: what was deleted (or moved away) lately, each at its path, with\n"
      "the newest snapshot that still holds it (its last version). A deleted folder is one\n"
      "entry with the files and bytes in it. The mount shows the same under\n"
      "MOUNT/USER/.deleted/ (INDEX.txt lists it)");
  AddUserOption(c, ctx, &a->user, "Whose snapshots", /*required=*/true);
  c->add_option("--since", a->since,
                "How far back to look (30d, 12h, 2w; default [mount] deleted_window, 30d)");
  c->add_flag("--json", a->json,
              "JSON object: latest, since (UTC seconds), entries [path, type, snapshot, "
              "last_seen, mtime, files, bytes]");
  c->callback([&ctx, a] { ctx.exit_code = RunDeleted(ctx, *a); });
}

}  // namespace keepfs::cli
