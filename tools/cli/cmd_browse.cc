// Read-only browsing: snapshots, ls, cat, diff.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <map>
#include <ostream>

#include "gc/prune.h"
#include "snapshot/catalog.h"
#include "snapshot/diff.h"
#include "snapshot/pins.h"
#include "snapshot/quarantine.h"
#include "snapshot/repo.h"
#include "tools/cli/common.h"

namespace keepfs::cli {

namespace {
using snapshot::Entry;
using snapshot::EntryType;
using snapshot::Repo;
using snapshot::SnapshotRecord;

char TypeChar(EntryType t) {
  switch (t) {
    case EntryType::kDir: return 'd';
    case EntryType::kSymlink: return 'l';
    case EntryType::kFifo: return 'p';
    case EntryType::kCharDev: return 'c';
    case EntryType::kBlockDev: return 'b';
    case EntryType::kSocket: return 's';
    default: return '-';
  }
}

struct BrowseArgs {
  std::string user, snap, path, snap_b;
  bool json = false;
  bool recursive = false;
  bool deleted = false;
};

// pins: how many paths are pinned in it. A husk is marked in the last column.
void PrintSnapshot(std::ostream& out, const SnapshotRecord& r, uint64_t pins, uint64_t damaged,
                   bool json, bool first) {
  if (json) {
    out << (first ? "" : ",\n") << "{\"user\":" << JsonString(r.user)
        << ",\"name\":" << JsonString(r.name)
        << ",\"time\":" << JsonString(snapshot::FormatUtcTime(r.time_sec))
        << ",\"root\":" << JsonString(r.root.ToHex()) << ",\"source\":" << JsonString(r.source)
        << ",\"hostname\":" << JsonString(r.hostname) << ",\"files\":" << r.stats.files
        << ",\"dirs\":" << r.stats.dirs << ",\"bytes_logical\":" << r.stats.bytes_logical
        << ",\"bytes_new\":" << r.stats.bytes_new << ",\"bytes_stored\":" << r.stats.bytes_stored
        << ",\"errors\":" << r.errors.size() << ",\"pins\":" << pins
        << ",\"husk\":" << (r.is_husk() ? "true" : "false") << ",\"damaged\":" << damaged << "}";
    return;
  }
  char line[512];
  std::snprintf(line, sizeof line, "%-12s %-22s %9llu %10s %10s %6zu  %s", r.user.c_str(),
                r.name.c_str(), static_cast<unsigned long long>(r.stats.files),
                HumanBytes(r.stats.bytes_logical).c_str(), HumanBytes(r.stats.bytes_stored).c_str(),
                r.errors.size(), r.source.c_str());
  out << line;
  if (r.is_husk()) {
    out << "  [husk since " << snapshot::FormatUtcTime(*r.husk_unix) << ": " << pins << " pinned]";
  } else if (pins > 0) {
    out << "  [" << pins << " pinned]";
  }
  if (damaged > 0) out << "  [DAMAGED: " << damaged << (damaged == 1 ? " path]" : " paths]");
  out << "\n";
}

// Forgotten snapshots that can still be undeleted.
Status PrintDeleted(Context& ctx, Store* store, const BrowseArgs& a) {
  if (!a.user.empty()) {
    KEEPFS_RETURN_IF_ERROR(snapshot::ValidateUserName(a.user));
  }
  KEEPFS_ASSIGN_OR_RETURN(std::vector<snapshot::DeletedSnapshot> gone,
                          gc::ListDeleted(store, a.user));
  std::erase_if(gone,
                [&](const snapshot::DeletedSnapshot& d) { return !ctx.MaySee(d.record.user); });
  if (a.json) {
    ctx.io.out << "[";
    for (size_t i = 0; i < gone.size(); ++i) {
      const auto& d = gone[i];
      ctx.io.out << (i ? ",\n" : "") << "{\"user\":" << JsonString(d.record.user)
                 << ",\"name\":" << JsonString(d.record.name)
                 << ",\"deleted\":" << JsonString(snapshot::FormatUtcTime(d.deleted_unix))
                 << ",\"husk_left\":" << (d.husk_left ? "true" : "false")
                 << ",\"files\":" << d.record.stats.files
                 << ",\"bytes_logical\":" << d.record.stats.bytes_logical
                 << ",\"source\":" << JsonString(d.record.source) << "}";
    }
    ctx.io.out << "]\n";
    return Status::OK();
  }
  char line[512];
  std::snprintf(line, sizeof line, "%-12s %-22s %-19s %9s %10s  %s\n", "USER", "SNAPSHOT",
                "DELETED (UTC)", "FILES", "SIZE", "LEFT");
  ctx.io.out << line;
  for (const auto& d : gone) {
    std::snprintf(line, sizeof line, "%-12s %-22s %-19s %9llu %10s  %s\n", d.record.user.c_str(),
                  d.record.name.c_str(), snapshot::FormatUtcTime(d.deleted_unix).c_str(),
                  static_cast<unsigned long long>(d.record.stats.files),
                  HumanBytes(d.record.stats.bytes_logical).c_str(),
                  d.husk_left ? "husk" : "nothing");
    ctx.io.out << line;
  }
  if (gone.empty() && !ctx.quiet) {
    ctx.io.err << "nothing to undelete" << (a.user.empty() ? "" : " for " + a.user) << "\n";
  }
  return Status::OK();
}

int RunSnapshots(Context& ctx, const BrowseArgs& a) {
  return Run(ctx, [&]() -> Status {
    KEEPFS_ASSIGN_OR_RETURN(StoreHandle store, OpenStore(ctx, OpenMode::kReadOnly));
    if (a.deleted) return PrintDeleted(ctx, store.get(), a);
    Repo repo(store.get());
    std::vector<SnapshotRecord> snaps;
    if (!a.user.empty() && ctx.user_caller()) {
      // Known (tools/cli/caller.h checked); the store's error for a user
      // without snapshots would name the others.
      KEEPFS_ASSIGN_OR_RETURN(snaps, repo.ListSnapshots(a.user));
    } else if (!a.user.empty()) {
      KEEPFS_ASSIGN_OR_RETURN(snaps, repo.ListUserSnapshots(a.user));
    } else {
      KEEPFS_ASSIGN_OR_RETURN(std::vector<std::string> users, repo.ListUsers());
      for (const auto& u : users) {
        if (!ctx.MaySee(u)) continue;  // a user through a server's socket sees only theirs
        KEEPFS_ASSIGN_OR_RETURN(std::vector<SnapshotRecord> of_user, repo.ListSnapshots(u));
        snaps.insert(snaps.end(), of_user.begin(), of_user.end());
      }
    }
    if (a.json) {
      ctx.io.out << "[";
    } else {
      char head[256];
      std::snprintf(head, sizeof head, "%-12s %-22s %9s %10s %10s %6s  %s\n", "USER", "SNAPSHOT",
                    "FILES", "SIZE", "ADDED", "ERRORS", "SOURCE");
      ctx.io.out << head;
    }
    KEEPFS_ASSIGN_OR_RETURN(std::vector<snapshot::Pin> pins,
                            snapshot::ListPins(store.get(), a.user));
    std::map<std::pair<std::string, std::string>, uint64_t> pinned;
    for (const auto& p : pins) ++pinned[{p.user, p.snapshot}];
    // What repair could not mend (snapshot/quarantine.h).
    KEEPFS_ASSIGN_OR_RETURN(auto damaged, snapshot::ListQuarantine(store.get(), a.user));
    for (size_t i = 0; i < snaps.size(); ++i) {
      auto it = pinned.find({snaps[i].user, snaps[i].name});
      auto d = damaged.find({snaps[i].user, snaps[i].name});
      PrintSnapshot(ctx.io.out, snaps[i], it == pinned.end() ? 0 : it->second,
                    d == damaged.end() ? 0 : d->second.paths.size(), a.json, i == 0);
    }
    if (a.json) ctx.io.out << "]\n";
    return Status::OK();
  });
}

void PrintEntry(std::ostream& out, const Entry& e, const std::string& path, bool json,
                bool first) {
  if (json) {
    out << (first ? "" : ",\n") << "{\"path\":" << JsonString(path)
        << ",\"type\":" << JsonString(snapshot::EntryTypeName(e.type)) << ",\"mode\":" << e.mode
        << ",\"uid\":" << e.uid << ",\"gid\":" << e.gid << ",\"size\":" << e.size
        << ",\"mtime\":" << JsonString(snapshot::FormatUtcTime(e.mtime_sec));
    if (e.type == EntryType::kSymlink) out << ",\"target\":" << JsonString(e.target);
    out << "}";
    return;
  }
  char line[256];
  std::snprintf(line, sizeof line, "%s %6u %6u %12llu %s ",
                ModeString(TypeChar(e.type), e.mode).c_str(), e.uid, e.gid,
                static_cast<unsigned long long>(e.size),
                snapshot::FormatUtcTime(e.mtime_sec).c_str());
  out << line << path;
  if (e.type == EntryType::kSymlink) out << " -> " << e.target;
  out << "\n";
}

Status ListDir(Context& ctx, const Repo& repo, const ObjectId& tree, const std::string& prefix,
               bool recursive, bool json, bool* first) {
  return snapshot::ForEachEntry(tree, repo.node_source(), [&](const Entry& e) -> Result<bool> {
    std::string path = prefix + e.name;
    PrintEntry(ctx.io.out, e, path, json, *first);
    *first = false;
    if (recursive && e.type == EntryType::kDir) {
      KEEPFS_RETURN_IF_ERROR(ListDir(ctx, repo, e.ref, path + "/", recursive, json, first));
    }
    return true;
  });
}

int RunLs(Context& ctx, const BrowseArgs& a) {
  return Run(ctx, [&]() -> Status {
    KEEPFS_ASSIGN_OR_RETURN(StoreHandle store, OpenStore(ctx, OpenMode::kReadOnly));
    Repo repo(store.get());
    KEEPFS_ASSIGN_OR_RETURN(SnapshotRecord snap, repo.FindSnapshot(a.user, a.snap));
    KEEPFS_ASSIGN_OR_RETURN(Entry e, repo.ResolvePath(snap, a.path));
    bool first = true;
    if (a.json) ctx.io.out << "[";
    if (e.type == EntryType::kDir) {
      std::string prefix = a.path;
      while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
      while (!prefix.empty() && prefix.front() == '/') prefix.erase(0, 1);
      if (!prefix.empty()) prefix += "/";
      KEEPFS_RETURN_IF_ERROR(ListDir(ctx, repo, e.ref, prefix, a.recursive, a.json, &first));
    } else {
      PrintEntry(ctx.io.out, e, a.path, a.json, true);
    }
    if (a.json) ctx.io.out << "]\n";
    return Status::OK();
  });
}

int RunCat(Context& ctx, const BrowseArgs& a) {
  return Run(ctx, [&]() -> Status {
    KEEPFS_ASSIGN_OR_RETURN(StoreHandle store, OpenStore(ctx, OpenMode::kReadOnly));
    Repo repo(store.get());
    KEEPFS_ASSIGN_OR_RETURN(SnapshotRecord snap, repo.FindSnapshot(a.user, a.snap));
    KEEPFS_ASSIGN_OR_RETURN(Entry e, repo.ResolvePath(snap, a.path));
    if (e.type != EntryType::kFile) {
      return Status::InvalidArgument("'" + a.path + "' is a " + snapshot::EntryTypeName(e.type) +
                                     ", not a file; use 'keepfs ls' or 'keepfs restore'");
    }
    std::unique_ptr<ObjectGuard::Hold> hold;  // gc beside us leaves its chunks alone
    KEEPFS_ASSIGN_OR_RETURN(snapshot::Content content, repo.GetContentHeld(e.ref, &hold));
    KEEPFS_RETURN_IF_ERROR(repo.ReadBytes(content, [&](std::string_view bytes) {
      ctx.io.out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      return ctx.io.out.good() ? Status::OK() : Status(StatusCode::kIoError, "writing stdout");
    }));
    ctx.io.out.flush();
    return ctx.io.out.good() ? Status::OK() : Status(StatusCode::kIoError, "writing stdout");
  });
}

int RunDiff(Context& ctx, const BrowseArgs& a) {
  return Run(ctx, [&]() -> Status {
    KEEPFS_ASSIGN_OR_RETURN(StoreHandle store, OpenStore(ctx, OpenMode::kReadOnly));
    Repo repo(store.get());
    KEEPFS_ASSIGN_OR_RETURN(SnapshotRecord sa, repo.FindSnapshot(a.user, a.snap));
    KEEPFS_ASSIGN_OR_RETURN(SnapshotRecord sb, repo.FindSnapshot(a.user, a.snap_b));
    bool first = true;
    if (a.json) ctx.io.out << "[";
    KEEPFS_RETURN_IF_ERROR(
        snapshot::DiffTrees(repo, sa.root, sb.root, [&](const snapshot::DiffItem& d) -> Status {
          if (a.json) {
            ctx.io.out << (first ? "" : ",\n") << "{\"change\":\"" << static_cast<char>(d.kind)
                       << "\",\"path\":" << JsonString(d.path)
                       << ",\"type\":" << JsonString(snapshot::EntryTypeName(d.type))
                       << ",\"what\":" << JsonString(d.what) << "}";
          } else {
            ctx.io.out << static_cast<char>(d.kind) << " " << d.path;
            if (!d.what.empty()) ctx.io.out << "  (" << d.what << ")";
            ctx.io.out << "\n";
          }
          first = false;
          return Status::OK();
        }));
    if (a.json) ctx.io.out << "]\n";
    return Status::OK();
  });
}
}  // namespace

void RegisterSnapshots(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<BrowseArgs>();
  CLI::App* c = app.add_subcommand(
      "snapshots",
      "List snapshots, oldest first, of all users or one. A snapshot holding pins says how\n"
      "many; a husk (a pruned snapshot of which only its pinned paths are left) is marked;\n"
      "so is a snapshot holding files that keepfs repair could not mend (DAMAGED)");
  AddUserOption(c, ctx, &a->user, "Only this user's snapshots", /*required=*/false);
  c->add_flag("--deleted", a->deleted,
              "List forgotten snapshots that 'keepfs undelete' can still bring back");
  c->add_flag("--json", a->json,
              "JSON array on stdout (with --deleted: user, name, deleted, husk_left, files, "
              "bytes_logical, source)");
  c->callback([&ctx, a] { ctx.exit_code = RunSnapshots(ctx, *a); });
}

void RegisterLs(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<BrowseArgs>();
  CLI::App* c = app.add_subcommand(
      "ls", "List a folder of a snapshot: mode, uid, gid, size, mtime (UTC), path");
  AddUserOption(c, ctx, &a->user, "Whose snapshot", /*required=*/true);
  c->add_option("SNAPSHOT", a->snap, "Snapshot name (YYYY-MM-DD_HHMMSS) or 'latest'")->required();
  c->add_option("PATH", a->path, "Folder or file inside the snapshot (default: its root)");
  c->add_flag("-R,--recursive", a->recursive, "List sub-folders too");
  c->add_flag("--json", a->json, "JSON array on stdout");
  c->callback([&ctx, a] { ctx.exit_code = RunLs(ctx, *a); });
}

void RegisterCat(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<BrowseArgs>();
  CLI::App* c = app.add_subcommand("cat", "Write one file of a snapshot to stdout");
  AddUserOption(c, ctx, &a->user, "Whose snapshot", /*required=*/true);
  c->add_option("SNAPSHOT", a->snap, "Snapshot name or 'latest'")->required();
  c->add_option("PATH", a->path, "File inside the snapshot")->required();
  c->callback([&ctx, a] { ctx.exit_code = RunCat(ctx, *a); });
}

void RegisterDiff(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<BrowseArgs>();
  CLI::App* c = app.add_subcommand(
      "diff", "Paths added (+), removed (-) and changed (M) from snapshot A to snapshot B");
  AddUserOption(c, ctx, &a->user, "Whose snapshots", /*required=*/true);
  c->add_option("A", a->snap, "Older snapshot name or 'latest'")->required();
  c->add_option("B", a->snap_b, "Newer snapshot name or 'latest'")->required();
  c->add_flag("--json", a->json, "JSON array on stdout");
  c->callback([&ctx, a] { ctx.exit_code = RunDiff(ctx, *a); });
}

}  // namespace keepfs::cli
