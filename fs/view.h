// View: the mount's file system, without FUSE. fs/fuse/ translates kernel
// requests into these calls; tests call them directly. Layout, inode numbers,
// access and caching: docs/mount.md.
//
//   /                      every user of the store
//   /USER/                 owned by the user's server uid (config [users.USER]), 0700
//   /USER/latest           symlink to the newest snapshot
//   /USER/SNAPSHOT/...     the snapshot's tree exactly as backed up (a husk:
//                          only its pinned paths and their folders)
//   /USER/.keepfs/         read-only reports for the user: usage.json,
//                          retention.txt (what the next prune does and why),
//                          pins.txt; generated when read
//   /USER/.versions/PATH/  PATH a folder: its children; PATH a file: one entry
//                          per distinct version (snapshot/history.h), named
//                          YYYY-MM-DD_HHMMSS.EXT, read as that version
//   /USER/.deleted/        what the snapshots of the last [mount]
//                          deleted_window hold and the newest does not
//                          (snapshot/deleted.h), each at its path with its
//                          last version, and INDEX.txt listing them
//
// Pins through the mount: setxattr "user.keepfs.pin" = "1" on a file or
// folder of a snapshot pins it (gc/pins.h), removexattr (or "0") unpins, and
// getxattr says whether it is pinned: "1", or "via /FOLDER" when a folder
// above it is. Only the user's own uid and root may pin (EACCES otherwise).
//
// Access is decided here, by namespace, not by the stored modes: the owner
// of /USER (and root, and the configured admin group) may read everything in
// it; everyone else gets EACCES on any lookup, open or listing inside it.
// Nothing is writable: writes are EROFS.
//
// Every error is a Status; ErrnoOf gives the errno to return. A damaged or
// missing chunk is EIO (logged with user, snapshot and path), never wrong bytes.
//
// Thread safety: all methods may be called from many threads at once.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fs/listing_hints.h"
#include "snapshot/tree.h"
#include "store/config.h"
#include "store/status.h"
#include "store/store.h"

namespace keepfs::snapshot {
class Repo;
struct FileVersion;
struct DeletedList;
}  // namespace keepfs::snapshot

namespace keepfs::fs {

class ChunkReader;
class TreeCache;
class ExportIndex;
struct ViewExport;

struct Caller {
  uint32_t uid = 0;
  uint32_t gid = 0;
  // Whether the caller is in a supplementary group; asked only to check the
  // admin group. Null: primary group only.
  std::function<bool(uint32_t gid)> in_group;
  uint32_t pid = 0;  // the requesting thread, for ListingHints
};

struct Attr {
  uint64_t ino = 0;
  uint32_t mode = 0;  // S_IFMT type bits | permission bits
  uint32_t nlink = 1;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t rdev = 0;
  uint64_t size = 0;
  uint64_t blocks = 0;  // 512-byte units
  int64_t mtime_sec = 0;
  uint32_t mtime_nsec = 0;
};

// The answer to a lookup. attr.ino == 0 is a negative entry: the name does
// not exist, and the kernel may remember that for entry_timeout.
struct EntryOut {
  Attr attr;
  double entry_timeout = 0;
  double attr_timeout = 0;
  // In a plus listing: name, number and type only; the kernel gets no entry
  // (and holds no reference) for it.
  bool name_only = false;
};

struct StatFsOut {
  uint64_t block_size = 4096;
  uint64_t blocks = 0;  // the store's bytes plus the free space of its disk
  uint64_t bfree = 0;   // the disk's free space
  uint64_t bavail = 0;
  uint64_t files = 0;   // snapshots in the store
  uint32_t name_max = 255;
};

struct ViewStats {
  uint64_t nodes = 0;         // inodes the kernel holds
  uint64_t open_files = 0;
  uint64_t open_dirs = 0;
  uint64_t chunk_cache_bytes = 0;
};

// Errno for a View status: the saved errno if there is one, else by code.
int ErrnoOf(const Status& s);

class View {
 public:
  static constexpr uint64_t kRootIno = 1;

