// keepfs serve: the whole server in one process (docs/server.md): the
// mount, the control socket, the spool watcher with its ingest queue, and
// the scheduler. Runs in the foreground (systemd Type=notify); SIGTERM,
// SIGINT or an unmount stop it cleanly.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <csignal>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <mutex>
#include <thread>

#include "fs/fuse/fuse_mount.h"
#include "fs/view.h"
#include "snapshot/check.h"
#include "tools/cli/common.h"
#include "tools/cli/control.h"
#include "tools/server/ingest_queue.h"
#include "tools/server/priority.h"
#include "tools/server/scheduler.h"
#include "tools/server/sd_notify.h"
#include "tools/server/server_config.h"
#include "tools/server/server_log.h"
#include "tools/server/server_state.h"
#include "tools/server/spool_watcher.h"

namespace keepfs::cli {

namespace {
struct ServeArgs {
  std::string config;
  bool check_only = false;
};

// The running server as hosted commands see it. Its parts start once the
// mount is up and stop before the store closes; in between, hosted
// commands may ask at any time, so the parts are reached under mu_.
class Server : public server::ServerState {
 public:
  explicit Server(const server::ServerConfig& c) : config_(c), started_(std::time(nullptr)) {}

  server::ServerStatus Status() const override {
    server::ServerStatus s;
    s.started_unix = started_;
    s.max_concurrent = config_.ingest.max_concurrent;
    s.admit_slots = config_.ingest.AdmitSlots();
    s.attention_no_backup_days = config_.attention_no_backup_days;
    s.spool = config_.spool;
    s.mountpoint = config_.mountpoint;
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_) queue_->Fill(&s);
    if (scheduler_) scheduler_->Fill(&s);
    return s;
  }
  server::AdmitAnswer Admit(const std::string& user) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!queue_) return {false, 30};  // starting or stopping
    return queue_->Admit(user);
  }
  keepfs::Status RunJobNow(const std::string& name) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!scheduler_) return keepfs::Status::Busy("the server is starting or stopping; try again");
    return scheduler_->RunNow(name);
  }

  // Starts the ingest queue, the spool watcher and the scheduler.
  keepfs::Status StartParts(Store* store, ControlServer* control);
  // Stops them: no new work, running ingests and jobs cancelled cleanly.
  void StopParts();
  // For the watchdog: the scheduler's thread has turned within max.
  bool Alive(std::chrono::nanoseconds max) const;

 private:
  std::vector<server::JobSpec> Jobs(Store* store) const;

  const server::ServerConfig config_;
  const int64_t started_;
  server::ReadThrottle ingest_throttle_{config_.ingest.priority.read_bytes_per_sec};
  server::ReadThrottle job_throttle_{config_.schedule.priority.read_bytes_per_sec};
  std::unique_ptr<snapshot::SourceFs> ingest_fs_;
  mutable std::mutex mu_;
  std::unique_ptr<server::IngestQueue> queue_;          // GUARDED_BY(mu_)
  std::unique_ptr<server::SpoolWatcher> watcher_;       // GUARDED_BY(mu_)
  std::unique_ptr<server::Scheduler> scheduler_;        // GUARDED_BY(mu_)
};

std::vector<server::JobSpec> Server::Jobs(Store* store) const {
  const server::ScheduleConfig& s = config_.schedule;
  std::vector<server::JobSpec> jobs;
  jobs.push_back({"prune", s.prune, [] { return std::vector<server::Args>{{"keepfs", "prune"}}; }, {}});
  // The sharing pass first: what it unifies, gc reclaims in the same night.
  jobs.push_back({"gc", s.gc,
                  [] { return std::vector<server::Args>{{"keepfs", "share"}, {"keepfs", "gc"}}; },
                  {3}});
  const std::string percent = std::to_string(s.scrub_percent) + "%";
  jobs.push_back({"scrub", s.scrub,
                  [store, percent] {
                    // An interrupted check (this job's, stopped by a shutdown)
                    // is continued rather than started over.
                    auto resume = snapshot::HasInterruptedCheck(store);
                    if (resume.ok() && *resume) {
                      return std::vector<server::Args>{{"keepfs", "check", "--resume"}};
                    }
                    return std::vector<server::Args>{
                        {"keepfs", "check", "--verify-data-subset", percent}};
                  },
                  {1}});
  if (s.store_backup.every != server::Schedule::Every::kOff) {
    const std::string dest = s.store_backup_dest;
    jobs.push_back({"store-backup", s.store_backup,
                    [dest] { return std::vector<server::Args>{{"keepfs", "store-backup", dest}}; },
                    {}});
  }
  return jobs;
}

