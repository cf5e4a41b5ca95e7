// keepfs mount / umount: serve every snapshot as a read-only tree (docs/mount.md).
#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <malloc.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <algorithm>
#include <climits>
#include <cstdlib>
#include <ostream>
#include <sstream>
#include <thread>

#include "fs/fuse/fuse_mount.h"
#include "fs/mountinfo.h"
#include "fs/view.h"
#include "tools/cli/common.h"
#include "tools/cli/control.h"

namespace keepfs::cli {

namespace {
struct MountArgs {
  std::string mountpoint;
  bool foreground = false;
  bool debug = false;
  unsigned threads = 0;  // 0: [mount] threads of config.toml
  std::string socket;  // the public control socket, if any
};

Result<std::string> RealDir(const std::string& path, const char* what) {
  char resolved[PATH_MAX];
  if (!::realpath(path.c_str(), resolved)) {
    return Status::FromErrno(errno, std::string(what) + " " + path);
  }
  return std::string(resolved);
}

}  // namespace

void TuneMallocForMount() {
  // Chunk buffers (0.25-4 MiB) come and go with the cache. glibc gives each
  // of up to 8 x cores threads its own arena, and every arena keeps the pages
  // it has freed; two arenas let freed chunk buffers be reused by the next
  // ones, so RSS follows the cache bound (docs/mount.md, "Memory bound").
  ::mallopt(M_ARENA_MAX, 2);
  // And from the heap, not from mmap: a fresh mapping per chunk costs a page
  // fault and a zeroed page per 4 KiB, and a cold read of a 1 GiB file spent
  // about a sixth of its time there (docs/performance.md). Setting the mmap
  // threshold fixes the trim threshold too; keep freed memory until 64 MiB of
  // it lies unused at the heap's top.
  ::mallopt(M_MMAP_THRESHOLD, 32 << 20);
  ::mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

MountConfig ApplyMemoryProfile(const Store& store) {
  MountConfig m = store.config().mount;
  for (const std::string& key : m.AboveProfile()) {
    spdlog::warn("{}/config.toml: [mount] {} overrides the memory profile", store.dir(), key);
  }
  if (m.profile != MountProfile::kSmall) return m;
  // The small profile's bound would not hold with 64 MiB of freed heap kept,
  // nor with freed chunk buffers stuck below a live one at the top of the
  // heap: chunk buffers come from their own mappings, returned when freed
  // (a page fault per 4 KiB read; its caches are small), and little freed
  // heap is kept (docs/nas.md, "Low-memory profile").
  ::mallopt(M_MMAP_THRESHOLD, 256 << 10);
  ::mallopt(M_TRIM_THRESHOLD, 4 << 20);
  return m;
}

namespace {
// Opens the store and serves until unmounted. ready() runs once mounted.
Status Serve(Context& ctx, const MountArgs& a, const std::string& mountpoint,
             const std::function<void(const std::string&)>& ready) {
  KEEPFS_ASSIGN_OR_RETURN(std::string store_dir, RealDir(ctx.store_dir, "store"));
  ctx.store_dir = store_dir;
  TuneMallocForMount();
  // Opened directly, never forwarded: a second mount of a store is "in use".
  KEEPFS_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Store::Open(store_dir, OpenMode::kReadWrite));
  const MountConfig memory = ApplyMemoryProfile(*store);
  fs::View view(store.get());
  // Commands of other keepfs processes run here while mounted (one writer).
  ControlOptions control_options;
  control_options.trim_heap_after_command = memory.profile == MountProfile::kSmall;
  control_options.public_socket = a.socket;
  KEEPFS_ASSIGN_OR_RETURN(std::unique_ptr<ControlServer> control,
                          ControlServer::Start(store.get(), control_options));
  fs::MountOptions o;
  o.mountpoint = mountpoint;
  o.fsname = "keepfs:" + store_dir;
  o.debug = a.debug;
  o.max_threads = a.threads > 0 ? a.threads : memory.threads;
  o.max_inodes = memory.max_inodes;
  o.on_ready = [&] {
    ready("mounted store " + store_dir + " at " + mountpoint + " (pid " +
          std::to_string(::getpid()) + "); unmount with 'keepfs umount " + mountpoint + "'");
  };
  Status served = fs::ServeMount(&view, o);
  control->Stop();  // finishes (or cancels) forwarded commands before the store closes
  return served;
}

int RunMount(Context& ctx, const MountArgs& a) {
  if (ctx.hosted) {
    return Fail(ctx, Status::Busy("this store is already mounted (by the process running this "
                                  "command); unmount it first with 'keepfs umount'"));
  }
  auto mp = RealDir(a.mountpoint, "mount point");
  if (!mp.ok()) {
    return Fail(ctx, mp.status().WithContext("cannot mount (create the directory first)"));
  }
  if (ctx.store_dir.empty()) {
    return Fail(ctx, Status::InvalidArgument("no store given: pass --store DIR or set KEEPFS_STORE"));
  }
  if (a.foreground) {
    return Run(ctx, [&] {
      return Serve(ctx, a, *mp, [&](const std::string& msg) {
        if (!ctx.quiet) ctx.io.err << msg << "; Ctrl-C unmounts\n" << std::flush;
      });
    });
  }
  // Daemonize before anything starts a thread (RocksDB does, at open): the
  // child serves and reports "ready" or its error through a pipe; the parent
  // waits for that, prints it, and exits with the matching code.
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Fail(ctx, Status::FromErrno(errno, "pipe"));
  ctx.io.out.flush();
  ctx.io.err.flush();
  pid_t pid = ::fork();
  if (pid < 0) return Fail(ctx, Status::FromErrno(errno, "fork"));
  if (pid > 0) {
    ::close(fds[1]);
    std::string msg;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
      if (n > 0) msg.append(buf, static_cast<size_t>(n));
    }
    ::close(fds[0]);
    if (msg.rfind("ok ", 0) == 0) {
      if (!ctx.quiet) ctx.io.err << msg.substr(3) << "\n";
      return kExitOk;
    }
    ctx.io.err << (msg.empty() ? "keepfs: the mount process exited without mounting\n" : msg);
    return kExitError;
  }
  ::close(fds[0]);
  ::setsid();
  int pipe_fd = fds[1];
  auto report = [&](const std::string& text) {
    (void)!::write(pipe_fd, text.data(), text.size());
  };
  std::ostringstream errors;
  Io child_io{errors, errors, false, false};
  Context child{child_io, ctx.store_dir, ctx.quiet, kExitOk};
  Status s = Serve(child, a, *mp, [&](const std::string& msg) {
    // From here on the daemon logs to syslog; the terminal is released.
    auto logger = spdlog::syslog_logger_mt("keepfs", "keepfs", LOG_PID, LOG_DAEMON);
    spdlog::set_default_logger(logger);
    report("ok " + msg);
    ::close(pipe_fd);
    pipe_fd = -1;
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
      ::dup2(null, STDIN_FILENO);
      ::dup2(null, STDOUT_FILENO);
      ::dup2(null, STDERR_FILENO);
      ::close(null);
    }
    if (::chdir("/") != 0) { /* keep serving: cwd only matters for relative paths */ }
  });
  if (pipe_fd >= 0) {  // never got ready
    if (!s.ok()) Fail(child, s);
    report(errors.str());
    ::close(pipe_fd);
  } else if (!s.ok()) {
    spdlog::error("mount ended: {}", s.message());
  }
  std::_Exit(s.ok() ? kExitOk : kExitError);  // the parent already reported
}

