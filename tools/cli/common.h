// Shared pieces of the CLI commands: the parsed global options, opening the
// store with a helpful error, printing errors once, formatting sizes.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <memory>
#include <string>
#include <string_view>

#include "store/status.h"
#include "store/store.h"
#include "store/text.h"
#include "tools/cli/caller.h"
#include "tools/cli/cli.h"

namespace CLI {
class App;
class Option;
}

namespace keepfs::server {
class ServerState;
}

namespace keepfs::cli {

struct Hosted {
  Store* store;                      // the mount process's open store
  std::mutex* writer_mu;             // one writing command at a time in the process
  std::string cwd;                   // the client's working directory
  const std::atomic<bool>* cancel;   // set when the client asks to stop
  // The `keepfs serve` process hosting the command; null under `keepfs mount`.
  server::ServerState* server = nullptr;
  // gc and check --verify-data call it with the bytes they are about to read
  // (a scheduled job's read limit); null: unthrottled.
  std::function<void(uint64_t bytes)> io_throttle;
  // Who sent the command (SO_PEERCRED): root (and the server's own uid) may
  // do everything; anyone else what tools/cli/caller.h allows, on their own
  // data. Default: root.
  Caller caller;
};

struct Context {
  Io& io;
  std::string store_dir;  // --store or KEEPFS_STORE
  bool quiet = false;
  int exit_code = kExitOk;
  // Set when this command runs inside a mount process for a client of its
  // control socket (tools/cli/control.h): the store to use, and the client's
  // working directory and cancel flag.
  const Hosted* hosted = nullptr;
  // Set when OpenStore handed the whole command to a running mount process:
  // its exit code. Fail() then returns it without printing anything.
  std::optional<int> forwarded_exit;
  // Set in a client whose command goes to a server's socket: --user is
  // optional here, and the server, which knows who is asking, decides.
  bool user_left_to_server = false;
  // --socket or KEEPFS_SOCKET: the keepfs server to send the command to
  // (OpenStore forwards instead of opening a store). Ignored when hosted.
  std::string socket;
  // Sends this command to the server listening on socket_path and returns
  // its exit code; an error status when nobody answers there (PermissionDenied
  // when the socket is not open to us). store_dir, when not empty, is added as
  // --store if the command line has none, so that the server refuses to run
  // it on another store. Unset when hosted.
  std::function<Result<int>(const std::string& socket_path, const std::string& store_dir)> forward;

  // path made absolute against the caller's working directory.
  std::string Abs(const std::string& path) const;
  // The caller when a non-root peer sent this command through a server's
  // socket (their rights are limited: tools/cli/caller.h); null otherwise.
  const Caller* user_caller() const {
    return hosted && !hosted->caller.unrestricted() ? &hosted->caller : nullptr;
  }
  // Whether this command may show user's data: always, except to a
  // user_caller() who is not user.
  bool MaySee(std::string_view user) const {
    const Caller* c = user_caller();
    return !c || c->Is(user);
  }
};

// The open store of a command: its own, or the mount process's (borrowed,
// with the process's writer lock held while the command writes).
class StoreHandle {
 public:
  StoreHandle() = default;
  explicit StoreHandle(std::unique_ptr<Store> owned) : owned_(std::move(owned)), ptr_(owned_.get()) {}
  StoreHandle(Store* borrowed, std::unique_lock<std::mutex> writer)
      : ptr_(borrowed), writer_(std::move(writer)) {}
  Store* get() const { return ptr_; }
  Store* operator->() const { return ptr_; }
  Store& operator*() const { return *ptr_; }

 private:
  std::unique_ptr<Store> owned_;
  Store* ptr_ = nullptr;
  std::unique_lock<std::mutex> writer_;
};

// Runs a command inside the mount process for a control-socket client.
int RunHosted(const std::vector<std::string>& args, Io& io, const Hosted& hosted);

// Registers one subcommand on app; its callback sets ctx.exit_code.
using Registrar = void (*)(CLI::App& app, Context& ctx);
void RegisterInit(CLI::App& app, Context& ctx);
void RegisterAttach(CLI::App& app, Context& ctx);
void RegisterStoreBackup(CLI::App& app, Context& ctx);
void RegisterStoreRestore(CLI::App& app, Context& ctx);
void RegisterBackup(CLI::App& app, Context& ctx);
void RegisterSnapshots(CLI::App& app, Context& ctx);
void RegisterLs(CLI::App& app, Context& ctx);
void RegisterCat(CLI::App& app, Context& ctx);
void RegisterDiff(CLI::App& app, Context& ctx);
void RegisterRestore(CLI::App& app, Context& ctx);
void RegisterCheck(CLI::App& app, Context& ctx);
void RegisterRepair(CLI::App& app, Context& ctx);
void RegisterStats(CLI::App& app, Context& ctx);
void RegisterMount(CLI::App& app, Context& ctx);  // mount and umount
void RegisterUser(CLI::App& app, Context& ctx);
void RegisterUsage(CLI::App& app, Context& ctx);
void RegisterPrune(CLI::App& app, Context& ctx);  // forget, undelete and prune
void RegisterPin(CLI::App& app, Context& ctx);    // pin, unpin and pins
void RegisterGc(CLI::App& app, Context& ctx);
void RegisterSpoolIngest(CLI::App& app, Context& ctx);
void RegisterServe(CLI::App& app, Context& ctx);   // serve
void RegisterVersions(CLI::App& app, Context& ctx);
void RegisterDeleted(CLI::App& app, Context& ctx);
void RegisterStatus(CLI::App& app, Context& ctx);  // status, admit and run-job

// mallopt settings that keep a serving process's RSS near its cache bound
// (docs/mount.md, "Memory bound"); before any thread starts.
void TuneMallocForMount();
// The store's [mount] memory keys for a serving process: warns about keys
// set above the profile's values and applies the profile's malloc settings
// (after TuneMallocForMount). Returns the keys.
MountConfig ApplyMemoryProfile(const Store& store);

// Adds --user to c, bound to *user. For a user_caller() who is exactly one
// store user it defaults to that user and is optional; in a client whose
// command goes to a server it is optional (the server decides); otherwise it
// is required when `required`.
CLI::Option* AddUserOption(CLI::App* c, Context& ctx, std::string* user, const std::string& help,
                           bool required);

// Opens the store named by ctx.store_dir; a missing --store is an error
// that says how to give one. The whole command is sent to a keepfs server
// instead (then the result is an error status and ctx.forwarded_exit holds
// the command's exit code) when:
//   - --socket is given: to that socket, always;
//   - neither --store nor --socket is given and kDefaultPublicSocket exists;
//   - a mount or server process holds the store: to STORE/control.sock, or,
//     when that is root's only and we are not root, to kDefaultPublicSocket
//     if it exists;
//   - the store directory is not open to us (it is root's, 0700) and
//     kDefaultPublicSocket exists.
// Hosted, it is the server's open store; a --store the client gave must name
// that store.
// beside_writers: a writing command that runs alongside the others in a
// mount process instead of waiting for the writer lock (the garbage
// collector, which has locks of its own).
Result<StoreHandle> OpenStore(Context& ctx, OpenMode mode, bool beside_writers = false);
// Prints "keepfs: <message>" once and returns the exit code for status.
int Fail(Context& ctx, const Status& status);
// Runs fn and converts a non-OK status with Fail.
int Run(Context& ctx, const std::function<Status()>& fn);

using keepfs::HumanBytes;  // store/text.h
using keepfs::JsonString;
std::string ModeString(char type, uint32_t mode);  // "drwxr-xr-x"

}  // namespace keepfs::cli
