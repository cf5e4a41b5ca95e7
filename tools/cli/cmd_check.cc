// keepfs check, keepfs repair and keepfs stats.
#include <CLI/CLI.hpp>
#include <cerrno>
#include <unistd.h>
#include <sys/stat.h>

#include <cstdlib>
#include <ostream>

#include "gc/repair.h"
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
    if (ctx.hosted) {
      o.cancel = ctx.hosted->cancel;
      o.throttle = ctx.hosted->io_throttle;
    }
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

struct RepairArgs {
  std::vector<std::string> mirrors, sources;
  bool dry_run = false;
  bool no_verify_data = false;
  bool json = false;
};

int RunRepair(Context& ctx, const RepairArgs& a) {
  return Run(ctx, [&]() -> Status {
    gc::RepairOptions o;
    for (const auto& m : a.mirrors) o.mirrors.push_back(ctx.Abs(m));
    for (const auto& s : a.sources) o.source_dirs.push_back(ctx.Abs(s));
    o.dry_run = a.dry_run;
    o.verify_data = !a.no_verify_data;
    if (ctx.hosted) o.cancel = ctx.hosted->cancel;
    // Beside the mount's other commands: repair keeps the collector off
    // itself and moves only what it has proved damaged.
    KEEPFS_ASSIGN_OR_RETURN(StoreHandle store,
                            OpenStore(ctx, OpenMode::kReadWrite, /*beside_writers=*/true));
    PhaseLine progress(ctx.io.err, ctx.io.err_is_tty, !ctx.quiet, "repair");
    o.progress = [&progress](const std::string& step, uint64_t done, uint64_t) {
      progress.Set(step, done);
    };
    KEEPFS_ASSIGN_OR_RETURN(
        gc::RepairSummary s,
        gc::RepairStore(store.get(), o, [&](const gc::RepairedObject& r) {
          const auto& f = r.found;
          if (a.json) {
            ctx.io.out << "{\"kind\":" << JsonString(f.kind) << ",\"id\":" << JsonString(f.id)
                       << ",\"state\":" << JsonString(f.state)
                       << ",\"message\":" << JsonString(f.message)
                       << ",\"outcome\":" << JsonString(r.outcome)
                       << ",\"source\":" << JsonString(r.source)
                       << ",\"affects\":" << AffectsJson(r.outcome == "unrepaired" ? f.affects
                                                                                   : std::vector<snapshot::Affected>{})
                       << "}\n";
          } else if (r.outcome == "unrepaired") {
            ctx.io.out << "UNREPAIRED " << ProblemText(f);
          } else {
            ctx.io.out << r.outcome << ": " << f.kind << " " << f.id << " (" << f.state << ")"
                       << (r.source.empty() ? "" : " from " + r.source) << "\n";
          }
        }));
    progress.Stop();
    if (a.json) {
      ctx.io.out << "{\"summary\":true,\"clean\":" << (s.clean() ? "true" : "false")
                 << ",\"dry_run\":" << (s.dry_run ? "true" : "false")
                 << ",\"cancelled\":" << (s.cancelled ? "true" : "false")
                 << ",\"problems\":" << s.problems << ",\"repaired\":" << s.repaired
                 << ",\"unrepaired\":" << s.unrepaired
                 << ",\"records_fetched\":" << s.records_fetched
                 << ",\"chunks_fetched\":" << s.chunks_fetched
                 << ",\"chunks_moved\":" << s.chunks_moved
                 << ",\"packs_written\":" << s.packs_written
                 << ",\"packs_retired\":" << s.packs_retired
                 << ",\"quarantined_snapshots\":" << s.quarantined_snapshots
                 << ",\"quarantined_paths\":" << s.quarantined_paths << "}\n";
    } else if (s.problems == 0) {
      ctx.io.out << "ok: nothing to repair\n";
    } else {
      ctx.io.out << (s.dry_run ? "dry run: " : "") << s.problems << " problems, " << s.repaired
                 << (s.dry_run ? " can be repaired" : " repaired") << ", " << s.unrepaired
                 << " not repairable";
      if (!s.dry_run) {
        ctx.io.out << " (" << s.chunks_fetched << " chunks and " << s.records_fetched
                   << " records fetched, " << s.chunks_moved << " intact chunks moved, "
                   << s.packs_retired << " damaged packs retired)";
      }
      ctx.io.out << "\n";
      if (s.quarantined_snapshots) {
        ctx.io.out << s.quarantined_paths << " paths in " << s.quarantined_snapshots
                   << " snapshots are quarantined: they read as errors (EIO), never as zeros; "
                      "'keepfs snapshots' marks them damaged. Give repair another copy "
                      "(--from, --from-source) to mend them.\n";
      }
    }
    if (s.cancelled) return Status::Cancelled("repair stopped; run it again to finish");
    if (!s.clean()) ctx.exit_code = kExitError;
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
      "once, in bounded memory, and optionally the chunks' data; that nothing a user\n"
      "reaches is missing from their counted holdings. Prints each problem with\n"
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
              "dangling, unknown, uncounted) and, for a problem, message and affects\n"
              "[{user, snapshot, path}]; then a summary line");
  c->callback([&ctx, a] { ctx.exit_code = RunCheck(ctx, *a); });
}

void RegisterRepair(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<RepairArgs>();
  CLI::App* c = app.add_subcommand(
      "repair",
      "Find every damaged or missing chunk, tree and content record (a check that re-reads\n"
      "all data), fetch good copies by hash from other copies of the store and from source\n"
      "folders, rewrite them into fresh packs and retire the damaged packs. What cannot be\n"
      "mended is quarantined: its files keep failing with EIO and 'keepfs snapshots' marks\n"
      "their snapshots damaged. Safe to interrupt and to run again. Exit 0 when the store\n"
      "is clean afterwards, 1 when something is left (docs/integrity.md).");
  c->add_option("--from", a->mirrors,
                "Another copy to fetch from: a keepfs store or a 'keepfs store-backup' copy\n"
                "(repeatable; tried in the order given)");
  c->add_option("--from-source", a->sources,
                "A folder whose files may hold the lost data (a spool, home folders): every\n"
                "file is cut into chunks as a backup would and matching chunks are kept\n"
                "(repeatable)");
  c->add_flag("--dry-run", a->dry_run, "Say what would be repaired; change nothing");
  c->add_flag("--no-verify-data", a->no_verify_data,
              "Find only structural damage (missing packs, chunks and records) instead of\n"
              "re-reading every pack");
  c->add_flag("--json", a->json,
              "One JSON line per problem: kind, id, state, message, outcome (repaired,\n"
              "unrepaired, would repair), source, affects [{user, snapshot, path}]; then a\n"
              "summary line");
  c->callback([&ctx, a] { ctx.exit_code = RunRepair(ctx, *a); });
}

void RegisterStats(CLI::App& app, Context& ctx) {
  auto json = std::make_shared<bool>(false);
  CLI::App* c = app.add_subcommand("stats", "Show what the store holds and the space it takes");
  c->add_flag("--json", *json, "JSON object on stdout");
  c->callback([&ctx, json] { ctx.exit_code = RunStats(ctx, *json); });
}

}  // namespace keepfs::cli
