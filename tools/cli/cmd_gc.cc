// keepfs gc: run the garbage collector once (gc/collector.h, docs/gc.md).
// While a mount runs it runs there, beside backups, prunes and reads.
#include <CLI/CLI.hpp>

#include <mutex>
#include <ctime>
#include <ostream>

#include "gc/audit.h"
#include "gc/collector.h"
#include "gc/sharing.h"
#include "snapshot/catalog.h"
#include "tools/cli/common.h"
#include "tools/cli/progress.h"

namespace keepfs::cli {

namespace {
// The collector and the auditor run beside other writing commands (in a
// mount process they do not take its writer lock); a dry run only reads.
Result<StoreHandle> OpenBesideWriters(Context& ctx, bool dry_run) {
  return OpenStore(ctx, dry_run ? OpenMode::kReadOnly : OpenMode::kReadWrite,
                   /*beside_writers=*/true);
}

// The live progress line of a run, from the GcProgress it reports.
class GcLine {
 public:
  GcLine(Context& ctx, bool json, std::string what)
      : line_(ctx.io.err, ctx.io.err_is_tty, !ctx.quiet && !json, std::move(what)) {}
  std::function<void(const gc::GcProgress&)> Sink() {
    return [this](const gc::GcProgress& p) { line_.Set(p.phase, p.done, p.total); };
  }
  void Stop() { line_.Stop(); }

