// keepfs restore: write a snapshot or a path in it back to disk.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <functional>
#include <optional>
#include <ostream>
#include <sstream>
#include <thread>

#include "snapshot/restore.h"
#include "tools/cli/common.h"
#include "tools/cli/fs_identity.h"
#include "tools/cli/progress.h"

namespace keepfs::cli {

namespace {
struct RestoreArgs {
  std::string user, spec, dest;
  bool no_owner = false;
};

int RunRestore(Context& ctx, const RestoreArgs& a) {
  return Run(ctx, [&]() -> Status {
    if (a.dest.empty()) {
      return Status::InvalidArgument("DEST is empty; give the folder to restore into");
    }
    std::string snap_name = a.spec, path;
    if (auto colon = a.spec.find(':'); colon != std::string::npos) {
      snap_name = a.spec.substr(0, colon);
      path = a.spec.substr(colon + 1);
    }
    KEEPFS_ASSIGN_OR_RETURN(StoreHandle store, OpenStore(ctx, OpenMode::kReadOnly));
    snapshot::Repo repo(store.get());
    KEEPFS_ASSIGN_OR_RETURN(snapshot::SnapshotRecord snap, repo.FindSnapshot(a.user, snap_name));
    snapshot::RestoreOptions o;
    o.restore_owners = !a.no_owner && ::geteuid() == 0;
    FsIdentity as_caller;
    if (const Caller* c = ctx.user_caller()) {
      // A user's restore, run by the server: DEST is written with the user's
      // rights and becomes theirs; the store is read with the server's.
      as_caller = {c->uid, c->gid, c->groups};
      o.restore_owners = false;
      o.at_dest = [&as_caller](const std::function<Status()>& step) {
        return RunWithFsIdentity(as_caller, step);
      };
    }
    snapshot::RestoreProgress progress;
    Progress display(ctx.io.err, ctx.io.err_is_tty, !ctx.quiet, [&](double t) {
      std::ostringstream s;
      s << "files " << progress.files.load() << "  dirs " << progress.dirs.load() << "  written "
        << HumanBytes(progress.bytes.load()) << "  "
        << HumanBytes(t > 0 ? static_cast<uint64_t>(static_cast<double>(progress.bytes.load()) / t) : 0)
        << "/s";
      return s.str();
    });
    std::optional<Result<snapshot::RestoreResult>> result;
    auto restore = [&] {
      try {
        result = snapshot::Restore(repo, snap, path, ctx.Abs(a.dest), o, &progress);
      } catch (const std::exception& e) {  // no exception leaves a thread
        result = Status::Internal(std::string("restore: ") + e.what());
      }
    };
    if (o.at_dest) {
      // On a thread of its own, which does nothing else: its credentials
      // change for every step (tools/cli/fs_identity.h).
      std::thread worker(restore);
      worker.join();
    } else {
      restore();
    }
    display.Stop();
    Result<snapshot::RestoreResult>& r = *result;
    KEEPFS_RETURN_IF_ERROR(r.status());
    for (const auto& e : r->errors) {
      ctx.io.err << "keepfs: warning: " << e.path << ": " << e.message << "\n";
    }
    if (!ctx.quiet) {
      ctx.io.err << "restored " << a.user << "/" << snap.name << (path.empty() ? "" : ":" + path)
                 << " to " << a.dest << ": " << r->files << " files, " << r->dirs << " folders, "
                 << r->others << " other entries, " << HumanBytes(r->bytes) << "\n";
    }
    if (!r->errors.empty()) {
      ctx.io.err << "keepfs: " << r->errors.size() << " entries could not be fully restored\n";
      ctx.exit_code = kExitPartial;
    }
    return Status::OK();
  });
}
}  // namespace

void RegisterRestore(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<RestoreArgs>();
  CLI::App* c = app.add_subcommand(
      "restore",
      "Restore SNAPSHOT[:PATH] into DEST with modes, owners (as root), times, xattrs, ACLs,\n"
      "hard links, holes, symlinks, devices and fifos. A folder's contents go into DEST;\n"
      "a single file goes to DEST/NAME. Existing files in the way are replaced;\n"
      "nothing is ever written outside DEST. Exit 3 if some entries failed.");
  AddUserOption(c, ctx, &a->user, "Whose snapshot", /*required=*/true);
  c->add_option("SNAPSHOT", a->spec, "Snapshot name or 'latest', optionally :PATH inside it")
      ->required();
  c->add_option("DEST", a->dest, "Destination folder (created if missing)")->required();
  c->add_flag(
      "--no-owner", a->no_owner,
      "Do not chown (the default when not root, and for a user's restore through a server)");
  c->callback([&ctx, a] { ctx.exit_code = RunRestore(ctx, *a); });
}

}  // namespace keepfs::cli
