// ViewExport: the part of View that makes the mount exportable by NFS
// (docs/nas.md, "NFS export"; docs/mount.md, "Inode numbers").
//
// knfsd (and anything using open_by_handle_at) gives out file handles that
// hold the FUSE node id, which is the inode number. When such a handle comes
// back and the kernel no longer has that inode (it forgot it, or keepfs was
// remounted), FUSE asks the daemon to look up "." in that node id; to
// reconnect a folder to the tree it asks for ".." and lists the parent.
// View::Lookup hands both names here. The node is rebuilt from the number
// alone: a snapshot's number gives its record (fs/export_index.h), the
// ordinal gives the entry by descending the folders by their spans
// (O(depth x index levels) tree-node reads), a hard-link group inode gives a
// name of that group, and a user's number gives its folder, `latest`,
// `.keepfs` and its files.
//
// ESTALE (never another inode) for: a number no user or listed snapshot has
// now (a forgotten snapshot, a husk's earlier number, a forged handle), a
// local beyond the snapshot's entries, an ordinal that names a hard link's
// name (its inode is the group's), and any virtual node of a user folder
// other than `latest` and `.keepfs` (and its files).
//
// Access: as Lookup. "." and ".." inside a namespace are checked against the
// caller; the root and the user folders are visible to anyone.
//
// Thread safety: as View.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "fs/view.h"
#include "store/status.h"

namespace keepfs::fs {

class ExportIndex;

struct ViewExport {
  // Lookup of "." (the node ino itself) or ".." (its parent; the root's is
  // the root) in ino, known or not. On success the kernel holds one more
  // reference to the answer's inode, as for any lookup.
  static Result<EntryOut> LookupDot(View& v, const Caller& c, uint64_t ino,
                                    std::string_view name);
  // The node of ino from the number alone (the table is not consulted);
  // ESTALE as above.
  static Result<std::shared_ptr<View::Node>> NodeByIno(View& v, uint64_t ino);

 private:
  using Node = View::Node;
  static ExportIndex& Index(View& v);
  static Result<std::shared_ptr<const Node>> KnownOrRebuilt(View& v, uint64_t ino);
  // One more kernel reference to n's inode: the table's node if it has one.
  static std::shared_ptr<const Node> Hold(View& v, std::shared_ptr<const Node> n);
  // local (fs/inode.h) of the user folder dir.
  static Result<std::shared_ptr<Node>> UserLocal(View& v, std::shared_ptr<Node> dir,
                                                 uint64_t local);
  // The entry at ordinal below the snapshot root.
  static Result<std::shared_ptr<Node>> EntryByOrdinal(View& v, std::shared_ptr<Node> root,
                                                      uint64_t ordinal);
};

}  // namespace keepfs::fs