keepfs::Status Server::StartParts(Store* store, ControlServer* control) {
  if (config_.ingest.priority.read_bytes_per_sec) {
    ingest_fs_ = server::ThrottledSourceFs(snapshot::SourceFs::Posix(), &ingest_throttle_);
  }
  auto queue = std::make_unique<server::IngestQueue>(
      config_.ingest, [this, store](const server::SpoolPush& push, const std::atomic<bool>* cancel,
                                    snapshot::BackupProgress* progress) {
        return server::IngestPush(store, push, {cancel, progress, ingest_fs_.get()});
      });
  server::IngestQueue* q = queue.get();
  KEEPFS_ASSIGN_OR_RETURN(
      auto watcher, server::SpoolWatcher::Start(config_.spool, config_.ingest.rescan_sec,
                                                [q](const server::SpoolPush& p) { q->Offer(p); }));
  std::function<void(uint64_t)> throttle;
  if (config_.schedule.priority.read_bytes_per_sec) {
    throttle = [this](uint64_t n) { job_throttle_.Acquire(n); };
  }
  auto run = [this, store, control, throttle](const server::Args& args, std::ostream& out,
                                              std::ostream& err, const std::atomic<bool>* cancel) {
    Io io{out, err, false, false};
    Hosted hosted{store, control->writer_mu(), "/", cancel, this, throttle};
    return RunHosted(args, io, hosted);
  };
  KEEPFS_ASSIGN_OR_RETURN(auto scheduler, server::Scheduler::Start(store, Jobs(store),
                                                                   config_.schedule.priority, run));
  std::lock_guard<std::mutex> lock(mu_);
  queue_ = std::move(queue);
  watcher_ = std::move(watcher);
  scheduler_ = std::move(scheduler);
  return keepfs::Status::OK();
}

void Server::StopParts() {
  std::unique_ptr<server::IngestQueue> queue;
  std::unique_ptr<server::SpoolWatcher> watcher;
  std::unique_ptr<server::Scheduler> scheduler;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue = std::move(queue_);
    watcher = std::move(watcher_);
    scheduler = std::move(scheduler_);
  }
  if (watcher) watcher->Stop();      // nothing new is offered
  if (queue) queue->Stop();          // running ingests commit nothing; flags stay
  if (scheduler) scheduler->Stop();  // a running job is recorded "interrupted"
}

bool Server::Alive(std::chrono::nanoseconds max) const {
  std::lock_guard<std::mutex> lock(mu_);
  return !scheduler_ || scheduler_->TurnedWithin(max);
}