  // store (not owned) must stay open while the View lives.
  explicit View(Store* store);
  ~View();
  View(const View&) = delete;
  View& operator=(const View&) = delete;

  // Rereads [mount] and [users] from the store's config (after 'user add').
  void ReloadConfig();

  // How to make the kernel forget a cached name (parent ino, name): set by
  // the FUSE adapter while mounted, null otherwise. The View listens to the
  // store for as long as it lives: when a snapshot of a user is committed or
  // removed, the kernel forgets that name and `latest` in the user's folder,
  // so the change shows at once, whatever path_cache_seconds is. A store has
  // one listener: keep one View per store.
  using Invalidator = std::function<void(uint64_t parent, const std::string& name)>;
  void SetInvalidator(Invalidator fn);

  // On success the kernel holds one more reference to attr.ino (released by
  // Forget), unless the answer is negative. "." and ".." (NFS export) work in
  // any node id, known or not: fs/view_export.h.
  Result<EntryOut> Lookup(const Caller& c, uint64_t parent, std::string_view name);
  void Forget(uint64_t ino, uint64_t nlookup);
  // Attributes and how long the kernel may cache them.
  Result<std::pair<Attr, double>> GetAttr(const Caller& c, uint64_t ino);
  Result<std::string> ReadLink(const Caller& c, uint64_t ino);
  // access(2): mask of R_OK, W_OK, X_OK (F_OK = 0).
  Status Access(const Caller& c, uint64_t ino, int mask);

  Result<uint64_t> OpenDir(const Caller& c, uint64_t ino);
  // Offsets: 0 starts the listing; every entry comes with the offset that
  // continues after it. fill returns false when the reply buffer is full (the
  // entry was not taken). With plus, each entry taken other than "." and ".."
  // counts as a lookup, except name_only ones: entries other than folders,
  // when ListingHints says the process that opened the folder does not stat
  // what it lists.
  using DirFiller =
      std::function<bool(std::string_view name, const EntryOut& e, uint64_t next_offset)>;
  Status ReadDir(uint64_t handle, uint64_t offset, bool plus, const DirFiller& fill);
  void ReleaseDir(uint64_t handle);

  // Opening for writing is EROFS.
  Result<uint64_t> Open(const Caller& c, uint64_t ino, int flags);
  // Reads up to size bytes at offset into *out (short only at end of file).
  Status Read(uint64_t handle, uint64_t offset, size_t size, std::string* out);
  // The same bytes without copying: pieces of cached chunks (each segment
  // keeps what it points into alive), of the inline data or of a page of zeros.
  struct Segment {
    std::shared_ptr<const std::string> chunk;
    const char* data = nullptr;
    size_t size = 0;
    std::shared_ptr<const void> keep;  // the open file, for inline data
  };
  Status ReadSegments(uint64_t handle, uint64_t offset, size_t size, std::vector<Segment>* segs);
  // lseek(2) with SEEK_DATA or SEEK_HOLE; ENXIO past the data / end.
  Result<uint64_t> SeekData(uint64_t handle, uint64_t offset, int whence);
  void Release(uint64_t handle);

  // Whether an open file is generated (the .keepfs reports): the kernel must
  // read it with direct I/O, as its size may change between opens.
  bool IsGenerated(uint64_t handle);
  // Whether an open folder's listing never changes (a snapshot's folders):
  // the kernel may then keep it.
  bool IsImmutableDir(uint64_t handle);

  // ENODATA when the file has no such attribute.
  Result<std::string> GetXattr(const Caller& c, uint64_t ino, std::string_view name);
  // Only kPinXattr can be set or removed; any other name is EROFS.
  static constexpr std::string_view kPinXattr = "user.keepfs.pin";
  Status SetXattr(const Caller& c, uint64_t ino, std::string_view name, std::string_view value);
  Status RemoveXattr(const Caller& c, uint64_t ino, std::string_view name);
  Result<std::vector<std::string>> ListXattr(const Caller& c, uint64_t ino);
  Result<StatFsOut> StatFs();

  ViewStats stats();

  struct Node;
  struct SnapInfo;
  struct DirHandle;
  struct FileHandle;
  struct HistoryCache;
  struct DeletedPlace;

