#include "tools/cli/cli.h"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <iostream>
#include <new>

#include "store/file_util.h"
#include "store/store.h"
#include "store/text.h"
#include "tools/cli/common.h"
#include "tools/cli/control.h"

namespace keepfs::cli {

namespace {
const std::string kVersion = "keepfs 0.1.0 (store format " + std::to_string(kFormatVersion) + ")";

// A request a server refuses before the command starts.
struct Refused {
  Status status;
};

// What a non-root caller asks for, checked before any command code runs
// (tools/cli/caller.h): the parse is complete, no callback has run yet.
Status CheckUserRequest(const CLI::App& app, const Context& ctx) {
  const Caller& caller = ctx.hosted->caller;
  CommandRequest r;
  const CLI::App* sub = app.get_subcommands().empty() ? nullptr : app.get_subcommands().front();
  if (!sub) return Status::InvalidArgument("no command");
  r.command = sub->get_name();
  if (!sub->get_subcommands().empty()) {
    r.command += " " + sub->get_subcommands().front()->get_name();
  }
  for (const CLI::Option* o : sub->get_options()) {
    if (o->count() == 0 || !o->nonpositional()) continue;
    r.options.push_back(!o->get_lnames().empty() ? o->get_lnames().front()
                                                 : o->get_snames().front());
    if (o->get_lnames() == std::vector<std::string>{"user"}) r.user = o->as<std::string>();
  }
  KEEPFS_RETURN_IF_ERROR(Authorize(caller, r));
  std::optional<std::string> user = r.user ? r.user : caller.DefaultUser();
  if (user) KEEPFS_RETURN_IF_ERROR(CheckOwnData(ctx.hosted->store, r, *user));
  return Status::OK();
}

// An option given an empty value (--user '', --since=) is almost always an
// unset shell variable: it was taken as not given at all, so that
// `snapshots --user ''` listed everyone and `gc --undelete-window ''` ran
// with the default. Refused as a usage error instead.
void RefuseEmptyValues(const CLI::App& app) {
  for (const CLI::Option* o : app.get_options()) {
    if (!o->nonpositional() || o->count() == 0 || o->get_expected_min() == 0) continue;
    for (const std::string& v : o->results()) {
      if (v.empty()) {
        throw CLI::ValidationError(o->get_name(),
                                   "an empty value; give one, or leave the option out");
      }
    }
  }
  for (const CLI::App* sub : app.get_subcommands()) RefuseEmptyValues(*sub);
}

// Whether args name option (as "--x V" or "--x=V") before any "--".
bool HasOption(const std::vector<std::string>& args, const std::string& option) {
  for (const auto& a : args) {
    if (a == "--") break;
    if (a == option || a.rfind(option + "=", 0) == 0) return true;
  }
  return false;
}

// Whether a client's command will go to a server's socket (OpenStore): then
// the server, which knows who the caller is, decides what --user defaults to.
bool BoundForServer(const std::vector<std::string>& args) {
  const char* socket = std::getenv("KEEPFS_SOCKET");
  const char* store = std::getenv("KEEPFS_STORE");
  if (HasOption(args, "--socket") || (socket && *socket)) return true;
  return !HasOption(args, "--store") && !(store && *store) && PathExists(kDefaultPublicSocket);
}

// argv with --store=store_dir added when it has no --store (or -- before one).
std::vector<std::string> WithStore(const std::vector<std::string>& args,
                                   const std::string& store_dir) {
  if (HasOption(args, "--store")) return args;
  std::vector<std::string> out = args;
  out.insert(out.begin() + (out.empty() ? 0 : 1), "--store=" + store_dir);
  return out;
}

int Parse(const std::vector<std::string>& args, Io& io, const Hosted* hosted) {
  Context ctx{io};
  ctx.hosted = hosted;
  if (!hosted) {
    ctx.forward = [&args, &io](const std::string& socket, const std::string& store_dir) {
      return Forward(socket, store_dir.empty() ? args : WithStore(args, store_dir), io);
    };
    ctx.user_left_to_server = BoundForServer(args);
  }
  CLI::App app{
      "keepfs: a versioned, deduplicated backup store.\n"
      "Every command works on one store directory, given by --store DIR or KEEPFS_STORE, or\n"
      "on the store of the keepfs server at --socket PATH or KEEPFS_SOCKET (as a user: only\n"
      "snapshots, ls, cat, diff, versions, deleted, usage, pins, pin, unpin, restore and\n"
      "admit, on your own data).\n"
      "Exit codes: 0 ok, 1 error, 2 usage, 3 partial (some files could not be read or written),\n"
      "4 permission denied, 130 cancelled.\n"
      "Full manual: docs/usage.md",
      "keepfs"};
  app.fallthrough();
  app.require_subcommand(1);
  app.set_version_flag("--version", kVersion);
  // Hosted, the server's environment is not the client's: no defaults from it.
  CLI::Option* store =
      app.add_option("--store", ctx.store_dir, "Store directory (default: $KEEPFS_STORE)");
  CLI::Option* socket = app.add_option(
      "--socket", ctx.socket,
      "Send the command to the keepfs server listening on this socket (default: $KEEPFS_SOCKET; "
      "without it and --store: " +
          std::string(kDefaultPublicSocket) + " if it exists)");
  if (!hosted) {
    store->envname("KEEPFS_STORE");
    socket->envname("KEEPFS_SOCKET");
  }
  app.add_flag("-q,--quiet", ctx.quiet, "No progress or summary on stderr");
  for (Registrar r : {RegisterInit, RegisterAttach, RegisterBackup, RegisterSnapshots, RegisterLs, RegisterCat,
                      RegisterDiff, RegisterRestore, RegisterCheck, RegisterRepair, RegisterStats, RegisterMount,
                      RegisterUser, RegisterUsage, RegisterPrune, RegisterPin, RegisterGc, RegisterSpoolIngest, RegisterServe, RegisterStatus, RegisterVersions,
                      RegisterDeleted,
                      RegisterStoreBackup, RegisterStoreRestore}) {
    r(app, ctx);
  }
  app.parse_complete_callback([&app, &ctx] {
    RefuseEmptyValues(app);
    if (!ctx.user_caller()) return;
    if (Status s = CheckUserRequest(app, ctx); !s.ok()) throw Refused{s};
  });
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const Refused& r) {
    return Fail(ctx, r.status);
  } catch (const CLI::CallForVersion&) {
    io.out << kVersion << "\n";
    return kExitOk;
  } catch (const CLI::Success& e) {  // --help at any level
    app.exit(e, io.out, io.err);
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    // "keepfs frobnicate" is not a missing command but an unknown one.
    std::vector<std::string> rest;
    if (app.get_subcommands().empty()) rest = app.remaining();
    if (!rest.empty() && !rest.front().empty() && rest.front()[0] != '-') {
      io.err << "keepfs: unknown command '" << Clip(rest.front())
             << "'\nRun 'keepfs --help' for the commands.\n";
      return kExitUsage;
    }
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
