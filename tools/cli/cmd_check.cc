// keepfs check and keepfs stats.
#include <CLI/CLI.hpp>
#include <cerrno>
#include <unistd.h>
#include <sys/stat.h>

#include <cstdlib>
#include <ostream>

#include "gc/stats.h"
#include "snapshot/check.h"
#include "tools/cli/common.h"
#include "tools/cli/progress.h"

namespace keepfs::cli {

namespace {
struct CheckArgs {
  bool verify_data = false;
  std::string subset;  // "N%" or "N"
  std::string since;
  bool resume = false;
  bool json = false;
};

std::string AffectsJson(const std::vector<snapshot::Affected>& affects) {
  std::string o = "[";
  for (size_t i = 0; i < affects.size(); ++i) {
    o += (i ? "," : "") + std::string("{\"user\":") + JsonString(affects[i].user) +
         ",\"snapshot\":" + JsonString(affects[i].snapshot) +
         ",\"path\":" + JsonString(affects[i].path) + "}";
  }
  return o + "]";
}

// For people: the problem, then what it affects (the first 20 paths).
std::string ProblemText(const snapshot::CheckedObject& o) {
  std::string t = o.state + ": " + o.kind + " " + o.id + ": " + o.message + "\n";
  if (o.affects.empty()) return t + "  affects no snapshot\n";
  for (size_t i = 0; i < o.affects.size() && i < 20; ++i) {
    const auto& a = o.affects[i];
    t += "  affects " + a.user + "/" + a.snapshot + (a.path.empty() ? "" : ":" + a.path) + "\n";
  }
  if (o.affects.size() > 20) t += "  ... and " + std::to_string(o.affects.size() - 20) + " more\n";
  return t;
}

// When stdout is a regular file (check --json > out; check --resume --json
// >> out), the cursor remembers the file's size after each line; a resume
// cuts off a line written after the last cursor before writing it again, so
// the file names every object exactly once across a kill. A pipe or a
// terminal gets at-least-once: a kill can repeat the line in flight.
void KeepOutputExactlyOnce(Context& ctx, snapshot::CheckOptions* o) {
  struct stat st;
  const int fd = ctx.io.out_fd;
  if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return;
  const std::string file = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":";
  o->sink_position = [&ctx, fd, file]() {
    ctx.io.out.flush();
    off_t at = ::lseek(fd, 0, SEEK_CUR);
    return at < 0 ? std::string() : file + std::to_string(at);
  };
  o->on_resume = [fd, file](const std::string& position) -> Status {
    if (position.compare(0, file.size(), file) != 0) return Status::OK();  // another file
    const off_t covered = static_cast<off_t>(std::strtoull(position.c_str() + file.size(), nullptr, 10));
    struct stat now;
    if (::fstat(fd, &now) == 0 && now.st_size > covered && ::ftruncate(fd, covered) != 0) {
      return Status::FromErrno(errno, "cutting the output back to the last line the check covered");
    }
    if (::lseek(fd, 0, SEEK_END) < 0) return Status::FromErrno(errno, "seeking the output");
    return Status::OK();
  };
}

int RunCheck(Context& ctx, const CheckArgs& a) {
  return Run(ctx, [&]() -> Status {
    snapshot::CheckOptions o;
    o.verify_data = a.verify_data || !a.subset.empty();
    if (!a.subset.empty()) {
      std::string n = a.subset.back() == '%' ? a.subset.substr(0, a.subset.size() - 1) : a.subset;
      char* end = nullptr;
      long v = std::strtol(n.c_str(), &end, 10);
      if (n.empty() || *end != '\0' || v < 1 || v > 100) {
        return Status::InvalidArgument("--verify-data-subset takes a percentage from 1 to 100, "
                                       "like 10%; got '" + a.subset + "'");
      }
      o.verify_percent = static_cast<int>(v);
    }
    if (!a.since.empty()) {
      auto d = ParseDuration(a.since);
      if (!d.ok()) return d.status().WithContext("--since");
      o.verified_within_sec = *d;
      o.verify_data = true;
    }
    o.resume = a.resume;
    if (ctx.hosted) o.cancel = ctx.hosted->cancel;
    if (a.json && !ctx.hosted) KeepOutputExactlyOnce(ctx, &o);
    // Read-write so that sealed packs left by an interrupted backup are
    // adopted first instead of being reported as unknown, and so that the
    // cursor can be kept for --resume.
    KEEPFS_ASSIGN_OR_RETURN(StoreHandle store, OpenStore(ctx, OpenMode::kReadWrite));
    const bool lines = a.json;
    PhaseLine progress(ctx.io.err, ctx.io.err_is_tty, !ctx.quiet, "check");
    o.progress = [&progress](const std::string& phase, uint64_t done) { progress.Set(phase, done); };
    KEEPFS_ASSIGN_OR_RETURN(
        snapshot::CheckSummary s,
        snapshot::CheckStore(store.get(), o, [&](const snapshot::CheckedObject& obj) {
          if (lines) {
            ctx.io.out << "{\"kind\":" << JsonString(obj.kind) << ",\"id\":" << JsonString(obj.id)
                       << ",\"state\":" << JsonString(obj.state);
            if (!obj.ok()) {
              ctx.io.out << ",\"message\":" << JsonString(obj.message)
                         << ",\"affects\":" << AffectsJson(obj.affects);
            }
            ctx.io.out << "}\n";
          } else if (!obj.ok()) {
            ctx.io.out << ProblemText(obj);
          }
        }));
    progress.Stop();
    if (a.json) {
      ctx.io.out << "{\"summary\":true,\"clean\":" << (s.problems ? "false" : "true")
                 << ",\"cancelled\":" << (s.cancelled ? "true" : "false")
                 << ",\"resumed\":" << (s.resumed ? "true" : "false")
                 << ",\"packs\":" << s.packs << ",\"chunks\":" << s.chunks
                 << ",\"contents\":" << s.contents << ",\"trees\":" << s.trees
                 << ",\"snapshots\":" << s.snapshots << ",\"pins\":" << s.pins
                 << ",\"packs_verified\":" << s.packs_verified
                 << ",\"bytes_verified\":" << s.bytes_verified << ",\"problems\":" << s.problems
                 << ",\"affected_paths\":" << s.affected_paths << "}\n";
    } else {
      ctx.io.out << (s.cancelled ? "stopped: " : s.problems ? "PROBLEMS FOUND: " : "ok: ")
                 << s.snapshots << " snapshots, " << s.trees << " trees, " << s.contents
                 << " contents, " << s.chunks << " chunks in " << s.packs << " packs";
      if (o.verify_data) {
        ctx.io.out << ", " << s.packs_verified << " packs (" << HumanBytes(s.bytes_verified)
                   << ") verified";
      }
      ctx.io.out << ", " << s.problems << " problems"
                 << (s.problems ? " affecting " + std::to_string(s.affected_paths) + " paths" : "")
                 << (s.resumed ? " (resumed)" : "") << "\n";
    }
    if (s.cancelled) return Status::Cancelled("check stopped; 'keepfs check --resume' continues it");
    if (s.problems) ctx.exit_code = kExitError;
    return Status::OK();
  });
}

int RunStats(Context& ctx, bool json) {
  return Run(ctx, [&]() -> Status {
    KEEPFS_ASSIGN_OR_RETURN(StoreHandle store, OpenStore(ctx, OpenMode::kReadOnly));
    snapshot::Repo repo(store.get());
    KEEPFS_ASSIGN_OR_RETURN(gc::StoreStats s, gc::ComputeStoreStats(repo));
    if (json) {
      ctx.io.out << "{\"users\":" << s.users << ",\"snapshots\":" << s.snapshots
                 << ",\"packs\":" << s.packs << ",\"pack_bytes\":" << s.pack_bytes
                 << ",\"chunks\":" << s.chunks << ",\"chunk_raw_bytes\":" << s.chunk_raw_bytes
                 << ",\"chunk_stored_bytes\":" << s.chunk_stored_bytes
                 << ",\"contents\":" << s.contents << ",\"trees\":" << s.trees
                 << ",\"logical_bytes\":" << s.logical_bytes << "}\n";
      return Status::OK();
    }
    ctx.io.out << "users:        " << s.users << "\nsnapshots:    " << s.snapshots
               << "\nlogical data: " << HumanBytes(s.logical_bytes) << " (all snapshots)"
               << "\nunique data:  " << HumanBytes(s.chunk_raw_bytes) << " in " << s.chunks
               << " chunks\nstored:       " << HumanBytes(s.pack_bytes) << " in " << s.packs
               << " packs\ncontents:     " << s.contents << "\ntrees:        " << s.trees << "\n";
    return Status::OK();
  });
}
}  // namespace

void RegisterCheck(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<CheckArgs>();
  CLI::App* c = app.add_subcommand(
      "check",
      "Check the store: every pack, chunk index entry, content, tree, snapshot and pin\n"
      "once, in bounded memory, and optionally the chunks' data. Prints each problem with\n"
      "every user, snapshot and path it affects. Can be interrupted and resumed. Exit 0\n"
      "when clean, 1 when problems were found (docs/integrity.md).");
  c->add_flag("--verify-data", a->verify_data, "Also re-read and re-hash every chunk");
  c->add_option("--verify-data-subset", a->subset,
                "Re-read and re-hash only N% of the pack bytes, the packs verified longest ago\n"
                "first (a rolling scrub: nightly runs of 10% cover the store every 10 nights)");
  c->add_option("--since", a->since,
                "Verify data, skipping packs verified less than DURATION ago (e.g. 30d)");
  c->add_flag("--resume", a->resume, "Continue the check that was interrupted (kill, Ctrl-C, reboot)");
  c->add_flag("--json", a->json,
              "One JSON line per object checked: kind, id, state (ok, missing, corrupt,\n"
              "dangling, unknown) and, for a problem, message and affects [{user, snapshot,\n"
              "path}]; then a summary line");
  c->callback([&ctx, a] { ctx.exit_code = RunCheck(ctx, *a); });
}

void RegisterStats(CLI::App& app, Context& ctx) {
  auto json = std::make_shared<bool>(false);
  CLI::App* c = app.add_subcommand("stats", "Show what the store holds and the space it takes");
  c->add_flag("--json", *json, "JSON object on stdout");
  c->callback([&ctx, json] { ctx.exit_code = RunStats(ctx, *json); });
}

}  // namespace keepfs::cli