 private:
  struct Owner {
    uint32_t uid = 0;
    uint32_t gid = 0;
  };
  Owner OwnerOf(const std::string& user);
  bool Allowed(const Caller& c, const std::string& user);
  Status CheckAccess(const Caller& c, const Node& n);

  std::shared_ptr<const Node> FindNode(uint64_t ino);
  // Adds one kernel reference to node (inserting it if new) and returns the
  // node the table holds for its ino.
  std::shared_ptr<const Node> Remember(std::shared_ptr<Node> node);
  EntryOut Reply(const Node& n);
  Attr AttrOf(const Node& n);
  double AttrTimeout(const Node& n) const;
  std::string PathOf(const Node& n);

  Result<std::shared_ptr<Node>> UserDirNode(const std::string& user);
  Result<std::shared_ptr<const SnapInfo>> LoadSnap(const std::string& user,
                                                   const std::string& name);
  // The SnapInfo of a record's stored value: the cached one while the bytes
  // are the same, else decoded (EIO, logged, if damaged or without a number).
  Result<std::shared_ptr<const SnapInfo>> SnapFromValue(const std::string& user,
                                                        const std::string& name,
                                                        std::string value);
  Result<std::shared_ptr<Node>> SnapRootNode(std::shared_ptr<const SnapInfo> snap);
  // The inode number (and link count) of entry at ordinal inside the
  // snapshot directory parent: fs/inode.h.
  Result<uint64_t> InoOf(const Node& parent, const snapshot::Entry& entry, uint64_t ordinal,
                         uint64_t* nlink);
  // The node of entry (at ordinal) inside the snapshot directory parent.
  Result<std::shared_ptr<Node>> EntryNode(const std::shared_ptr<const Node>& parent,
                                          snapshot::Entry entry, uint64_t ordinal);
  // The path of a snapshot node inside its snapshot ("" for its root).
  static std::string SnapPath(const Node& n);
  // Whether the snapshot of n (a kSnapRoot or kEntry) is no longer there as
  // the kernel learnt it: forgotten, pruned, or made a husk (a new number).
  // The kernel may still hold n (an open folder, a cached name), but its
  // trees and contents may have been collected since: a missing one is then
  // no damage.
  bool SnapshotGone(const Node& n);
  // The answer to a failed read of a tree or content of n: when n's snapshot
  // is gone, errno_if_gone (ENOENT for a lookup, ESTALE for an inode the
  // kernel holds), logged at debug level only; else EIO, logged as damage.
  Status ReadFailure(const Node& n, const Status& s, int errno_if_gone);
  // The `latest` symlink of a user folder, pointing at the newest snapshot;
  // null when the user has none.
  Result<std::shared_ptr<Node>> LatestNode(const Node& user_dir);
  // The .keepfs folder of user (dir = its user folder's node) and its files.
  std::shared_ptr<Node> MetaDirNode(const Node& user_dir);
  std::shared_ptr<Node> MetaFileNode(const Node& meta_dir, size_t index);
  // The text of a .keepfs file, regenerated at most once a second.
  Result<std::string> MetaText(const std::string& user, size_t index);
  // "1" when n is pinned, "via /FOLDER" when a folder above it is; ENODATA.
  Result<std::string> PinXattrValue(const Node& n);
  // The caller may pin in user's snapshots: their own uid, or root.
  bool MayPin(const Caller& c, const std::string& user);
  // The node a pin xattr call is about, with the caller's rights checked.
  Result<std::shared_ptr<const Node>> PinTarget(const Caller& c, uint64_t ino);

