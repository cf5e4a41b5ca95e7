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
// ever changes, so a day. The entries of a user's folder ('latest', the
// snapshots) get [mount] path_cache_seconds, 0 by default: every path walk
// into a snapshot then passes the access check in Lookup (docs/mount.md).
inline constexpr double kImmutableTimeout = 86400;
inline constexpr double kUserListTimeout = 1;

// S_IFMT type bits | permission bits of a stored entry.
uint32_t ModeBits(const snapshot::Entry& e);

struct View::SnapInfo {
  std::string user;
  std::string name;
  std::string raw;  // the record's bytes: a cached SnapInfo is reused while they match
  snapshot::SnapshotRecord record;
};

// The files of /USER/.keepfs/, in listing order (their inode locals follow
// kMetaFileLocal, fs/inode.h).
inline constexpr const char* kMetaFiles[] = {"usage.json", "retention.txt", "pins.txt"};
inline constexpr size_t kMetaFileCount = 3;

struct View::Node {
  enum Kind { kRoot, kUserDir, kLatest, kSnapRoot, kEntry, kMetaDir, kMetaFile };
  Kind kind = kRoot;
  uint64_t ino = 0;
  std::string user;                      // the namespace; empty for the root
  std::shared_ptr<const SnapInfo> snap;  // kSnapRoot, kEntry
  snapshot::Entry entry;   // kEntry; kSnapRoot: the source root as a dir entry
  uint64_t ordinal = 0;    // kSnapRoot, kEntry: children start at ordinal + 1
  uint64_t nlink = 1;
  uint64_t parent = 0;     // the ino it was first found under
  // kEntry: the folder node it was first found in, so that its path inside
  // the snapshot is known for as long as the node lives (logs, pins).
  std::shared_ptr<const Node> up;
  int64_t user_created = 0;  // kUserDir
  size_t meta_file = 0;      // kMetaFile: index into kMetaFiles
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
  uint32_t pid = 0;                 // who opened it (ListingHints)
};

struct View::FileHandle {
  std::shared_ptr<const Node> node;
  bool generated = false;        // a .keepfs file: read it with direct I/O
  snapshot::Content content;
  std::vector<uint64_t> starts;  // file offset of each part
  std::string path;              // user/snapshot/path, for logs
  // The chunks of an open file stay readable until it is closed, even if
  // its snapshot is pruned and collected meanwhile (docs/gc.md, "Readers").
  std::unique_ptr<ObjectGuard::Hold> hold;
  std::mutex mu;
  uint64_t next_offset = 0;      // GUARDED_BY(mu): where a sequential reader continues
};

}  // namespace keepfs::fs
