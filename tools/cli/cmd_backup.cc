// keepfs backup: ingest a directory as a new snapshot.
#include <CLI/CLI.hpp>

#include <climits>
#include <cstdlib>
#include <ostream>
#include <sstream>

#include "snapshot/catalog.h"
#include "snapshot/ingest.h"
#include "tools/cli/common.h"
#include "tools/cli/progress.h"

namespace keepfs::cli {

namespace {
struct BackupArgs {
  std::string user;
  std::string source;
  std::string time;
  bool json = false;
  int workers = 0;
  bool no_cache = false;
};

std::string ProgressLine(const snapshot::BackupProgress& p, double elapsed) {
  const auto& c = p.counters;
  double rate = elapsed > 0 ? static_cast<double>(c.bytes_read.load()) / elapsed : 0;
  std::ostringstream o;
  o << "files " << c.files.load() << "  read " << HumanBytes(c.bytes_read.load()) << "  new "
    << HumanBytes(c.bytes_new.load()) << "  stored " << HumanBytes(c.bytes_stored.load()) << "  "
    << HumanBytes(static_cast<uint64_t>(rate)) << "/s  " << p.current();
  return o.str();
}

void PrintJson(std::ostream& out, const snapshot::SnapshotRecord& r) {
  const auto& s = r.stats;
  out << "{\"snapshot\":" << JsonString(r.name) << ",\"user\":" << JsonString(r.user)
      << ",\"time\":" << JsonString(snapshot::FormatUtcTime(r.time_sec))
      << ",\"root\":" << JsonString(r.root.ToHex()) << ",\"files\":" << s.files
      << ",\"dirs\":" << s.dirs << ",\"others\":" << s.others
      << ",\"bytes_logical\":" << s.bytes_logical << ",\"bytes_read\":" << s.bytes_read
      << ",\"bytes_new\":" << s.bytes_new << ",\"bytes_stored\":" << s.bytes_stored
      << ",\"files_cached\":" << s.files_cached << ",\"duration_s\":"
      << static_cast<double>(r.finished_ns - r.started_ns) / 1e9 << ",\"errors\":[";
  for (size_t i = 0; i < r.errors.size(); ++i) {
    out << (i ? "," : "") << "{\"path\":" << JsonString(r.errors[i].path)
        << ",\"message\":" << JsonString(r.errors[i].message) << "}";
  }
  out << "]}\n";
}

int RunBackup(Context& ctx, const BackupArgs& a) {
  return Run(ctx, [&]() -> Status {
    KEEPFS_RETURN_IF_ERROR(snapshot::ValidateUserName(a.user));
    snapshot::BackupOptions o;
    o.user = a.user;
    o.workers = a.workers;
    o.use_files_cache = !a.no_cache;
    if (!a.time.empty()) {
      KEEPFS_ASSIGN_OR_RETURN(o.time_sec, snapshot::ParseUtcTime(a.time));
    }
    char resolved[PATH_MAX];
    if (!::realpath(ctx.Abs(a.source).c_str(), resolved)) {
      return Status::FromErrno(errno, "source " + a.source).WithContext("cannot back up");
    }
    o.source = resolved;
    if (ctx.hosted) o.cancel = ctx.hosted->cancel;
    KEEPFS_ASSIGN_OR_RETURN(StoreHandle store, OpenStore(ctx, OpenMode::kReadWrite));
    snapshot::BackupProgress progress;
    Progress display(ctx.io.err, ctx.io.err_is_tty, !ctx.quiet,
                     [&](double t) { return ProgressLine(progress, t); });
    auto rec = snapshot::Backup(store.get(), o, &progress);
    display.Stop();
    KEEPFS_RETURN_IF_ERROR(rec.status());
    if (a.json) {
      PrintJson(ctx.io.out, *rec);
    } else {
      ctx.io.out << rec->name << "\n";
    }
    for (const auto& e : rec->errors) {
      ctx.io.err << "keepfs: warning: " << (e.path.empty() ? "." : e.path) << ": " << e.message
                 << "\n";
    }
    if (!ctx.quiet && !a.json) {
      const auto& s = rec->stats;
      double secs = static_cast<double>(rec->finished_ns - rec->started_ns) / 1e9;
      ctx.io.err << "snapshot " << rec->user << "/" << rec->name << ": " << s.files << " files ("
                 << s.files_cached << " unchanged), " << HumanBytes(s.bytes_logical) << ", read "
                 << HumanBytes(s.bytes_read) << ", new " << HumanBytes(s.bytes_new)
                 << ", stored " << HumanBytes(s.bytes_stored) << " in " << secs << " s\n";
    }
    if (!rec->errors.empty()) {
      // Not "left out" for all: a file that changed while read, or whose
      // size lied (/proc), is kept as read and listed too; each line says.
      ctx.io.err << "keepfs: " << rec->errors.size()
                 << " entries could not be backed up as they were (listed above: left out, or "
                    "kept as the warning says); the snapshot was committed\n";
      ctx.exit_code = kExitPartial;
    }
    return Status::OK();
  });
}
}  // namespace

void RegisterBackup(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<BackupArgs>();
  CLI::App* c = app.add_subcommand(
      "backup",
      "Back up SOURCE as a new snapshot of --user; prints the snapshot name.\n"
      "Unchanged files (same path, inode, size, mtime, ctime) are not read again.\n"
      "Exit 3 when some files could not be read: they are listed and left out.");
  c->add_option("--user", args->user, "User the snapshot belongs to")->required();
  c->add_option("--time", args->time,
                "Snapshot time in UTC, e.g. 2026-10-01T03:00:00Z (default: now)");
  c->add_flag("--json", args->json, "Print a JSON summary on stdout instead of the name");
  // Bounded: each worker is a thread of each of two pools and a read buffer
  // of 8 MiB or more; --workers 100000 would exhaust the machine, and 0 or
  // a negative number was taken silently as the default.
  c->add_option("--workers", args->workers,
                "Reader/compressor threads, 1-256 (default: cores, >= 2)")
      ->check(CLI::Range(1, 256));
  c->add_flag("--no-cache", args->no_cache, "Read every file, ignoring the files cache");
  c->add_option("SOURCE", args->source, "Directory to back up")->required();
  c->callback([&ctx, args] { ctx.exit_code = RunBackup(ctx, *args); });
}

}  // namespace keepfs::cli
