// keepfs store-backup: a consistent, incremental, verifiable copy of the
// store itself (store/store_backup.h, docs/integrity.md).
#include <CLI/CLI.hpp>

#include <ostream>

#include "store/store_backup.h"
#include "store/text.h"
#include "tools/cli/common.h"
#include "tools/cli/progress.h"

namespace keepfs::cli {

namespace {
struct StoreBackupArgs {
  std::string dest;
  bool verify = false;
  bool json = false;
};

int RunVerify(Context& ctx, const StoreBackupArgs& a) {
  return Run(ctx, [&]() -> Status {
    KEEPFS_ASSIGN_OR_RETURN(StoreBackupVerifyResult r, VerifyStoreBackup(ctx.Abs(a.dest)));
    if (a.json) {
      ctx.io.out << "{\"files\":" << r.files << ",\"bytes\":" << r.bytes
                 << ",\"ok\":" << (r.ok() ? "true" : "false") << ",\"problems\":[";
      for (size_t i = 0; i < r.problems.size(); ++i) {
        ctx.io.out << (i ? "," : "") << JsonString(r.problems[i]);
      }
      ctx.io.out << "]}\n";
    } else {
      for (const auto& p : r.problems) ctx.io.out << "problem: " << p << "\n";
      ctx.io.out << (r.ok() ? "ok: " : "DAMAGED: ") << r.files << " files, " << HumanBytes(r.bytes)
                 << " match the manifest" << (r.ok() ? "" : " except the above") << "\n";
    }
    if (!r.ok()) ctx.exit_code = kExitError;
    return Status::OK();
  });
}

int RunStoreBackup(Context& ctx, const StoreBackupArgs& a) {
  if (a.verify) return RunVerify(ctx, a);
  return Run(ctx, [&]() -> Status {
    KEEPFS_ASSIGN_OR_RETURN(StoreHandle store,
                            OpenStore(ctx, OpenMode::kReadWrite, /*beside_writers=*/true));
    PhaseLine line(ctx.io.err, ctx.io.err_is_tty, !ctx.quiet && !a.json, "store-backup");
    StoreBackupOptions o;
    o.dest = ctx.Abs(a.dest);
    o.progress = [&line](const std::string& phase, uint64_t done, uint64_t total) {
      line.Set(phase, done, total);
    };
    auto r = BackupStore(store.get(), o);
    line.Stop();
    KEEPFS_RETURN_IF_ERROR(r.status());
    if (a.json) {
      ctx.io.out << "{\"generation\":" << r->generation << ",\"packs\":" << r->packs
                 << ",\"packs_copied\":" << r->packs_copied << ",\"packs_linked\":" << r->packs_linked
                 << ",\"packs_removed\":" << r->packs_removed << ",\"bytes_copied\":" << r->bytes_copied
                 << ",\"meta_files\":" << r->meta_files << "}\n";
    } else {
      ctx.io.out << "store backup " << r->generation << " in " << o.dest << ": " << r->packs
                 << " packs (" << r->packs_copied << " new, " << r->packs_linked
                 << " of them hard-linked; " << r->packs_removed << " retired ones removed), "
                 << r->meta_files << " metadata files; " << HumanBytes(r->bytes_copied)
                 << " copied\n";
    }
    return Status::OK();
  });
}
}  // namespace

void RegisterStoreBackup(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<StoreBackupArgs>();
  CLI::App* c = app.add_subcommand(
      "store-backup",
      "Copy the store itself into DEST: its metadata (a RocksDB checkpoint), the packs it\n"
      "indexes (hard-linked on the same filesystem) and its config, with a MANIFEST of\n"
      "SHA-256 hashes written last. Consistent while backups, mounts and gc run; a second\n"
      "run into the same DEST copies only new packs and removes retired ones after the new\n"
      "manifest is in place. --verify re-hashes a copy against its manifest (exit 1 on any\n"
      "difference). docs/integrity.md");
  c->add_option("DEST", a->dest, "Directory of the copy (created; empty or an earlier copy)")
      ->required();
  c->add_flag("--verify", a->verify, "Only check DEST against its MANIFEST; needs no store");
  c->add_flag("--json", a->json,
              "One JSON object: generation, packs, packs_copied, packs_linked, packs_removed,\n"
              "bytes_copied, meta_files (with --verify: files, bytes, ok, problems[])");
  c->callback([&ctx, a] { ctx.exit_code = RunStoreBackup(ctx, *a); });
}

}  // namespace keepfs::cli
