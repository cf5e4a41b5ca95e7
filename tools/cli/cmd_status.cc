// keepfs status, keepfs admit, keepfs run-job: asking a running server
// (tools/server/server_state.h) and the store what is going on.
#include <CLI/CLI.hpp>

#include <ctime>

#include "snapshot/catalog.h"
#include "tools/cli/common.h"
#include "tools/server/status_report.h"

namespace keepfs::cli {

namespace {
constexpr uint32_t kDefaultNoBackupDays = 3;  // without a server's [attention]

// The `keepfs serve` this command runs in. Opening the store sends the
// command to the process that holds it; run directly, or under `keepfs
// mount`, there is no server: an error saying so, with what to do.
Result<server::ServerState*> HostingServer(Context& ctx, const std::string& what) {
  KEEPFS_ASSIGN_OR_RETURN(StoreHandle store, OpenStore(ctx, OpenMode::kReadOnly));
  if (ctx.hosted && ctx.hosted->server) return ctx.hosted->server;
  return Status::NotSupported(
      "no 'keepfs serve' runs this store, so there is nothing to " + what +
      "; start the server (docs/server.md), or take pushes with 'keepfs spool-ingest SPOOL'");
}

int RunStatus(Context& ctx, bool json) {
  return Run(ctx, [&]() -> Status {
    KEEPFS_ASSIGN_OR_RETURN(StoreHandle store, OpenStore(ctx, OpenMode::kReadOnly));
    server::ServerState* srv = ctx.hosted ? ctx.hosted->server : nullptr;
    std::optional<server::ServerStatus> live;
    if (srv) live = srv->Status();
    KEEPFS_ASSIGN_OR_RETURN(
        server::StatusReport r,
        server::GatherStatus(store.get(), live ? &*live : nullptr,
                             live ? live->attention_no_backup_days : kDefaultNoBackupDays,
                             static_cast<int64_t>(std::time(nullptr))));
    ctx.io.out << (json ? server::StatusJson(r) + "\n" : server::StatusText(r));
    return Status::OK();
  });
}

int RunAdmit(Context& ctx, const std::string& user, bool json) {
  return Run(ctx, [&]() -> Status {
    KEEPFS_RETURN_IF_ERROR(snapshot::ValidateUserName(user));
    KEEPFS_ASSIGN_OR_RETURN(server::ServerState * srv, HostingServer(ctx, "admit to"));
    server::AdmitAnswer a = srv->Admit(user);
    if (json) {
      ctx.io.out << "{\"ok\":" << (a.ok ? "true" : "false")
                 << ",\"retry_after\":" << a.retry_after_sec << "}\n";
    } else {
      ctx.io.out << (a.ok ? std::string("ok") : "busy retry-after=" + std::to_string(a.retry_after_sec))
                 << "\n";
    }
    if (!a.ok) ctx.exit_code = kExitBusy;
    return Status::OK();
  });
}

int RunJobNow(Context& ctx, const std::string& name) {
  return Run(ctx, [&]() -> Status {
    KEEPFS_ASSIGN_OR_RETURN(server::ServerState * srv, HostingServer(ctx, "run"));
    KEEPFS_RETURN_IF_ERROR(srv->RunJobNow(name));
    if (!ctx.quiet) {
      ctx.io.err << "job " << name << " is due now; 'keepfs status' shows its progress\n";
    }
    return Status::OK();
  });
}
}  // namespace

void RegisterStatus(CLI::App& app, Context& ctx) {
  auto json = std::make_shared<bool>(false);
  CLI::App* s = app.add_subcommand(
      "status",
      "What the server is doing and what needs attention: ingests running and queued with\n"
      "their progress, admissions, each scheduled job's last result and next run, each\n"
      "user's last backup, snapshots, charged bytes, quota and pins, and a list of what to\n"
      "look at (no backup in [attention] no_backup_days, over quota, check findings,\n"
      "quarantined snapshots, failed pushes). Without a running 'keepfs serve' it shows the\n"
      "store's part and the jobs' last recorded runs. Exit 0 (also when something needs\n"
      "attention: read 'attention' in --json)");
  s->add_flag("--json", *json,
              "One JSON object: now_unix, server (null when none runs: started_unix, running[],\n"
              "queued[], admitted[], jobs[] with schedule, next_unix, running, progress, last),\n"
              "job_records[], users[] (user, last_backup_unix, snapshots, charged, quota, pins),\n"
              "attention[] (sentences)");
  s->callback([&ctx, json] { ctx.exit_code = RunStatus(ctx, *json); });

  auto user = std::make_shared<std::string>();
  auto admit_json = std::make_shared<bool>(false);
  CLI::App* a = app.add_subcommand(
      "admit",
      "Ask the server whether USER may push now. Prints 'ok' (exit 0): a slot is held for\n"
      "the user until their push is ingested or [ingest] admit_lease passes; or\n"
      "'busy retry-after=SECONDS' (exit 75): try again after about that long, with jitter\n"
      "and a growing back-off (docs/server.md has a laptop script). Needs 'keepfs serve'");
  a->add_option("--user", *user, "Who wants to push")->required();
  a->add_flag("--json", *admit_json, "One JSON object: ok, retry_after (seconds)");
  a->callback([&ctx, user, admit_json] { ctx.exit_code = RunAdmit(ctx, *user, *admit_json); });

  auto job = std::make_shared<std::string>();
  CLI::App* r = app.add_subcommand(
      "run-job",
      "Make a scheduled job of the running server due now: prune, gc (the sharing pass,\n"
      "then gc), scrub, or store-backup (when configured). It runs after the job running\n"
      "now, if any, and is recorded like a scheduled run. Needs 'keepfs serve'");
  r->add_option("JOB", *job, "prune, gc, scrub or store-backup")->required();
  r->callback([&ctx, job] { ctx.exit_code = RunJobNow(ctx, *job); });
}

}  // namespace keepfs::cli
