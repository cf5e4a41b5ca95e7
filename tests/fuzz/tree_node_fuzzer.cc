// DecodeTreeNode (snapshot/tree.h): a tree node read from the store.
// Checks: errors are Corruption; a decoded node keeps every promise of the
// header (safe, strictly sorted names, field ranges, refs only where a kind
// holds one); re-encoding gives a node that decodes to the same value and
// encodes to the same bytes.
#include "snapshot/tree.h"
#include "tests/fuzz/fuzz_util.h"

using namespace keepfs;
using namespace keepfs::snapshot;

namespace {
void CheckEntry(const Entry& e) {
  FUZZ_CHECK(IsSafeName(e.name) && e.name.size() <= 4096);
  FUZZ_CHECK(static_cast<int>(e.type) >= 1 && static_cast<int>(e.type) <= 7);
  FUZZ_CHECK(e.mode <= 07777 && e.mtime_nsec < 1000000000);
  bool holds = e.type == EntryType::kFile || e.type == EntryType::kDir;
  FUZZ_CHECK(holds == !e.ref.IsZero());
  FUZZ_CHECK(e.hole_bytes == 0 || (e.type == EntryType::kFile && e.hole_bytes <= e.size));
  FUZZ_CHECK(e.target.size() <= 4096);
  for (const Xattr& x : e.xattrs) FUZZ_CHECK(x.name.size() <= 255);
}

bool SameChildren(const TreeNode& a, const TreeNode& b) {
  if (a.children.size() != b.children.size()) return false;
  for (size_t i = 0; i < a.children.size(); ++i) {
    const auto &x = a.children[i], &y = b.children[i];
    if (x.first_name != y.first_name || x.id != y.id || x.entry_count != y.entry_count ||
        x.span != y.span) {
      return false;
    }
  }
  return true;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Result<TreeNode> r = DecodeTreeNode(fuzz::Bytes(data, size));
  if (!r.ok()) {
    fuzz::CheckCorruption(r.status());
    return 0;
  }
  const TreeNode& node = *r;
  if (node.is_leaf) {
    FUZZ_CHECK(node.children.empty());
    for (size_t i = 0; i < node.entries.size(); ++i) {
      CheckEntry(node.entries[i]);
      if (i > 0) FUZZ_CHECK(node.entries[i - 1].name < node.entries[i].name);
    }
  } else {
    FUZZ_CHECK(node.entries.empty());
    for (size_t i = 0; i < node.children.size(); ++i) {
      FUZZ_CHECK(node.children[i].span >= node.children[i].entry_count);
      if (i > 0) FUZZ_CHECK(node.children[i - 1].first_name < node.children[i].first_name);
    }
  }
  std::string again = EncodeTreeNode(node);
  Result<TreeNode> r2 = DecodeTreeNode(again);
  FUZZ_CHECK(r2.ok());
  FUZZ_CHECK(r2->is_leaf == node.is_leaf && r2->entries == node.entries);
  FUZZ_CHECK(SameChildren(*r2, node));
  FUZZ_CHECK(EncodeTreeNode(*r2) == again);
  return 0;
}
