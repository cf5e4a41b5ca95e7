#include "tools/cli/common.h"

#include <cstdio>
#include <ostream>

namespace keepfs::cli {

std::string Context::Abs(const std::string& path) const {
  if (path.empty() || path[0] == '/' || !hosted) return path;
  return hosted->cwd + "/" + path;
}

Result<StoreHandle> OpenStore(Context& ctx, OpenMode mode, bool beside_writers) {
  if (ctx.hosted) {
    std::unique_lock<std::mutex> writer;
    if (mode == OpenMode::kReadWrite && !beside_writers) writer = std::unique_lock<std::mutex>(*ctx.hosted->writer_mu);
    return StoreHandle(ctx.hosted->store, std::move(writer));
  }
  if (ctx.store_dir.empty()) {
    return Status::InvalidArgument("no store given: pass --store DIR or set KEEPFS_STORE");
  }
  auto store = Store::Open(ctx.store_dir, mode);
  if (store.ok()) return StoreHandle(std::move(*store));
  if (store.status().code() == StatusCode::kBusy && ctx.forward) {
    // A mount process holds the store: it runs the command for us.
    if (std::optional<int> code = ctx.forward(ctx.store_dir)) {
      ctx.forwarded_exit = *code;
      return Status::Busy("forwarded to the mount process");
    }
  }
  return store.status();
}

int Fail(Context& ctx, const Status& status) {
  if (ctx.forwarded_exit) return *ctx.forwarded_exit;
  ctx.io.err << "keepfs: " << status.message() << "\n";
  if (status.code() == StatusCode::kCancelled) return kExitCancelled;
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
