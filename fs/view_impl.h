// Internal to fs/view*.cc: the node table's values and the open handles.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "fs/tree_cache.h"
#include "fs/view.h"
#include "snapshot/content.h"
#include "snapshot/snapshot_record.h"

namespace keepfs::fs {

// How long the kernel may cache what it learns. Inside a snapshot nothing
// ever changes, so a day. The user's folder (new snapshots, 'latest') is
// asked again every time: its entries' timeouts are 0, which also makes every
// path walk into a snapshot pass the access check in Lookup (docs/mount.md).
inline constexpr double kImmutableTimeout = 86400;
inline constexpr double kUserListTimeout = 1;

struct View::SnapInfo {
  std::string user;
  std::string name;
  std::string raw;  // the record's bytes: a cached SnapInfo is reused while they match
  snapshot::SnapshotRecord record;
};

struct View::Node {
  enum Kind { kRoot, kUserDir, kLatest, kSnapRoot, kEntry };
  Kind kind = kRoot;
  uint64_t ino = 0;
  std::string user;                      // the namespace; empty for the root
  std::shared_ptr<const SnapInfo> snap;  // kSnapRoot, kEntry
  snapshot::Entry entry;   // kEntry; kSnapRoot: the source root as a dir entry
  uint64_t ordinal = 0;    // kSnapRoot, kEntry: children start at ordinal + 1
  uint64_t nlink = 1;
  uint64_t parent = 0;     // the ino it was first found under (for log paths)
  int64_t user_created = 0;  // kUserDir
};

struct View::DirHandle {
  std::mutex mu;
  std::shared_ptr<const Node> node;
  // kRoot and kUserDir: the listing, taken at opendir.
  struct Virtual {
    std::string name;
    std::shared_ptr<Node> node;
  };
  std::vector<Virtual> virtual_entries;
  std::optional<DirCursor> cursor;  // snapshot directories
};

struct View::FileHandle {
  std::shared_ptr<const Node> node;
  snapshot::Content content;
  std::vector<uint64_t> starts;  // file offset of each part
  std::string path;              // user/snapshot/path, for logs
  std::mutex mu;
  uint64_t next_offset = 0;      // GUARDED_BY(mu): where a sequential reader continues
};

}  // namespace keepfs::fs