 private:
  PhaseLine line_;
};

struct GcArgs {
  bool dry_run = false;
  bool json = false;
  std::string max_repack;
  std::string undelete_window;
  std::string now;
};

int RunGc(Context& ctx, const GcArgs& a) {
  return Run(ctx, [&]() -> Status {
    gc::GcOptions o;
    o.dry_run = a.dry_run;
    if (!a.now.empty()) {
      KEEPFS_ASSIGN_OR_RETURN(o.now_unix, snapshot::ParseUtcTime(a.now));
    }
    KEEPFS_ASSIGN_OR_RETURN(StoreHandle store, OpenBesideWriters(ctx, a.dry_run));
    o.config = store->config().gc;
    if (!a.max_repack.empty()) {
      auto v = ParseSize(a.max_repack);
      if (!v.ok()) return v.status().WithContext("--max-repack");
      o.config.max_repack_bytes = *v;
    }
    if (!a.undelete_window.empty()) {
      auto v = ParseDuration(a.undelete_window);
      if (!v.ok()) return v.status().WithContext("--undelete-window");
      o.config.undelete_window_sec = *v;
    }
    if (ctx.hosted) {
      o.cancel = ctx.hosted->cancel;
      o.throttle = ctx.hosted->io_throttle;
    }
    GcLine line(ctx, a.json, "gc");
    o.progress = line.Sink();
    auto r = gc::CollectGarbage(store.get(), o);
    line.Stop();
    KEEPFS_RETURN_IF_ERROR(r.status());
    ctx.io.out << (a.json ? gc::GcJson(*r) + "\n" : gc::GcText(*r));
    if (r->cancelled) return Status::Cancelled("gc stopped; run it again to continue");
    if (!r->problems.empty()) {
      // On stderr too: -q and --json must not hide what was left undone.
      for (const auto& p : r->problems) ctx.io.err << "keepfs: gc: " << p << "\n";
      ctx.io.err << "keepfs: gc left " << r->problems.size()
                 << " item(s) alone (listed above); run 'keepfs check --verify-data' to find "
                    "damage, and 'keepfs repair' to mend it\n";
      ctx.exit_code = kExitPartial;
    }
    return Status::OK();
  });
}

struct AuditArgs {
  bool dry_run = false;
  bool json = false;
};

int RunAudit(Context& ctx, const AuditArgs& a) {
  return Run(ctx, [&]() -> Status {
    KEEPFS_ASSIGN_OR_RETURN(StoreHandle store, OpenBesideWriters(ctx, a.dry_run));
    gc::AuditOptions o;
    o.dry_run = a.dry_run;
    if (ctx.hosted) o.cancel = ctx.hosted->cancel;
    GcLine line(ctx, a.json, "audit");
    o.progress = line.Sink();
    auto r = gc::Audit(store.get(), o);
    line.Stop();
    KEEPFS_RETURN_IF_ERROR(r.status());
    ctx.io.out << (a.json ? gc::AuditJson(*r) + "\n" : gc::AuditText(*r));
    if (r->cancelled) return Status::Cancelled("audit stopped; run it again");
    if (!r->clean()) ctx.exit_code = kExitError;
    return Status::OK();
  });
}
struct ShareArgs {
  bool dry_run = false;
  bool json = false;
};

int RunShare(Context& ctx, const ShareArgs& a) {
  return Run(ctx, [&]() -> Status {
    KEEPFS_ASSIGN_OR_RETURN(StoreHandle store, OpenBesideWriters(ctx, a.dry_run));
    gc::SharingOptions o;
    o.dry_run = a.dry_run;
    if (ctx.hosted) o.cancel = ctx.hosted->cancel;
    GcLine line(ctx, a.json, "share");
    o.progress = line.Sink();
    auto r = gc::RunSharingPass(store.get(), o);
    line.Stop();
    KEEPFS_RETURN_IF_ERROR(r.status());
    ctx.io.out << (a.json ? gc::SharingPassJson(*r) + "\n" : gc::SharingPassText(*r));
    if (r->cancelled) return Status::Cancelled("sharing pass stopped; run it again");
    if (!r->problems.empty()) {
      ctx.io.err << "keepfs: the sharing pass could not read " << r->problems.size()
                 << " item(s) (listed above); run 'keepfs check --verify-data'\n";
      ctx.exit_code = kExitPartial;
    }
    return Status::OK();
  });
}
}  // namespace

void RegisterGc(CLI::App& app, Context& ctx) {
  auto sa = std::make_shared<ShareArgs>();
  CLI::App* sh = app.add_subcommand(
      "share",
      "The sharing pass (docs/gc.md): find identical files that are stored twice because their\n"
      "recipes differ (a sparse and a dense copy), prove them equal by SHA-256 and make them one,\n"
      "so that the next 'keepfs gc' reclaims the copy; then record how many stored bytes each pair\n"
      "of users shares ('keepfs usage --sharing' shows it). Runs beside backups, prunes, gc and\n"
      "reads (in the mount process while mounted). Exit 3 when something could not be read.");
  sh->add_flag("--dry-run,-n", sa->dry_run, "Only report what would be unified");
  sh->add_flag("--json", sa->json,
               "One JSON object: dry_run, cancelled, finished_unix, fingerprints, groups, hashed, "
               "bytes_hashed, differ, unified, unified_bytes, released, freed, stale, skipped, "
               "problems[], pairs[{a, b, bytes}]");
  sh->callback([&ctx, sa] { ctx.exit_code = RunShare(ctx, *sa); });

  auto aa = std::make_shared<AuditArgs>();
  CLI::App* au = app.add_subcommand(
      "audit",
      "Recount every user's references from their snapshots and pins and compare them with the\n"
      "counts the garbage collector relies on (docs/gc.md, \"Auditor\"). Counts or holders below\n"
      "the recount are raised (so nothing reachable can be collected); those above are reported\n"
      "and kept. Then queue for gc every tree, content and chunk nobody references (what an\n"
      "interrupted backup leaves). Exit 1 when a count disagreed: that is a bug in keepfs.");
  au->add_flag("--dry-run,-n", aa->dry_run, "Only report");
  au->add_flag("--json", aa->json,
               "One JSON object: users, references, raised, over, holders_added, holders_extra, "
               "accounts_wrong, records_swept, orphans, clean, findings");
  au->callback([&ctx, aa] { ctx.exit_code = RunAudit(ctx, *aa); });

  auto a = std::make_shared<GcArgs>();
  CLI::App* c = app.add_subcommand(
      "gc",
      "Reclaim space: delete the trees, contents and chunks that no snapshot or pin references\n"
      "any more, remove packs that hold nothing live and repack those that are mostly dead\n"
      "([gc] in config.toml, docs/gc.md). Runs beside backups, prunes and reads (in the mount\n"
      "process while mounted). Safe to interrupt: the next run continues. Forgotten snapshots\n"
      "stay undeletable for gc.undelete_window (default 7d). Exit 3 when a damaged pack was\n"
      "left alone.");
  c->add_flag("--dry-run,-n", a->dry_run, "Only report what a run would delete and repack");
  c->add_flag("--json", a->json,
              "One JSON object on stdout: deleted snapshots, objects, packs, bytes, problems");
  c->add_option("--max-repack", a->max_repack,
                "Copy at most SIZE of live data this run (default gc.max_repack, 8GiB; 0: only "
                "remove dead packs)");
  c->add_option("--undelete-window", a->undelete_window,
                "Keep forgotten snapshots undeletable for DURATION (default gc.undelete_window; "
                "0s reclaims everything now)");
  c->add_option("--now", a->now, "Judge the undelete window as if it were this UTC time");
  c->callback([&ctx, a] { ctx.exit_code = RunGc(ctx, *a); });
}

}  // namespace keepfs::cli
