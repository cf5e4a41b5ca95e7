// keepfs versions: a file's history across a user's snapshots (snapshot/history.h).
#include <CLI/CLI.hpp>

#include "snapshot/catalog.h"
#include "snapshot/history.h"
#include "snapshot/repo.h"
#include "tools/cli/common.h"

namespace keepfs::cli {

namespace {
struct VersionsArgs {
  std::string user, path;
  bool json = false;
};

const char* TypeName(snapshot::EntryType t) {
  switch (t) {
    case snapshot::EntryType::kFile: return "file";
    case snapshot::EntryType::kDir: return "dir";
    case snapshot::EntryType::kSymlink: return "symlink";
    default: return "other";
  }
}

int RunVersions(Context& ctx, const VersionsArgs& a) {
  return Run(ctx, [&]() -> Status {
    KEEPFS_ASSIGN_OR_RETURN(StoreHandle store, OpenStore(ctx, OpenMode::kReadOnly));
    snapshot::Repo repo(store.get());
    KEEPFS_ASSIGN_OR_RETURN(std::vector<snapshot::FileVersion> versions,
                            snapshot::FileHistory(repo, a.user, a.path));
    if (a.json) {
      ctx.io.out << "[";
      for (size_t i = 0; i < versions.size(); ++i) {
        const auto& v = versions[i];
        ctx.io.out << (i ? ",\n" : "") << "{\"name\":" << JsonString(v.name)
                   << ",\"type\":\"" << TypeName(v.entry.type) << "\",\"size\":" << v.entry.size
                   << ",\"mtime\":" << v.entry.mtime_sec << ",\"first_snapshot\":"
                   << JsonString(v.first_snapshot) << ",\"last_snapshot\":"
                   << JsonString(v.last_snapshot) << ",\"snapshots\":" << v.snapshots << "}";
      }
      ctx.io.out << "]\n";
      return Status::OK();
    }
    for (const auto& v : versions) {
      ctx.io.out << v.name << "  " << HumanBytes(v.entry.size) << "  modified "
                 << snapshot::FormatUtcTime(v.entry.mtime_sec) << "  in " << v.snapshots
                 << (v.snapshots == 1 ? " snapshot" : " snapshots")
                 << (v.snapshots > 1 ? " (to " + v.last_snapshot + ")" : "") << "\n";
    }
    return Status::OK();
  });
}
}  // namespace

void RegisterVersions(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<VersionsArgs>();
  CLI::App* c = app.add_subcommand(
      "versions",
      "Each distinct version of the file at PATH across all of USER's snapshots, oldest\n"
      "first: named by the first snapshot that holds it (YYYY-MM-DD_HHMMSS plus the file's\n"
      "extension), with its size, mtime and how many snapshots hold it. A version is the\n"
      "bytes: a touch is no new version, and bytes seen again later are the same one.\n"
      "'keepfs cat --user USER FIRST_SNAPSHOT PATH' reads a version");
  AddUserOption(c, ctx, &a->user, "Whose snapshots", /*required=*/true);
  c->add_option("PATH", a->path, "A file's path inside the snapshots")->required();
  c->add_flag("--json", a->json,
              "JSON array: name, type, size, mtime, first_snapshot, last_snapshot, snapshots");
  c->callback([&ctx, a] { ctx.exit_code = RunVersions(ctx, *a); });
}

}  // namespace keepfs::cli
