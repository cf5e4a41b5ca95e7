// Shared pieces of the CLI commands: the parsed global options, opening the
// store with a helpful error, printing errors once, formatting sizes.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "store/status.h"
#include "store/store.h"
#include "tools/cli/cli.h"

namespace CLI {
class App;
}

namespace keepfs::cli {

struct Context {
  Io& io;
  std::string store_dir;  // --store or KEEPFS_STORE
  bool quiet = false;
  int exit_code = kExitOk;
};

// Registers one subcommand on app; its callback sets ctx.exit_code.
using Registrar = void (*)(CLI::App& app, Context& ctx);
void RegisterInit(CLI::App& app, Context& ctx);
void RegisterBackup(CLI::App& app, Context& ctx);
void RegisterSnapshots(CLI::App& app, Context& ctx);
void RegisterLs(CLI::App& app, Context& ctx);
void RegisterCat(CLI::App& app, Context& ctx);
void RegisterDiff(CLI::App& app, Context& ctx);
void RegisterRestore(CLI::App& app, Context& ctx);
void RegisterCheck(CLI::App& app, Context& ctx);
void RegisterStats(CLI::App& app, Context& ctx);
void RegisterMount(CLI::App& app, Context& ctx);  // mount and umount
void RegisterUser(CLI::App& app, Context& ctx);

// Opens the store named by ctx.store_dir; a missing --store is an error
// that says how to give one.
Result<std::unique_ptr<Store>> OpenStore(Context& ctx, OpenMode mode);
// Prints "keepfs: <message>" once and returns the exit code for status.
int Fail(Context& ctx, const Status& status);
// Runs fn and converts a non-OK status with Fail.
int Run(Context& ctx, const std::function<Status()>& fn);

std::string HumanBytes(uint64_t bytes);  // "1.5 GiB"
std::string ModeString(char type, uint32_t mode);  // "drwxr-xr-x"
std::string JsonString(std::string_view s);  // quoted, escaped; invalid UTF-8 bytes as \u00XX

}  // namespace keepfs::cli
