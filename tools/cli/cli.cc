#include "tools/cli/cli.h"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <iostream>
#include <new>

#include "store/store.h"
#include "tools/cli/common.h"
#include "tools/cli/control.h"

namespace keepfs::cli {

namespace {
const std::string kVersion = "keepfs 0.1.0 (store format " + std::to_string(kFormatVersion) + ")";

int Parse(const std::vector<std::string>& args, Io& io, const Hosted* hosted) {
  Context ctx{io};
  ctx.hosted = hosted;
  if (!hosted) {
    ctx.forward = [&args, &io](const std::string& store_dir) { return Forward(store_dir, args, io); };
  }
  CLI::App app{
      "keepfs: a versioned, deduplicated backup store.\n"
      "Every command works on one store directory, given by --store DIR or KEEPFS_STORE.\n"
      "Exit codes: 0 ok, 1 error, 2 usage, 3 partial (some files could not be read or written).\n"
      "Full manual: docs/usage.md",
      "keepfs"};
  app.fallthrough();
  app.require_subcommand(1);
  app.set_version_flag("--version", kVersion);
  app.add_option("--store", ctx.store_dir, "Store directory (default: $KEEPFS_STORE)")
      ->envname("KEEPFS_STORE");
  app.add_flag("-q,--quiet", ctx.quiet, "No progress or summary on stderr");
  for (Registrar r : {RegisterInit, RegisterBackup, RegisterSnapshots, RegisterLs, RegisterCat,
                      RegisterDiff, RegisterRestore, RegisterCheck, RegisterRepair, RegisterStats, RegisterMount,
                      RegisterUser, RegisterUsage, RegisterPrune, RegisterPin, RegisterGc, RegisterSpoolIngest,
                      RegisterStoreBackup, RegisterStoreRestore}) {
    r(app, ctx);
  }
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::CallForVersion&) {
    io.out << kVersion << "\n";
    return kExitOk;
  } catch (const CLI::Success& e) {  // --help at any level
    app.exit(e, io.out, io.err);
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    io.err << "keepfs: " << e.what() << "\nRun 'keepfs --help' or 'keepfs COMMAND --help'.\n";
    return kExitUsage;
  }
  return ctx.exit_code;
}
}  // namespace

int KeepfsMain(const std::vector<std::string>& args, Io& io) {
  try {
    spdlog::set_pattern("keepfs: %l: %v");
    spdlog::set_level(spdlog::level::warn);
    if (const char* lvl = std::getenv("KEEPFS_LOG")) spdlog::set_level(spdlog::level::from_str(lvl));
    return Parse(args, io, nullptr);
  } catch (const std::bad_alloc&) {
    io.err << "keepfs: out of memory\n";
  } catch (const std::exception& e) {
    io.err << "keepfs: internal error: " << e.what() << "\n";
  } catch (...) {
    io.err << "keepfs: internal error\n";
  }
  return kExitError;
}

int RunHosted(const std::vector<std::string>& args, Io& io, const Hosted& hosted) {
  try {
    return Parse(args, io, &hosted);
  } catch (const std::exception& e) {
    io.err << "keepfs: internal error: " << e.what() << "\n";
  } catch (...) {
    io.err << "keepfs: internal error\n";
  }
  return kExitError;
}

}  // namespace keepfs::cli
