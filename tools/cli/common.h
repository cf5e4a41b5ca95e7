// Shared pieces of the CLI commands: the parsed global options, opening the
// store with a helpful error, printing errors once, formatting sizes.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <memory>
#include <string>

#include "store/status.h"
#include "store/store.h"
#include "store/text.h"
#include "tools/cli/cli.h"

namespace CLI {
class App;
}

namespace keepfs::cli {

struct Hosted {
  Store* store;                      // the mount process's open store
  std::mutex* writer_mu;             // one writing command at a time in the process
  std::string cwd;                   // the client's working directory
  const std::atomic<bool>* cancel;   // set when the client asks to stop
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
  // Sends this command to the mount process that holds store_dir and returns
  // its exit code; nullopt when no mount process answers. Unset in tests.
  std::function<std::optional<int>(const std::string& store_dir)> forward;

  // path made absolute against the caller's working directory.
  std::string Abs(const std::string& path) const;
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

// Opens the store named by ctx.store_dir; a missing --store is an error
// that says how to give one. When a mount process holds the store, the whole
// command is sent to it over the control socket instead: then the result is
// an error status and ctx.forwarded_exit holds the command's exit code.
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