  // /USER/.versions and /USER/.deleted (fs/view_history.cc). The node of
  // REL below parent: a kVersionsDir (folder) or kHistoryDir, or a
  // kDeletedDir; each with its inode number (fs/inode.h).
  std::shared_ptr<Node> VersionsNode(const Node& parent, std::string rel, bool folder);
  std::shared_ptr<Node> DeletedNode(const Node& parent, std::string rel);
  std::shared_ptr<Node> ViewNode(const Node& parent, int kind, std::string rel);  // both
  uint64_t HashedIno(uint64_t number, int kind, const std::string& rel);
  // The kEntry (or kSnapRoot for "") of rel in user's snapshot; NotFound.
  Result<std::shared_ptr<Node>> SnapEntryNode(const std::string& user,
                                              const std::string& snapshot, std::string_view rel);
  // rel as a folder in the newest snapshot that has a folder there; NotFound.
  Result<std::shared_ptr<Node>> FolderInNewest(const std::string& user, const std::string& rel);
  // FileHistory(user, rel) and DeletedSince(user, now - window), cached
  // until user's snapshots change (the deleted list also for a minute).
  Result<std::shared_ptr<const std::vector<snapshot::FileVersion>>> Versions(
      const std::string& user, const std::string& rel);
  Result<std::shared_ptr<const snapshot::DeletedList>> Deleted(const std::string& user,
                                                               int64_t* since = nullptr);
  Result<DeletedPlace> FindDeleted(const std::string& user, const std::string& rel);
  // Lookup of name in a history view folder: the node, or null (no such name).
  Result<std::shared_ptr<Node>> LookupInHistory(const std::shared_ptr<const Node>& parent,
                                                std::string_view name);
  // Opendir of a history view folder: a cursor over h.base, or the entries.
  Status OpenHistory(DirHandle& h);
  // The node of entry e (at ordinal) of the folder a DirHandle walks.
  Result<std::shared_ptr<Node>> CursorChild(const DirHandle& h, const snapshot::Entry& e,
                                            uint64_t ordinal);
  Result<std::string> DeletedIndexText(const std::string& user);

  Status FillVirtual(DirHandle& h, const Caller& c);
  uint64_t AddHandle(std::shared_ptr<DirHandle> h);
  uint64_t AddHandle(std::shared_ptr<FileHandle> h);
  // The open file of handle, or EBADF.
  Result<std::shared_ptr<FileHandle>> FindFile(uint64_t handle);

  Store* store_;
  std::unique_ptr<snapshot::Repo> repo_;
  std::unique_ptr<TreeCache> trees_;
  std::unique_ptr<ChunkReader> chunks_;

  std::mutex config_mu_;
  StoreConfig config_;  // GUARDED_BY(config_mu_)
  std::unordered_map<std::string, Owner> owners_;  // GUARDED_BY(config_mu_)

  std::mutex nodes_mu_;
  std::unordered_map<uint64_t, std::pair<std::shared_ptr<const Node>, uint64_t>>
      nodes_;  // ino -> (node, kernel references); GUARDED_BY(nodes_mu_)

  std::mutex snaps_mu_;
  std::unordered_map<std::string, std::shared_ptr<const SnapInfo>> snaps_;  // GUARDED_BY(snaps_mu_)

  std::mutex handles_mu_;
  uint64_t next_handle_ = 1;  // GUARDED_BY(handles_mu_)
  std::unordered_map<uint64_t, std::shared_ptr<DirHandle>> dirs_;    // GUARDED_BY(handles_mu_)
  std::unordered_map<uint64_t, std::shared_ptr<FileHandle>> files_;  // GUARDED_BY(handles_mu_)

  ListingHints hints_;

  void SnapshotChanged(std::string_view user, std::string_view name);
  std::mutex invalidator_mu_;
  Invalidator invalidator_;  // GUARDED_BY(invalidator_mu_)

  std::mutex meta_mu_;
  struct MetaCached {
    int64_t at_ms = 0;
    std::string text;
  };
  std::map<std::pair<std::string, size_t>, MetaCached> meta_cache_;  // GUARDED_BY(meta_mu_)

  std::unique_ptr<HistoryCache> history_;

  std::mutex statfs_mu_;
  int64_t statfs_at_ = 0;  // GUARDED_BY(statfs_mu_)
  StatFsOut statfs_;       // GUARDED_BY(statfs_mu_)

  friend struct ViewExport;  // NFS export: fs/view_export.h
  std::once_flag export_once_;
  std::shared_ptr<ExportIndex> export_;  // built by the first export lookup
};

}  // namespace keepfs::fs
