// keepfs store-restore: the offline restore of a store from a store-backup
// copy, packs first, then metadata, then config, then an audit
// (store/store_restore.h, docs/integrity.md "Offline restore").
#include <CLI/CLI.hpp>

#include <ostream>

#include "snapshot/restore_audit.h"
#include "store/store_restore.h"
#include "store/text.h"
#include "tools/cli/common.h"
#include "tools/cli/progress.h"

namespace keepfs::cli {

namespace {
struct StoreRestoreArgs {
  std::string backup, store;
  bool resume = false;
  bool replace = false;
  bool verify_data = false;
  bool json = false;
};

constexpr size_t kPathsShown = 20;

std::string ListJson(const std::vector<std::string>& items) {
  std::string o = "[";
  for (size_t i = 0; i < items.size(); ++i) o += (i ? "," : "") + JsonString(items[i]);
  return o + "]";
}

void PrintJson(std::ostream& out, const StoreRestoreResult& r) {
  out << "{\"store_id\":" << JsonString(r.store_id) << ",\"generation\":" << r.generation
      << ",\"resumed\":" << (r.resumed ? "true" : "false") << ",\"packs\":" << r.packs
      << ",\"packs_copied\":" << r.packs_copied << ",\"packs_skipped\":" << r.packs_skipped
      << ",\"packs_kept\":" << r.packs_kept << ",\"packs_moved_aside\":" << r.packs_moved_aside
      << ",\"bytes_copied\":" << r.bytes_copied << ",\"meta_files\":" << r.meta_files
      << ",\"moved_aside\":" << ListJson(r.moved_aside)
      << ",\"snapshots\":" << r.audit.snapshots << ",\"problems\":" << r.audit.problems
      << ",\"damaged_snapshots\":[";
  for (size_t i = 0; i < r.audit.damaged.size(); ++i) {
    const DamagedSnapshot& d = r.audit.damaged[i];
    out << (i ? "," : "") << "{\"user\":" << JsonString(d.user)
        << ",\"snapshot\":" << JsonString(d.snapshot) << ",\"paths\":" << ListJson(d.paths) << "}";
  }
  out << "],\"ok\":" << (r.ok() ? "true" : "false") << "}\n";
}

void PrintText(std::ostream& out, const StoreRestoreArgs& a, const StoreRestoreResult& r) {
  out << (r.resumed ? "resumed: " : "") << "restored store " << r.store_id << " (backup generation "
      << r.generation << ") into " << a.store << ": " << r.packs << " packs (" << r.packs_copied
      << " copied, " << r.packs_skipped << " already in place";
  if (a.replace) out << ", " << r.packs_kept << " of them kept from the replaced store";
  out << "), " << r.meta_files << " metadata files; " << HumanBytes(r.bytes_copied) << " copied\n";
  for (const auto& m : r.moved_aside) {
    out << "moved aside, not deleted: " << a.store << "/" << m << "\n";
  }
  for (const auto& line : r.audit.problem_lines) out << "problem: " << line << "\n";
  for (const DamagedSnapshot& d : r.audit.damaged) {
    out << "damaged snapshot: " << d.user << "/" << d.snapshot << " (" << d.paths.size()
        << " paths)\n";
    for (size_t i = 0; i < d.paths.size() && i < kPathsShown; ++i) {
      out << "  affects " << (d.paths[i].empty() ? "(the whole snapshot)" : d.paths[i]) << "\n";
    }
    if (d.paths.size() > kPathsShown) {
      out << "  ... and " << d.paths.size() - kPathsShown << " more\n";
    }
  }
  if (r.ok()) {
    out << "audit: ok: " << r.audit.snapshots << " snapshots whole"
        << (a.verify_data ? ", every chunk re-read and verified" : "") << "\n";
  } else {
    out << "audit: DAMAGED: " << r.audit.problems << " problems; " << r.audit.damaged.size()
        << " snapshots cannot be fully served (their damaged files read as I/O errors; the rest "
           "of the store is usable). 'keepfs check' lists them again.\n";
  }
}

int RunStoreRestore(Context& ctx, const StoreRestoreArgs& a) {
  return Run(ctx, [&]() -> Status {
    PhaseLine line(ctx.io.err, ctx.io.err_is_tty, !ctx.quiet && !a.json, "store-restore");
    StoreRestoreOptions o;
    o.backup = ctx.Abs(a.backup);
    o.store = ctx.Abs(a.store);
    o.resume = a.resume;
    o.replace = a.replace;
    o.progress = [&line](const std::string& phase, uint64_t done, uint64_t total) {
      line.Set(phase, done, total);
    };
    o.audit = [&](Store* restored) {
      snapshot::RestoreAuditOptions ao;
      ao.verify_data = a.verify_data;
      ao.progress = [&line](const std::string& phase, uint64_t done) {
        line.Set("audit " + phase, done);
      };
      return snapshot::AuditRestoredStore(restored, ao);
    };
    auto r = RestoreStore(o);
    line.Stop();
    KEEPFS_RETURN_IF_ERROR(r.status());
    if (a.json) {
      PrintJson(ctx.io.out, *r);
    } else {
      PrintText(ctx.io.out, a, *r);
    }
    if (!r->ok()) ctx.exit_code = kExitError;
    return Status::OK();
  });
}
}  // namespace

void RegisterStoreRestore(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<StoreRestoreArgs>();
  CLI::App* c = app.add_subcommand(
      "store-restore",
      "Restore the store directory STORE from BACKUP, a copy made by 'keepfs store-backup'.\n"
      "Offline: refused while a mount or server holds STORE, which it keeps locked. Checks\n"
      "the MANIFEST, marks STORE with RESTORING (every other command refuses it until the\n"
      "restore finishes), copies the packs, then the metadata, then the config, hashing\n"
      "every file against the MANIFEST on the way, and ends with an audit (a check) that\n"
      "names every snapshot the restored store cannot fully serve. STORE must be empty or\n"
      "new, or, with --replace, a damaged store; an interrupted restore is finished with\n"
      "--resume. Exit 0 restored and clean, 1 on error or when the audit found damage\n"
      "(docs/integrity.md, 'Offline restore').");
  c->add_option("BACKUP", a->backup, "The store-backup copy (a directory with a MANIFEST)")
      ->required();
  c->add_option("STORE", a->store,
                "The store directory to restore into (created; empty, or see --replace)")
      ->required();
  c->add_flag("--resume", a->resume,
              "Finish the interrupted restore into STORE (it holds RESTORING): packs already\n"
              "in place are kept, metadata and config are copied again, the audit runs again");
  c->add_flag("--replace", a->replace,
              "STORE holds a (damaged) keepfs store: replace it. Its packs that match the\n"
              "backup (size and SHA-256) are kept; its metadata, config and other pack files\n"
              "are moved aside to STORE/*.replaced.TIME, never deleted");
  c->add_flag("--verify-data", a->verify_data,
              "The audit also re-reads and re-hashes every chunk (as 'keepfs check\n"
              "--verify-data')");
  c->add_flag("--json", a->json,
              "One JSON object: store_id, generation, resumed, packs, packs_copied,\n"
              "packs_skipped, packs_kept, packs_moved_aside, bytes_copied, meta_files,\n"
              "moved_aside[], snapshots, problems, damaged_snapshots[{user, snapshot,\n"
              "paths[]}], ok");
  c->callback([&ctx, a] { ctx.exit_code = RunStoreRestore(ctx, *a); });
}

}  // namespace keepfs::cli
