// View: the user's .keepfs folder (usage, retention, pins as files) and
// pinning through the user.keepfs.pin extended attribute.
#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>

#include "fs/inode.h"
#include "fs/view.h"
#include "fs/view_impl.h"
#include "gc/pins.h"
#include "gc/report.h"
#include "snapshot/catalog.h"
#include "snapshot/pins.h"

namespace keepfs::fs {

namespace {
// Long enough that one `ls -l` and `cat` compute a report once, short
// enough that a prune or a pin shows on the next look.
constexpr int64_t kMetaRefreshMs = 1000;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

std::shared_ptr<View::Node> View::MetaDirNode(const Node& user_dir) {
  auto n = std::make_shared<Node>();
  n->kind = Node::kMetaDir;
  n->ino = MakeIno(InoNumber(user_dir.ino), kMetaDirLocal);
  n->user = user_dir.user;
  n->parent = user_dir.ino;
  return n;
}

std::shared_ptr<View::Node> View::MetaFileNode(const Node& meta_dir, size_t index) {
  auto n = std::make_shared<Node>();
  n->kind = Node::kMetaFile;
  n->ino = MakeIno(InoNumber(meta_dir.ino), kMetaFileLocal + index);
  n->user = meta_dir.user;
  n->parent = meta_dir.ino;
  n->meta_file = index;
  return n;
}

Result<std::string> View::MetaText(const std::string& user, size_t index) {
  const auto key = std::make_pair(user, index);
  {
    std::lock_guard<std::mutex> lock(meta_mu_);
    auto it = meta_cache_.find(key);
    if (it != meta_cache_.end() && NowMs() - it->second.at_ms < kMetaRefreshMs) {
      return it->second.text;
    }
  }
  std::string text;
  const std::string file = kMetaFiles[index];
  if (index == kDeletedIndexFile) {
    KEEPFS_ASSIGN_OR_RETURN(text, DeletedIndexText(user));
  } else if (file == "usage.json") {
    KEEPFS_ASSIGN_OR_RETURN(gc::UserUsage u, gc::ComputeUsage(store_, user));
    text = gc::UsageJson(u) + "\n";
  } else if (file == "retention.txt") {
    RetentionPolicy policy;
    {
      std::lock_guard<std::mutex> lock(config_mu_);
      policy = config_.RetentionFor(user);
    }
    int64_t now = static_cast<int64_t>(std::time(nullptr));
    KEEPFS_ASSIGN_OR_RETURN(gc::UserPrune plan,
                            gc::PruneUser(store_, user, policy, now, /*dry_run=*/true));
    text = "# What the next 'keepfs prune' does with each snapshot, and why (as of " +
           snapshot::FormatUtcTime(now) + " UTC).\n# Pinned files stay: a pruned snapshot " +
           "that holds pins becomes a husk with only them.\n" +
           gc::PruneText(plan, /*dry_run=*/true);
  } else {
    KEEPFS_ASSIGN_OR_RETURN(std::vector<snapshot::Pin> pins, snapshot::ListPins(store_, user));
    KEEPFS_ASSIGN_OR_RETURN(text, gc::PinsReport(store_, pins, /*json=*/false));
    if (pins.empty()) {
      text = "No pins. Pin a file or folder of a snapshot with\n"
             "  setfattr -n user.keepfs.pin -v 1 FILE\n"
             "and remove the pin with setfattr -x user.keepfs.pin FILE.\n";
    }
  }
  std::lock_guard<std::mutex> lock(meta_mu_);
  meta_cache_[key] = {NowMs(), text};
  return text;
}

bool View::MayPin(const Caller& c, const std::string& user) {
  if (c.uid == 0) return true;
  Owner o = OwnerOf(user);
  return o.uid != 0 && c.uid == o.uid;
}

Result<std::shared_ptr<const View::Node>> View::PinTarget(const Caller& c, uint64_t ino) {
  auto n = FindNode(ino);
  if (!n) return Status(StatusCode::kNotFound, "inode is not known", ESTALE);
  KEEPFS_RETURN_IF_ERROR(CheckAccess(c, *n));
  if (n->kind != Node::kEntry && n->kind != Node::kSnapRoot) {
    return Status(StatusCode::kNotSupported, "only files and folders of snapshots can be pinned",
                  ENOTSUP);
  }
  if (!MayPin(c, n->user)) {
    return Status(StatusCode::kPermissionDenied, "only the owner or root may pin", EACCES);
  }
  if (!store_->writable()) return Status(StatusCode::kPermissionDenied, "read-only", EROFS);
  return n;
}

Result<std::string> View::PinXattrValue(const Node& n) {
  const std::string rel = SnapPath(n);
  KEEPFS_ASSIGN_OR_RETURN(std::optional<snapshot::Pin> pin,
                          snapshot::FindCoveringPin(store_, n.user, n.snap->name, rel));
  if (!pin) return Status(StatusCode::kNotFound, "not pinned", ENODATA);
  if (pin->path == rel) return std::string("1");
  return "via /" + pin->path;
}

Status View::SetXattr(const Caller& c, uint64_t ino, std::string_view name,
                      std::string_view value) {
  if (name != kPinXattr) return Status(StatusCode::kPermissionDenied, "read-only", EROFS);
  if (value == "0") return RemoveXattr(c, ino, name);
  if (value != "1") {
    return Status(StatusCode::kInvalidArgument, "user.keepfs.pin takes 1 (or 0 to unpin)",
                  EINVAL);
  }
  KEEPFS_ASSIGN_OR_RETURN(std::shared_ptr<const Node> n, PinTarget(c, ino));
  auto pin = gc::PinPath(store_, n->user, n->snap->name, SnapPath(*n), c.uid,
                         static_cast<int64_t>(std::time(nullptr)));
  if (!pin.ok()) {
    spdlog::error("{}: pin: {}", PathOf(*n), pin.status().message());
    return pin.status();
  }
  spdlog::info("{}: pinned by uid {}", PathOf(*n), c.uid);
  std::lock_guard<std::mutex> lock(meta_mu_);
  meta_cache_.clear();
  return Status::OK();
}

Status View::RemoveXattr(const Caller& c, uint64_t ino, std::string_view name) {
  if (name != kPinXattr) return Status(StatusCode::kPermissionDenied, "read-only", EROFS);
  KEEPFS_ASSIGN_OR_RETURN(std::shared_ptr<const Node> n, PinTarget(c, ino));
  Status s = gc::UnpinPath(store_, n->user, n->snap->name, SnapPath(*n));
  if (s.code() == StatusCode::kNotFound) return Status(StatusCode::kNotFound, "not pinned", ENODATA);
  if (!s.ok()) {
    spdlog::error("{}: unpin: {}", PathOf(*n), s.message());
    return s;
  }
  spdlog::info("{}: unpinned by uid {}", PathOf(*n), c.uid);
  std::lock_guard<std::mutex> lock(meta_mu_);
  meta_cache_.clear();
  return Status::OK();
}

}  // namespace keepfs::fs
