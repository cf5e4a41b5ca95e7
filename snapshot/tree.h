// Trees: a directory listing as sorted entries with full metadata,
// content-addressed (a tree's id is the SHA-256 of its encoded node), so an
// unchanged folder is stored once and costs one lookup.
//
// A large directory is split into leaf pages at content-defined boundaries
// (a function of entry names only) under index nodes that hold each page's
// first name. Looking up one name reads one page per level, and adding a file
// to a huge folder rewrites one page and the index, not the whole folder.
// Encoding: docs/format.md.
//
// Thread safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "store/object_id.h"
#include "store/status.h"

namespace keepfs {
class Encoder;
class Decoder;
}  // namespace keepfs

namespace keepfs::snapshot {

// Values are part of the on-disk format.
enum class EntryType : uint8_t {
  kFile = 1,
  kDir = 2,
  kSymlink = 3,
  kFifo = 4,
  kCharDev = 5,
  kBlockDev = 6,
  kSocket = 7,
};

const char* EntryTypeName(EntryType t);

struct Xattr {
  std::string name;
  std::string value;
  bool operator==(const Xattr&) const = default;
};

struct Entry {
  std::string name;  // any bytes but '/' and NUL; never "." or ".."
  EntryType type = EntryType::kFile;
  uint32_t mode = 0;  // permission bits including setuid, setgid and sticky (07777)
  uint32_t uid = 0;
  uint32_t gid = 0;
  int64_t mtime_sec = 0;
  uint32_t mtime_nsec = 0;
  uint64_t size = 0;    // file: logical size (holes included); symlink: target length;
                        // dir: number of entries below it, at any depth
  ObjectId ref;         // file: content id; dir: tree id; others: zero
  std::string target;   // symlink target
  uint64_t rdev = 0;    // character and block devices
  uint64_t link_id = 0; // non-zero: other names in this snapshot are hard links to it
  uint64_t hole_bytes = 0;  // file: bytes of size that are holes (sparse files)
  std::vector<Xattr> xattrs;  // sorted by name; POSIX ACLs are system.posix_acl_* here

  bool operator==(const Entry&) const = default;
};

// The one encoding of an xattr list, wherever one is stored (tree entries,
// files-cache entries, the snapshot record's root metadata): varint n, then
// n x { lp name (<= 255 bytes), lp value }. Decode returns false on malformed input.
void EncodeXattrs(Encoder& enc, const std::vector<Xattr>& xattrs);
bool DecodeXattrs(Decoder& dec, std::vector<Xattr>* xattrs);

// True for a name that may be created in a directory: non-empty, no '/',
// no NUL, not "." or "..". Restore refuses anything else.
bool IsSafeName(std::string_view name);

// The number of entries an entry stands for in a depth-first walk of its
// snapshot: itself, plus everything below it for a directory. The mount numbers
// inodes by this walk (docs/mount.md), so a subtree's inodes are a contiguous
// range that needs no walk to compute.
inline uint64_t EntrySpan(const Entry& e) { return 1 + (e.type == EntryType::kDir ? e.size : 0); }

// The most entries one tree node may stand for, at any depth (a trillion;
// the mount numbers at most 2^35 per snapshot). A node whose spans add up
// to more is damage: DecodeTreeNode refuses it, so that no sum of spans
// along a path of nodes can overflow.
inline constexpr uint64_t kMaxTreeSpan = uint64_t{1} << 40;

// One encoded tree node.
struct TreeNode {
  struct Child {
    std::string first_name;
    ObjectId id;
    uint64_t entry_count = 0;  // entries in the leaves below this child
    uint64_t span = 0;         // sum of EntrySpan over those entries
  };
  bool is_leaf = true;
  std::vector<Entry> entries;  // leaf: sorted by name, unique
  std::vector<Child> children; // index: sorted by first_name
};

std::string EncodeTreeNode(const TreeNode& node);
// Corruption on any malformed input, unsorted or duplicate names, unsafe
// names, or spans that add up to more than kMaxTreeSpan.
Result<TreeNode> DecodeTreeNode(std::string_view bytes);

// Builds the node(s) of one directory from its entries (sorted by name,
// unique). put(encoded) stores a node and returns its id; the root id is
// returned.
using NodeSink = std::function<Result<ObjectId>(std::string encoded)>;
Result<ObjectId> WriteTree(std::vector<Entry> entries, const NodeSink& put);

// Loads a node by id.
using NodeSource = std::function<Result<TreeNode>(const ObjectId& id)>;

// Finds one name in the directory rooted at root. nullopt if absent.
Result<std::optional<Entry>> LookupInTree(const ObjectId& root, std::string_view name,
                                          const NodeSource& get);
// Calls fn for each entry in name order; stops early (OK) when fn returns false.
Status ForEachEntry(const ObjectId& root, const NodeSource& get,
                    const std::function<Result<bool>(const Entry&)>& fn);

}  // namespace keepfs::snapshot
