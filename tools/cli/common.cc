#include "tools/cli/common.h"

#include <CLI/CLI.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <ostream>

#include "store/file_util.h"
#include "tools/cli/control.h"

namespace keepfs::cli {

std::string Context::Abs(const std::string& path) const {
  if (path.empty() || path[0] == '/' || !hosted) return path;
  return hosted->cwd + "/" + path;
}

CLI::Option* AddUserOption(CLI::App* c, Context& ctx, std::string* user, const std::string& help,
                           bool required) {
  CLI::Option* o = c->add_option("--user", *user, help);
  const Caller* caller = ctx.user_caller();
  if (std::optional<std::string> mine = caller ? caller->DefaultUser() : std::nullopt) {
    *user = *mine;
  } else if (required && !ctx.user_left_to_server) {
    o->required();
  }
  return o;
}

namespace {
// Hands the command to the server at socket_path.
Status ForwardTo(Context& ctx, const std::string& socket_path, const std::string& store_dir) {
  Result<int> code = ctx.forward(socket_path, store_dir);
  if (!code.ok()) {
    const Status& s = code.status();
    return Status(s.code(),
                  "no keepfs server answers on " + socket_path + " (" +
                      (s.saved_errno() ? std::strerror(s.saved_errno()) : s.message()) +
                      "); is it running?",
                  s.saved_errno());
  }
  ctx.forwarded_exit = *code;
  return Status::Busy("forwarded to " + socket_path);
}

// A store (or its control socket) that is root's only: the server's public
// socket if there is one, else what to do.
Status ReachAsUser(Context& ctx, const std::string& what) {
  if (PathExists(kDefaultPublicSocket)) return ForwardTo(ctx, kDefaultPublicSocket, ctx.store_dir);
  return Status(StatusCode::kPermissionDenied,
                "permission denied: " + what + "; only root may use it directly. Users reach a "
                "keepfs server through its public socket: pass --socket PATH (or set "
                "KEEPFS_SOCKET), e.g. --socket " + std::string(kDefaultPublicSocket),
                EACCES);
}

// A client's --store, hosted: it must name the store the server serves.
Status CheckServedStore(const Context& ctx) {
  if (ctx.store_dir.empty()) return Status::OK();
  const std::string given = ctx.Abs(ctx.store_dir);
  struct stat a, b;
  if (::stat(given.c_str(), &a) == 0 && ::stat(ctx.hosted->store->dir().c_str(), &b) == 0 &&
      a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
    return Status::OK();
  }
  return Status::InvalidArgument("this keepfs server serves the store " +
                                 ctx.hosted->store->dir() + ", not " + given +
                                 "; leave out --store, or reach that store's own server");
}
}  // namespace

Result<StoreHandle> OpenStore(Context& ctx, OpenMode mode, bool beside_writers) {
  if (ctx.hosted) {
    KEEPFS_RETURN_IF_ERROR(CheckServedStore(ctx));
    std::unique_lock<std::mutex> writer;
    if (mode == OpenMode::kReadWrite && !beside_writers) writer = std::unique_lock<std::mutex>(*ctx.hosted->writer_mu);
    return StoreHandle(ctx.hosted->store, std::move(writer));
  }
  if (ctx.forward && !ctx.socket.empty()) return ForwardTo(ctx, ctx.socket, ctx.store_dir);
  if (ctx.store_dir.empty()) {
    if (ctx.forward && PathExists(kDefaultPublicSocket)) {
      return ForwardTo(ctx, kDefaultPublicSocket, "");
    }
    return Status::InvalidArgument(
        "no store given: pass --store DIR or set KEEPFS_STORE (or --socket PATH to reach a "
        "keepfs server)");
  }
  auto store = Store::Open(ctx.store_dir, mode);
  if (store.ok()) return StoreHandle(std::move(*store));
  if (!ctx.forward) return store.status();
  if (store.status().code() == StatusCode::kBusy) {
    // A mount or server process holds the store: it runs the command for us.
    Result<int> code = ctx.forward(ctx.store_dir + "/control.sock", "");
    if (code.ok()) {
      ctx.forwarded_exit = *code;
      return Status::Busy("forwarded to the process holding the store");
    }
    if (code.status().code() == StatusCode::kPermissionDenied) {  // the socket is root's (0600)
      return ReachAsUser(ctx, "the process serving " + ctx.store_dir +
                                  " takes commands on its control.sock only from root");
    }
  }
  // A store directory of our own whose open was denied is no root's store:
  // a file in it is unreadable (config.toml chmod 600 by root), and that
  // file, which the status names, is what to fix.
  struct stat st;
  const bool ours = ::stat(ctx.store_dir.c_str(), &st) == 0 && st.st_uid == ::geteuid();
  if (store.status().code() == StatusCode::kPermissionDenied && ::geteuid() != 0 && !ours) {
    return ReachAsUser(ctx,
                       "the store " + ctx.store_dir + " is root's (it holds every user's data)");
  }
  return store.status();
}

int Fail(Context& ctx, const Status& status) {
  if (ctx.forwarded_exit) return *ctx.forwarded_exit;
  ctx.io.err << "keepfs: " << status.message() << "\n";
  if (status.code() == StatusCode::kCancelled) return kExitCancelled;
  if (status.code() == StatusCode::kPermissionDenied) return kExitDenied;
  if (status.code() == StatusCode::kNoSpace) {
    // Every write path keeps the store consistent on ENOSPC (docs/commit.md).
    ctx.io.err << "keepfs: the store's disk is full; nothing committed was changed. Free space "
                  "(or prune old snapshots) and run the command again.\n";
  }
  return kExitError;
}

int Run(Context& ctx, const std::function<Status()>& fn) {
  // A command that stopped for a cancel says so (Status::Cancelled, 130). One
  // that finished anyway, the cancel arriving after its last look (a backup
  // past its commit point), reports what it did: 130 would claim that
  // nothing was committed.
  Status s = fn();
  return s.ok() ? ctx.exit_code : Fail(ctx, s);
}

std::string ModeString(char type, uint32_t mode) {
  std::string s(10, '-');
  s[0] = type;
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) {
    if (mode & (1u << (8 - i))) s[1 + i] = rwx[i];
  }
  if (mode & 04000) s[3] = (mode & 0100) ? 's' : 'S';
  if (mode & 02000) s[6] = (mode & 0010) ? 's' : 'S';
  if (mode & 01000) s[9] = (mode & 0001) ? 't' : 'T';
  return s;
}

}  // namespace keepfs::cli
