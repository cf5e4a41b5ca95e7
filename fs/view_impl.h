// Internal to fs/view*.cc: the node table's values and the open handles.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "fs/tree_cache.h"
#include "fs/view.h"
#include "snapshot/content.h"
#include "snapshot/deleted.h"
#include "snapshot/history.h"
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

// The generated files of a user's folder, their inode locals following
// kMetaFileLocal (fs/inode.h): the first kMetaFileCount are /USER/.keepfs/'s,
// in listing order; the last is /USER/.deleted/INDEX.txt.
inline constexpr const char* kMetaFiles[] = {"usage.json", "retention.txt", "pins.txt",
                                             "INDEX.txt"};
inline constexpr size_t kMetaFileCount = 3;
inline constexpr size_t kDeletedIndexFile = 3;

struct View::Node {
  // kVersionsDir: /USER/.versions/REL, REL a folder: its children, each a
  //   kVersionsDir or kHistoryDir (REL "" is .versions itself);
  // kHistoryDir: /USER/.versions/REL, REL a file: one entry per version, each
  //   the kEntry of the first snapshot holding it;
  // kDeletedDir: /USER/.deleted/REL: the deleted entries at and below REL
  //   (REL "" is .deleted itself). All three are resolved when used, from
  //   the snapshots as they are then, never from state kept in the node.
  enum Kind {
    kRoot, kUserDir, kLatest, kSnapRoot, kEntry, kMetaDir, kMetaFile,
    kVersionsDir, kHistoryDir, kDeletedDir
  };
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
  std::string rel;           // kVersionsDir, kHistoryDir, kDeletedDir: REL
  // kDeletedDir: shows entry's attributes and xattrs, the folder as a
  // snapshot holds it (so that cp -a out of .deleted/ restores it whole).
  bool shows_entry = false;
  bool IsHistoryView() const {
    return kind == kVersionsDir || kind == kHistoryDir || kind == kDeletedDir;
  }
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
  std::optional<DirCursor> cursor;  // snapshot directories, and folders shown from one
  // A kVersionsDir or kDeletedDir shown from a snapshot folder: that folder's
  // node (the cursor walks it; its children are translated by CursorChild).
  std::shared_ptr<const Node> base;
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

// What the history views computed, per user, dropped when the user's
// snapshots change (View::SnapshotChanged). Bounded: past kMaxVersions
// paths the version lists are all dropped.
struct View::HistoryCache {
  static constexpr size_t kMaxVersions = 256;
  std::mutex mu;
  struct Versions {
    Status status;  // FileHistory's error, kept so a probe for a missing name costs once
    std::shared_ptr<const std::vector<snapshot::FileVersion>> list;
  };
  std::map<std::pair<std::string, std::string>, Versions> versions;  // (user, rel); GUARDED_BY(mu)
  struct Deleted {
    int64_t at_ms = 0;  // steady clock: recomputed after a minute, as the window moves
    int64_t since = 0;
    std::shared_ptr<const snapshot::DeletedList> list;
  };
  std::map<std::string, Deleted> deleted;  // GUARDED_BY(mu)

  void Forget(const std::string& user) {
    std::lock_guard<std::mutex> lock(mu);
    deleted.erase(user);
    for (auto it = versions.lower_bound({user, ""}); it != versions.end() && it->first.first == user;) {
      it = versions.erase(it);
    }
  }
};

// Where REL of /USER/.deleted/ is: in (or at) a deleted entry, or above some.
struct View::DeletedPlace {
  std::shared_ptr<const snapshot::DeletedList> list;
  const snapshot::DeletedEntry* entry = nullptr;  // the deleted entry at REL or above it
  std::shared_ptr<Node> base;          // with entry: REL in entry's snapshot
  std::vector<std::string> children;   // without: the names below REL, sorted
};

}  // namespace keepfs::fs