// The store behind a keepfs mount: its source is "keepfs:STORE".
std::string StoreOfMount(const std::string& mountpoint) {
  std::optional<fs::MountEntry> m = fs::FindMount(mountpoint);
  if (!m || m->fstype.find("keepfs") == std::string::npos || m->source.rfind("keepfs:", 0) != 0) {
    return "";
  }
  return m->source.substr(7);
}

int RunUmount(Context& ctx, const std::string& mountpoint, bool lazy) {
  return Run(ctx, [&]() -> Status {
    KEEPFS_ASSIGN_OR_RETURN(std::string mp, RealDir(mountpoint, "mount point"));
    std::string store = StoreOfMount(mp);
    KEEPFS_RETURN_IF_ERROR(fs::Unmount(mp, lazy));
    // Wait for the mount process to close the store, so the next command can
    // open it at once.
    for (int i = 0; !store.empty() && !lazy && i < 300 && Store::LockHolder(store) != 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!ctx.quiet) ctx.io.err << "unmounted " << mp << "\n";
    return Status::OK();
  });
}
}  // namespace

void RegisterMount(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<MountArgs>();
  CLI::App* c = app.add_subcommand(
      "mount",
      "Mount every snapshot of every user, read-only, at MOUNTPOINT:\n"
      "  MOUNTPOINT/USER/SNAPSHOT/...   and   MOUNTPOINT/USER/latest\n"
      "Each USER folder is open only to that user's server uid (see 'keepfs user add'),\n"
      "root and the admin group of config.toml. Runs in the background unless -f.");
  c->add_option("MOUNTPOINT", args->mountpoint, "An existing empty directory")->required();
  c->add_flag("-f,--foreground", args->foreground, "Stay in the foreground; Ctrl-C unmounts");
  c->add_flag("--debug", args->debug, "Trace every FUSE request on stderr (with -f)");
  c->add_option("--socket", args->socket,
                "Also take commands on this public socket (mode 0666), e.g. " +
                    std::string(kDefaultPublicSocket) +
                    ": users run their own snapshots, ls, cat, diff, versions, deleted, usage, pins, pin, unpin "
                    "and restore through it (docs/server.md). Default: none, root only")
      ->check([](const std::string& p) {
        return !p.empty() && p[0] == '/' ? std::string() : std::string("must be an absolute path");
      });
  c->add_option("--threads", args->threads,
                "Most FUSE worker threads (default: [mount] threads of config.toml: 16, or 4 "
                "with profile = \"small\")")
      ->check(CLI::Range(1u, 256u));
  c->callback([&ctx, args] { ctx.exit_code = RunMount(ctx, *args); });

  auto mp = std::make_shared<std::string>();
  auto lazy = std::make_shared<bool>(false);
  CLI::App* u = app.add_subcommand(
      "umount", "Unmount a keepfs mount and wait for its process to close the store");
  u->add_option("MOUNTPOINT", *mp, "Where the store is mounted")->required();
  u->add_flag("-l,--lazy", *lazy, "Detach now even if busy; finish when no longer used");
  u->callback([&ctx, mp, lazy] { ctx.exit_code = RunUmount(ctx, *mp, *lazy); });
}

}  // namespace keepfs::cli
