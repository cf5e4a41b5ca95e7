#include "snapshot/tree.h"

#include <algorithm>
#include <iterator>

#include "store/coding.h"

namespace keepfs::snapshot {

namespace {
constexpr uint8_t kLeafTag = 1;
constexpr uint8_t kIndexTag = 2;
// A page ends after an entry whose name hash has these low bits zero (about
// one in 1024), once it holds kMinPage entries, or at kMaxPage entries.
constexpr uint64_t kBoundaryMask = 1023;
constexpr size_t kMinPage = 256;
constexpr size_t kMaxPage = 8192;
constexpr size_t kSinglePageMax = 2048;  // smaller folders are one leaf
constexpr size_t kMaxName = 4096;
constexpr size_t kMaxXattrs = 65536;

enum Flags : uint8_t {
  kHasRef = 1,
  kHasTarget = 2,
  kHasRdev = 4,
  kHasLinkId = 8,
  kHasXattrs = 16,
  kHasHoles = 32,
};

uint64_t NameHash(std::string_view s) {  // FNV-1a 64; part of the format
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

void EncodeEntry(Encoder& enc, const Entry& e) {
  enc.PutLengthPrefixed(e.name);
  enc.PutU8(static_cast<uint8_t>(e.type));
  enc.PutVarint(e.mode);
  enc.PutVarint(e.uid);
  enc.PutVarint(e.gid);
  enc.PutSignedVarint(e.mtime_sec);
  enc.PutVarint(e.mtime_nsec);
  enc.PutVarint(e.size);
  uint8_t flags = (e.ref.IsZero() ? 0 : kHasRef) | (e.target.empty() ? 0 : kHasTarget) |
                  (e.rdev ? kHasRdev : 0) | (e.link_id ? kHasLinkId : 0) |
                  (e.xattrs.empty() ? 0 : kHasXattrs) | (e.hole_bytes ? kHasHoles : 0);
  enc.PutU8(flags);
  if (flags & kHasRef) enc.PutBytes(e.ref.AsBytes());
  if (flags & kHasTarget) enc.PutLengthPrefixed(e.target);
  if (flags & kHasRdev) enc.PutVarint(e.rdev);
  if (flags & kHasLinkId) enc.PutVarint(e.link_id);
  if (flags & kHasXattrs) EncodeXattrs(enc, e.xattrs);
  if (flags & kHasHoles) enc.PutVarint(e.hole_bytes);
}

bool DecodeEntry(Decoder& dec, Entry* e) {
  std::string_view name, ref, target;
  uint8_t type = 0, flags = 0;
  uint64_t mode = 0, uid = 0, gid = 0, nsec = 0;
  if (!dec.GetLengthPrefixed(&name, kMaxName) || !dec.GetU8(&type) || type < 1 || type > 7 ||
      !dec.GetVarint(&mode) || mode > 07777 || !dec.GetVarint(&uid) || uid > UINT32_MAX ||
      !dec.GetVarint(&gid) || gid > UINT32_MAX || !dec.GetSignedVarint(&e->mtime_sec) ||
      !dec.GetVarint(&nsec) || nsec >= 1000000000 || !dec.GetVarint(&e->size) ||
      !dec.GetU8(&flags) || flags > 63) {
    return false;
  }
  e->name = std::string(name);
  e->type = static_cast<EntryType>(type);
  e->mode = static_cast<uint32_t>(mode);
  e->uid = static_cast<uint32_t>(uid);
  e->gid = static_cast<uint32_t>(gid);
  e->mtime_nsec = static_cast<uint32_t>(nsec);
  if (flags & kHasRef) {
    if (!dec.GetBytes(32, &ref)) return false;
    std::copy(ref.begin(), ref.end(), reinterpret_cast<char*>(e->ref.bytes.data()));
  }
  if ((flags & kHasTarget) && !dec.GetLengthPrefixed(&target, kMaxName)) return false;
  e->target = std::string(target);
  if ((flags & kHasRdev) && !dec.GetVarint(&e->rdev)) return false;
  if ((flags & kHasLinkId) && !dec.GetVarint(&e->link_id)) return false;
  if ((flags & kHasXattrs) && !DecodeXattrs(dec, &e->xattrs)) return false;
  if ((flags & kHasHoles) && (e->type != EntryType::kFile || !dec.GetVarint(&e->hole_bytes) ||
                              e->hole_bytes == 0 || e->hole_bytes > e->size)) {
    return false;
  }
  bool needs_ref = e->type == EntryType::kFile || e->type == EntryType::kDir;
  return needs_ref == !e->ref.IsZero();
}
}  // namespace

void EncodeXattrs(Encoder& enc, const std::vector<Xattr>& xattrs) {
  enc.PutVarint(xattrs.size());
  for (const Xattr& x : xattrs) {
    enc.PutLengthPrefixed(x.name);
    enc.PutLengthPrefixed(x.value);
  }
}

bool DecodeXattrs(Decoder& dec, std::vector<Xattr>* xattrs) {
  uint64_t n = 0;
  if (!dec.GetVarint(&n) || n > kMaxXattrs || n > dec.remaining()) return false;
  xattrs->resize(n);
  for (Xattr& x : *xattrs) {
    std::string_view xn, xv;
    if (!dec.GetLengthPrefixed(&xn, 255) || !dec.GetLengthPrefixed(&xv)) return false;
    x.name = std::string(xn);
    x.value = std::string(xv);
  }
  return true;
}

const char* EntryTypeName(EntryType t) {
  switch (t) {
    case EntryType::kFile: return "file";
    case EntryType::kDir: return "dir";
    case EntryType::kSymlink: return "symlink";
    case EntryType::kFifo: return "fifo";
    case EntryType::kCharDev: return "chardev";
    case EntryType::kBlockDev: return "blockdev";
    case EntryType::kSocket: return "socket";
  }
  return "unknown";
}

bool IsSafeName(std::string_view name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find('/') == std::string_view::npos && name.find('\0') == std::string_view::npos;
}

std::string EncodeTreeNode(const TreeNode& node) {
  std::string out;
  Encoder enc(&out);
  if (node.is_leaf) {
    enc.PutU8(kLeafTag);
    enc.PutVarint(node.entries.size());
    for (const Entry& e : node.entries) EncodeEntry(enc, e);
  } else {
    enc.PutU8(kIndexTag);
    enc.PutVarint(node.children.size());
    for (const TreeNode::Child& c : node.children) {
      enc.PutLengthPrefixed(c.first_name);
      enc.PutBytes(c.id.AsBytes());
      enc.PutVarint(c.entry_count);
      enc.PutVarint(c.span);
    }
  }
  return out;
}

Result<TreeNode> DecodeTreeNode(std::string_view bytes) {
  Decoder dec(bytes);
  TreeNode node;
  uint8_t tag = 0;
  uint64_t n = 0;
  if (!dec.GetU8(&tag) || !dec.GetVarint(&n) || n > dec.remaining()) {
    return Status::Corruption("tree node header is damaged");
  }
  // The entries the node stands for, at any depth: bounded, so that no sum
  // of spans (the mount's inode ordinals) can overflow.
  uint64_t span = 0;
  auto add_span = [&span](uint64_t more) {
    return !__builtin_add_overflow(span, more, &span) && span <= kMaxTreeSpan;
  };
  if (tag == kLeafTag) {
    node.entries.resize(n);
    for (size_t i = 0; i < n; ++i) {
      if (!DecodeEntry(dec, &node.entries[i]) || !IsSafeName(node.entries[i].name) ||
          (i > 0 && node.entries[i - 1].name >= node.entries[i].name) ||
          (node.entries[i].type == EntryType::kDir && node.entries[i].size >= kMaxTreeSpan) ||
          !add_span(EntrySpan(node.entries[i]))) {
        return Status::Corruption("tree entry " + std::to_string(i) + " is damaged");
      }
    }
  } else if (tag == kIndexTag) {
    node.is_leaf = false;
    node.children.resize(n);
    for (size_t i = 0; i < n; ++i) {
      std::string_view first, id;
      TreeNode::Child& c = node.children[i];
      if (!dec.GetLengthPrefixed(&first, kMaxName) || !dec.GetBytes(32, &id) ||
          !dec.GetVarint(&c.entry_count) || !dec.GetVarint(&c.span) ||
          c.span < c.entry_count || (i > 0 && node.children[i - 1].first_name >= first) ||
          !add_span(c.span)) {
        return Status::Corruption("tree index entry " + std::to_string(i) + " is damaged");
      }
      c.first_name = std::string(first);
      std::copy(id.begin(), id.end(), reinterpret_cast<char*>(c.id.bytes.data()));
    }
  } else {
    return Status::Corruption("unknown tree node type");
  }
  if (!dec.empty()) return Status::Corruption("tree node has trailing bytes");
  return node;
}

namespace {
// Groups items into pages at content-defined boundaries.
template <typename T, typename NameOf>
std::vector<std::vector<T>> Paginate(std::vector<T> items, NameOf name_of) {
  std::vector<std::vector<T>> pages(1);
  for (T& item : items) {
    pages.back().push_back(std::move(item));
    size_t n = pages.back().size();
    if (n >= kMaxPage || (n >= kMinPage && (NameHash(name_of(pages.back().back())) &
                                            kBoundaryMask) == 0)) {
      pages.emplace_back();
    }
  }
  if (pages.size() > 1 && pages.back().empty()) pages.pop_back();
  return pages;
}
}  // namespace

Result<ObjectId> WriteTree(std::vector<Entry> entries, const NodeSink& put) {
  if (entries.size() <= kSinglePageMax) {
    TreeNode leaf;
    leaf.entries = std::move(entries);
    return put(EncodeTreeNode(leaf));
  }
  // The leaves are cut where Paginate would cut them, but in place: each
  // page is moved out only while it is encoded, so that a folder of a
  // million entries is not held twice (once here, once in the pages).
  std::vector<TreeNode::Child> level;
  for (size_t start = 0, i = 0; i < entries.size(); ++i) {
    const size_t n = i + 1 - start;
    const bool boundary =
        n >= kMaxPage || (n >= kMinPage && (NameHash(entries[i].name) & kBoundaryMask) == 0);
    if (!boundary && i + 1 < entries.size()) continue;
    TreeNode leaf;
    leaf.entries.assign(std::make_move_iterator(entries.begin() + static_cast<ptrdiff_t>(start)),
                        std::make_move_iterator(entries.begin() + static_cast<ptrdiff_t>(i + 1)));
    std::string first = leaf.entries.front().name;
    uint64_t span = 0;
    for (const Entry& e : leaf.entries) span += EntrySpan(e);
    KEEPFS_ASSIGN_OR_RETURN(ObjectId id, put(EncodeTreeNode(leaf)));
    level.push_back({std::move(first), id, n, span});
    start = i + 1;
  }
  std::vector<Entry>().swap(entries);
  while (level.size() > 1) {
    std::vector<TreeNode::Child> up;
    auto pages = level.size() <= kSinglePageMax
                     ? std::vector<std::vector<TreeNode::Child>>{std::move(level)}
                     : Paginate(std::move(level), [](const TreeNode::Child& c) {
                         return c.first_name;
                       });
    for (auto& page : pages) {
      TreeNode index;
      index.is_leaf = false;
      uint64_t count = 0, span = 0;
      for (const auto& c : page) {
        count += c.entry_count;
        span += c.span;
      }
      std::string first = page.front().first_name;
      index.children = std::move(page);
      KEEPFS_ASSIGN_OR_RETURN(ObjectId id, put(EncodeTreeNode(index)));
      up.push_back({std::move(first), id, count, span});
    }
    level = std::move(up);
  }
  return level.front().id;
}

Result<std::optional<Entry>> LookupInTree(const ObjectId& root, std::string_view name,
                                          const NodeSource& get) {
  ObjectId id = root;
  for (int depth = 0; depth < 16; ++depth) {
    KEEPFS_ASSIGN_OR_RETURN(TreeNode node, get(id));
    if (node.is_leaf) {
      auto it = std::lower_bound(node.entries.begin(), node.entries.end(), name,
                                 [](const Entry& e, std::string_view n) { return e.name < n; });
      if (it == node.entries.end() || it->name != name) return std::optional<Entry>();
      return std::optional<Entry>(std::move(*it));
    }
    auto it = std::upper_bound(
        node.children.begin(), node.children.end(), name,
        [](std::string_view n, const TreeNode::Child& c) { return n < c.first_name; });
    if (it == node.children.begin()) return std::optional<Entry>();
    id = std::prev(it)->id;
  }
  return Status::Corruption("tree index nesting is too deep");
}

namespace {
Result<bool> ForEachIn(const ObjectId& id, const NodeSource& get,
                       const std::function<Result<bool>(const Entry&)>& fn, int depth) {
  if (depth > 16) return Status::Corruption("tree index nesting is too deep");
  KEEPFS_ASSIGN_OR_RETURN(TreeNode node, get(id));
  if (node.is_leaf) {
    for (const Entry& e : node.entries) {
      KEEPFS_ASSIGN_OR_RETURN(bool more, fn(e));
      if (!more) return false;
    }
    return true;
  }
  for (const TreeNode::Child& c : node.children) {
    KEEPFS_ASSIGN_OR_RETURN(bool more, ForEachIn(c.id, get, fn, depth + 1));
    if (!more) return false;
  }
  return true;
}
}  // namespace

Status ForEachEntry(const ObjectId& root, const NodeSource& get,
                    const std::function<Result<bool>(const Entry&)>& fn) {
  auto r = ForEachIn(root, get, fn, 0);
  return r.ok() ? Status::OK() : r.status();
}

}  // namespace keepfs::snapshot