// Pings systemd's watchdog while the server is alive, until stopped.
class Watchdog {
 public:
  explicit Watchdog(const Server* server) {
    auto interval = server::SdWatchdogInterval();
    if (!interval) return;
    thread_ = std::thread([this, server, interval = *interval] {
      std::unique_lock<std::mutex> lock(mu_);
      while (!cv_.wait_for(lock, interval / 2, [&] { return stop_; })) {
        if (server->Alive(interval)) {
          server::SdNotify("WATCHDOG=1");
        } else {
          spdlog::error("the scheduler has not turned for {} s; not telling the watchdog",
                        std::chrono::duration_cast<std::chrono::seconds>(interval).count());
        }
      }
    });
  }
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

keepfs::Status Serve(Context& ctx, const server::ServerConfig& config) {
  KEEPFS_RETURN_IF_ERROR(server::SetUpServerLog(config.log));
  TuneMallocForMount();
  KEEPFS_ASSIGN_OR_RETURN(std::unique_ptr<Store> store,
                          Store::Open(config.store, OpenMode::kReadWrite));
  const MountConfig memory = ApplyMemoryProfile(*store);
  fs::View view(store.get());
  Server server(config);
  ControlOptions control_options;
  control_options.trim_heap_after_command = memory.profile == MountProfile::kSmall;
  control_options.public_socket = config.socket;
  control_options.server = &server;
  KEEPFS_ASSIGN_OR_RETURN(std::unique_ptr<ControlServer> control,
                          ControlServer::Start(store.get(), control_options));
  fs::MountOptions o;
  o.mountpoint = config.mountpoint;
  o.fsname = "keepfs:" + config.store;
  // keepfs.toml's [mount] threads when it gives one, else the store's profile.
  o.max_threads = config.lines.count("mount.threads") ? config.mount_threads : memory.threads;
  o.max_inodes = memory.max_inodes;
  keepfs::Status started;
  o.on_ready = [&] {
    started = server.StartParts(store.get(), control.get());
    if (!started.ok()) {
      // Stops at once (the mount's SIGTERM handler is in place): serving
      // half a server would hide the failure.
      spdlog::error("cannot start: {}", started.message());
      ::raise(SIGTERM);
      return;
    }
    spdlog::info("serving store {} at {}, spool {} (pid {})", config.store, config.mountpoint,
                 config.spool, ::getpid());
    server::SdNotify("READY=1\nSTATUS=serving " + config.mountpoint);
    if (!ctx.quiet && ctx.io.err_is_tty) {
      ctx.io.err << "keepfs serve: serving " << config.mountpoint << "; Ctrl-C stops\n" << std::flush;
    }
  };
  std::unique_ptr<Watchdog> watchdog = std::make_unique<Watchdog>(&server);
  keepfs::Status served = fs::ServeMount(&view, o);
  server::SdNotify("STOPPING=1");
  spdlog::info("stopping: finishing or abandoning running work");
  server.StopParts();
  watchdog.reset();
  control->Stop();  // finishes (or cancels) forwarded commands before the store closes
  spdlog::info("stopped");
  KEEPFS_RETURN_IF_ERROR(started);
  return served;
}

int RunServe(Context& ctx, const ServeArgs& a) {
  if (ctx.hosted) {
    return Fail(ctx, keepfs::Status::Busy("this store is already served (by the process running "
                                          "this command)"));
  }
  auto config = server::LoadServerConfig(ctx.Abs(a.config));
  if (!config.ok()) return Fail(ctx, config.status());
  if (a.check_only) {
    if (!ctx.quiet) ctx.io.err << a.config << ": ok\n";
    return kExitOk;
  }
  return Run(ctx, [&] { return Serve(ctx, *config); });
}
}  // namespace

void RegisterServe(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<ServeArgs>();
  CLI::App* c = app.add_subcommand(
      "serve",
      "Run the backup server in the foreground: the mount, the control socket, the spool\n"
      "watcher (inotify, with a periodic rescan) feeding an ingest queue, and the scheduler\n"
      "of prune, sharing + gc, scrub and store-backup, all as the config file says\n"
      "(docs/config.md, docs/server.md). Meant for systemd (tools/keepfs.service: Type=notify,\n"
      "watchdog); SIGTERM or Ctrl-C stops it cleanly: running ingests commit nothing and keep\n"
      "their flags, a running job is recorded interrupted and resumed at the next start.\n"
      "Exit 0 after a clean stop, 1 on a config error or a failure");
  c->add_option("--config", a->config, "The server's config file")
      ->default_val("/etc/keepfs/keepfs.toml")
      ->capture_default_str();
  c->add_flag("--check-config", a->check_only,
              "Only validate the config file (and the paths it names), then exit 0 or 1");
  c->callback([&ctx, a] { ctx.exit_code = RunServe(ctx, *a); });
}

}  // namespace keepfs::cli
