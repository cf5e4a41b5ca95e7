#include "snapshot/tree.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "store/coding.h"
#include "tests/testing/test_util.h"

namespace keepfs::snapshot {
namespace {

ObjectId IdOf(std::string_view s) { return Sha256::Of(s); }

Entry FileEntry(std::string name, uint64_t size = 10) {
  Entry e;
  e.name = std::move(name);
  e.type = EntryType::kFile;
  e.mode = 0644;
  e.uid = 1000;
  e.gid = 100;
  e.mtime_sec = 1790823600;
  e.mtime_nsec = 123456789;
  e.size = size;
  e.ref = IdOf("content of " + e.name);
  return e;
}

// An entry of a type that carries no content: name, type and mode only.
Entry SpecialEntry(std::string name, EntryType type, uint32_t mode) {
  Entry e;
  e.name = std::move(name);
  e.type = type;
  e.mode = mode;
  return e;
}

// One entry of every type, with every optional field used somewhere.
std::vector<Entry> EveryKind() {
  std::vector<Entry> v;
  Entry f = FileEntry("a_file", 1 << 20);
  f.mode = 04755;  // setuid survives
  f.link_id = 0xdeadbeefcafeULL;
  f.xattrs = {{"security.selinux", std::string("ctx\0", 4)},
              {"system.posix_acl_access", std::string("\x02\x00\x00\x00", 4)},
              {"user.note", "hello"}};
  v.push_back(f);
  Entry bdev = SpecialEntry("b_blockdev", EntryType::kBlockDev, 0660);
  bdev.rdev = (8ull << 8) | 1;
  v.push_back(bdev);
  Entry cdev = SpecialEntry("c_chardev", EntryType::kCharDev, 0666);
  cdev.rdev = (1ull << 8) | 3;
  cdev.mtime_sec = -5;  // before 1970
  v.push_back(cdev);
  Entry dir = SpecialEntry("d_dir", EntryType::kDir, 01777);  // sticky
  dir.ref = IdOf("tree");
  dir.uid = UINT32_MAX;
  dir.gid = UINT32_MAX;
  v.push_back(dir);
  v.push_back(SpecialEntry("f_fifo", EntryType::kFifo, 0600));
  Entry sock = SpecialEntry("s_socket", EntryType::kSocket, 0755);
  sock.xattrs = {{"user.x", ""}};
  v.push_back(sock);
  Entry link = SpecialEntry("z_symlink", EntryType::kSymlink, 0777);
  link.target = "../some/where else/\xff";
  link.size = link.target.size();
  v.push_back(link);
  Entry odd = FileEntry("\xff\xfe");  // not UTF-8; sorts after ASCII
  v.push_back(odd);
  return v;
}

std::string EncodeLeaf(std::vector<Entry> entries) {
  TreeNode n;
  n.entries = std::move(entries);
  return EncodeTreeNode(n);
}

TEST(TreeTest, EveryEntryTypeRoundTrips) {
  std::vector<Entry> entries = EveryKind();
  std::string bytes = EncodeLeaf(entries);
  ASSERT_OK_AND_ASSIGN(TreeNode back, DecodeTreeNode(bytes));
  EXPECT_TRUE(back.is_leaf);
  ASSERT_EQ(back.entries.size(), entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    SCOPED_TRACE(entries[i].name);
    EXPECT_EQ(back.entries[i], entries[i]);
  }
  EXPECT_EQ(EncodeTreeNode(back), bytes) << "encoding is canonical";
}

TEST(TreeTest, LongAndBinaryNamesRoundTrip) {
  std::vector<Entry> entries = {FileEntry(std::string(255, 'n')), FileEntry("\x01\x7f"),
                                FileEntry("\xc3\x28"), FileEntry("\xff\xfe")};
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.name < b.name; });
  ASSERT_OK_AND_ASSIGN(TreeNode back, DecodeTreeNode(EncodeLeaf(entries)));
  ASSERT_EQ(back.entries.size(), entries.size());
  for (size_t i = 0; i < entries.size(); ++i) EXPECT_EQ(back.entries[i].name, entries[i].name);
}

TEST(TreeTest, EmptyLeafAndIndexNodeRoundTrip) {
  ASSERT_OK_AND_ASSIGN(TreeNode empty, DecodeTreeNode(EncodeLeaf({})));
  EXPECT_TRUE(empty.is_leaf);
  EXPECT_TRUE(empty.entries.empty());

  TreeNode index;
  index.is_leaf = false;
  index.children = {{"a", IdOf("1"), 300, 310}, {"m", IdOf("2"), 5000, 5000}, {"\xff", IdOf("3"), 1, 7}};
  ASSERT_OK_AND_ASSIGN(TreeNode back, DecodeTreeNode(EncodeTreeNode(index)));
  EXPECT_FALSE(back.is_leaf);
  ASSERT_EQ(back.children.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(back.children[i].first_name, index.children[i].first_name);
    EXPECT_EQ(back.children[i].id, index.children[i].id);
    EXPECT_EQ(back.children[i].entry_count, index.children[i].entry_count);
    EXPECT_EQ(back.children[i].span, index.children[i].span);
  }
  index.children[1].span = 4999;  // fewer inodes than entries cannot be
  EXPECT_TRUE(DecodeTreeNode(EncodeTreeNode(index)).status().IsCorruption());
}

TEST(TreeTest, IsSafeName) {
  for (std::string_view ok : {"a", "a.b", "...", ".hidden", "\xff\xfe", "with space"}) {
    EXPECT_TRUE(IsSafeName(ok)) << ok;
  }
  for (std::string_view bad :
       {std::string_view(""), std::string_view("."), std::string_view(".."),
        std::string_view("a/b"), std::string_view("/"), std::string_view("a\0b", 3)}) {
    EXPECT_FALSE(IsSafeName(bad)) << bad;
  }
}

TEST(TreeTest, DecodeRejectsBadNamesAndOrder) {
  struct Case {
    const char* what;
    std::vector<Entry> entries;
  };
  const Case cases[] = {
      {"unsorted", {FileEntry("b"), FileEntry("a")}},
      {"duplicate", {FileEntry("a"), FileEntry("a")}},
      {"dotdot", {FileEntry("..")}},
      {"dot", {FileEntry(".")}},
      {"slash", {FileEntry("a/b")}},
      {"empty name", {FileEntry("")}},
      {"nul", {FileEntry(std::string("a\0b", 3))}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    EXPECT_CODE(DecodeTreeNode(EncodeLeaf(c.entries)), StatusCode::kCorruption);
  }
}

TEST(TreeTest, DecodeRejectsInconsistentEntries) {
  Entry file_without_ref = FileEntry("f");
  file_without_ref.ref = ObjectId();
  EXPECT_CODE(DecodeTreeNode(EncodeLeaf({file_without_ref})), StatusCode::kCorruption);
  Entry fifo_with_ref;
  fifo_with_ref.name = "p";
  fifo_with_ref.type = EntryType::kFifo;
  fifo_with_ref.ref = IdOf("x");
  EXPECT_CODE(DecodeTreeNode(EncodeLeaf({fifo_with_ref})), StatusCode::kCorruption);
  Entry bad_mode = FileEntry("m");
  bad_mode.mode = 0100644;  // file type bits do not belong in mode
  EXPECT_CODE(DecodeTreeNode(EncodeLeaf({bad_mode})), StatusCode::kCorruption);
  Entry bad_nsec = FileEntry("n");
  bad_nsec.mtime_nsec = 1000000000;
  EXPECT_CODE(DecodeTreeNode(EncodeLeaf({bad_nsec})), StatusCode::kCorruption);
}

// A malicious or damaged store may claim absurd folder sizes: spans that
// add up past kMaxTreeSpan (which would overflow the mount's inode ordinals
// along a path) are refused; up to it they decode.
TEST(TreeTest, DecodeRejectsSpansPastTheBound) {
  auto dir = [](std::string name, uint64_t below) {
    Entry e = SpecialEntry(std::move(name), EntryType::kDir, 0755);
    e.ref = IdOf("tree");
    e.size = below;
    return e;
  };
  EXPECT_OK(DecodeTreeNode(EncodeLeaf({dir("a", kMaxTreeSpan - 1)})).status());
  EXPECT_CODE(DecodeTreeNode(EncodeLeaf({dir("a", kMaxTreeSpan)})), StatusCode::kCorruption);
  EXPECT_CODE(DecodeTreeNode(EncodeLeaf({dir("a", ~uint64_t{0})})), StatusCode::kCorruption)
      << "1 + size wraps to 0";
  EXPECT_CODE(DecodeTreeNode(EncodeLeaf({dir("a", kMaxTreeSpan / 2), dir("b", kMaxTreeSpan / 2)})),
              StatusCode::kCorruption);
  EXPECT_OK(DecodeTreeNode(EncodeLeaf({FileEntry("huge", uint64_t{1} << 50)})).status())
      << "a file's size is bytes, not entries: a 1 PiB file is fine";
  TreeNode index;
  index.is_leaf = false;
  index.children = {{"a", IdOf("1"), 1, kMaxTreeSpan / 2}, {"b", IdOf("2"), 1, kMaxTreeSpan / 2}};
  EXPECT_OK(DecodeTreeNode(EncodeTreeNode(index)).status());
  index.children[1].span = ~uint64_t{0};
  EXPECT_CODE(DecodeTreeNode(EncodeTreeNode(index)), StatusCode::kCorruption);
}

TEST(TreeTest, DecodeRejectsUnsortedIndex) {
  TreeNode index;
  index.is_leaf = false;
  index.children = {{"m", IdOf("1"), 1}, {"a", IdOf("2"), 1}};
  EXPECT_CODE(DecodeTreeNode(EncodeTreeNode(index)), StatusCode::kCorruption);
  index.children = {{"a", IdOf("1"), 1}, {"a", IdOf("2"), 1}};
  EXPECT_CODE(DecodeTreeNode(EncodeTreeNode(index)), StatusCode::kCorruption);
}

TEST(TreeTest, DecodeRejectsTrailingBytesAndUnknownTag) {
  std::string bytes = EncodeLeaf(EveryKind());
  EXPECT_CODE(DecodeTreeNode(bytes + '\0'), StatusCode::kCorruption);
  EXPECT_CODE(DecodeTreeNode(bytes + "junk"), StatusCode::kCorruption);
  std::string bad_tag = bytes;
  bad_tag[0] = 9;
  EXPECT_CODE(DecodeTreeNode(bad_tag), StatusCode::kCorruption);
  EXPECT_CODE(DecodeTreeNode(""), StatusCode::kCorruption);
}

TEST(TreeTest, DecodeRejectsHugeCounts) {
  // A count far larger than the input must fail before allocating for it.
  std::string bytes(1, '\x01');
  Encoder(&bytes).PutVarint(uint64_t{1} << 60);
  EXPECT_CODE(DecodeTreeNode(bytes), StatusCode::kCorruption);
  bytes[0] = '\x02';
  EXPECT_CODE(DecodeTreeNode(bytes), StatusCode::kCorruption);
}

TEST(TreeTest, EveryTruncatedPrefixIsAnError) {
  std::string leaf = EncodeLeaf(EveryKind());
  for (size_t n = 0; n < leaf.size(); ++n) {
    ASSERT_CODE(DecodeTreeNode(std::string_view(leaf).substr(0, n)), StatusCode::kCorruption)
        << "prefix " << n << " of " << leaf.size();
  }
  TreeNode index;
  index.is_leaf = false;
  index.children = {{"a", IdOf("1"), 300}, {"m", IdOf("2"), 5000}};
  std::string idx = EncodeTreeNode(index);
  for (size_t n = 0; n < idx.size(); ++n) {
    ASSERT_CODE(DecodeTreeNode(std::string_view(idx).substr(0, n)), StatusCode::kCorruption)
        << "prefix " << n;
  }
}

TEST(TreeTest, RandomByteFlipsNeverCrash) {
  std::string leaf = EncodeLeaf(EveryKind());
  testing::Rng rng(99);
  int rejected = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string bad = leaf;
    bad[rng.Uniform(bad.size())] ^= static_cast<char>(1 + rng.Uniform(255));
    auto r = DecodeTreeNode(bad);
    if (!r.ok()) {
      EXPECT_TRUE(r.status().IsCorruption());
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 0);
}

// An in-memory node store that records what WriteTree puts.
struct MemNodes {
  std::map<ObjectId, std::string> nodes;
  std::vector<ObjectId> put_order;

  NodeSink sink() {
    return [this](std::string encoded) -> Result<ObjectId> {
      ObjectId id = Sha256::Of(encoded);
      nodes[id] = std::move(encoded);
      put_order.push_back(id);
      return id;
    };
  }
  NodeSource source() const {
    return [this](const ObjectId& id) -> Result<TreeNode> {
      auto it = nodes.find(id);
      if (it == nodes.end()) return Status::Corruption("node " + id.ShortHex() + " missing");
      return DecodeTreeNode(it->second);
    };
  }
};

std::string BigName(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "file_%07d.dat", i);
  return buf;
}

std::vector<Entry> BigDir(int n) {
  std::vector<Entry> v;
  v.reserve(n);
  for (int i = 0; i < n; ++i) v.push_back(FileEntry(BigName(i), i));
  return v;  // zero-padded names: already sorted
}

TEST(TreeTest, SmallDirIsOneLeaf) {
  MemNodes mem;
  ASSERT_OK_AND_ASSIGN(ObjectId root, WriteTree(EveryKind(), mem.sink()));
  EXPECT_EQ(mem.put_order.size(), 1u);
  EXPECT_EQ(root, Sha256::Of(mem.nodes[root])) << "a tree's id is the hash of its node";
  ASSERT_OK_AND_ASSIGN(std::optional<Entry> e, LookupInTree(root, "z_symlink", mem.source()));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->target, "../some/where else/\xff");
  ASSERT_OK_AND_ASSIGN(std::optional<Entry> none, LookupInTree(root, "nope", mem.source()));
  EXPECT_FALSE(none.has_value());
}

TEST(TreeTest, EmptyDirHasARoot) {
  MemNodes mem;
  ASSERT_OK_AND_ASSIGN(ObjectId root, WriteTree({}, mem.sink()));
  ASSERT_OK_AND_ASSIGN(std::optional<Entry> e, LookupInTree(root, "x", mem.source()));
  EXPECT_FALSE(e.has_value());
  int n = 0;
  ASSERT_OK(ForEachEntry(root, mem.source(), [&](const Entry&) -> Result<bool> {
    ++n;
    return true;
  }));
  EXPECT_EQ(n, 0);
}

class TreeLargeDirTest : public ::testing::Test {
 protected:
  static constexpr int kEntries = 100000;
  void SetUp() override {
    auto r = WriteTree(BigDir(kEntries), mem_.sink());
    ASSERT_OK(r);
    root_ = *r;
  }
  MemNodes mem_;
  ObjectId root_;
};

TEST_F(TreeLargeDirTest, IsSplitIntoPages) {
  EXPECT_GT(mem_.put_order.size(), 10u) << "100k entries must not be one node";
  ASSERT_OK_AND_ASSIGN(TreeNode root, mem_.source()(root_));
  EXPECT_FALSE(root.is_leaf);
  uint64_t total = 0, span = 0;
  for (const auto& c : root.children) {
    total += c.entry_count;
    span += c.span;
  }
  EXPECT_EQ(total, static_cast<uint64_t>(kEntries));
  EXPECT_EQ(span, total) << "files span one inode each";
  for (const auto& [id, bytes] : mem_.nodes) {
    EXPECT_LT(bytes.size(), 1u << 20) << "pages stay small";
  }
}

TEST_F(TreeLargeDirTest, LookupFindsEvery997thName) {
  auto src = mem_.source();
  for (int i = 0; i < kEntries; i += 997) {
    ASSERT_OK_AND_ASSIGN(std::optional<Entry> e, LookupInTree(root_, BigName(i), src));
    ASSERT_TRUE(e.has_value()) << BigName(i);
    EXPECT_EQ(e->name, BigName(i));
    EXPECT_EQ(e->size, static_cast<uint64_t>(i));
  }
  // First and last names, and absent names before, between and after them.
  ASSERT_OK_AND_ASSIGN(std::optional<Entry> first, LookupInTree(root_, BigName(0), src));
  EXPECT_TRUE(first.has_value());
  ASSERT_OK_AND_ASSIGN(std::optional<Entry> last, LookupInTree(root_, BigName(kEntries - 1), src));
  EXPECT_TRUE(last.has_value());
  for (std::string absent : {std::string("a"), std::string("file_"), BigName(500) + "x",
                             BigName(kEntries), std::string("zzz"), std::string("\xff")}) {
    ASSERT_OK_AND_ASSIGN(std::optional<Entry> e, LookupInTree(root_, absent, src));
    EXPECT_FALSE(e.has_value()) << absent;
  }
}

TEST_F(TreeLargeDirTest, ForEachYieldsAllInOrder) {
  int i = 0;
  bool in_order = true;
  ASSERT_OK(ForEachEntry(root_, mem_.source(), [&](const Entry& e) -> Result<bool> {
    in_order = in_order && e.name == BigName(i);
    ++i;
    return true;
  }));
  EXPECT_EQ(i, kEntries);
  EXPECT_TRUE(in_order);
}

TEST_F(TreeLargeDirTest, ForEachStopsEarlyAndPropagatesErrors) {
  int seen = 0;
  ASSERT_OK(ForEachEntry(root_, mem_.source(),
                         [&](const Entry&) -> Result<bool> { return ++seen < 5000; }));
  EXPECT_EQ(seen, 5000);
  seen = 0;
  Status s = ForEachEntry(root_, mem_.source(), [&](const Entry&) -> Result<bool> {
    if (++seen == 10) return Status(StatusCode::kNoSpace, "stop");
    return true;
  });
  EXPECT_EQ(s.code(), StatusCode::kNoSpace);
  EXPECT_EQ(seen, 10);
}

TEST_F(TreeLargeDirTest, MissingPageIsAnErrorNotACrash) {
  ASSERT_OK_AND_ASSIGN(TreeNode root, mem_.source()(root_));
  ASSERT_FALSE(root.is_leaf);
  mem_.nodes.erase(root.children[1].id);
  auto r = LookupInTree(root_, root.children[1].first_name, mem_.source());
  EXPECT_CODE(r, StatusCode::kCorruption);
  Status s = ForEachEntry(root_, mem_.source(), [](const Entry&) -> Result<bool> { return true; });
  EXPECT_CODE(s, StatusCode::kCorruption);
}

TEST_F(TreeLargeDirTest, AddingOneEntryRewritesFewNodes) {
  std::set<ObjectId> before(mem_.put_order.begin(), mem_.put_order.end());
  std::vector<Entry> dir = BigDir(kEntries);
  Entry extra = FileEntry(BigName(54321) + "_new");
  dir.insert(dir.begin() + 54322, extra);
  MemNodes after;
  ASSERT_OK_AND_ASSIGN(ObjectId root2, WriteTree(dir, after.sink()));
  EXPECT_NE(root2, root_);
  size_t changed = 0;
  for (const ObjectId& id : after.put_order) changed += before.count(id) ? 0 : 1;
  EXPECT_GE(changed, 2u) << "the page with the new entry and the root change";
  EXPECT_LE(changed, 4u) << "of " << after.put_order.size() << " nodes";
  ASSERT_OK_AND_ASSIGN(std::optional<Entry> e, LookupInTree(root2, extra.name, after.source()));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(*e, extra);
}

TEST_F(TreeLargeDirTest, WriteTreeIsDeterministic) {
  MemNodes again;
  ASSERT_OK_AND_ASSIGN(ObjectId root2, WriteTree(BigDir(kEntries), again.sink()));
  EXPECT_EQ(root2, root_);
  EXPECT_EQ(again.put_order, mem_.put_order);
}

TEST(TreeTest, SinkErrorsPropagate) {
  NodeSink failing = [](std::string) -> Result<ObjectId> {
    return Status(StatusCode::kNoSpace, "disk full");
  };
  EXPECT_CODE(WriteTree(EveryKind(), failing), StatusCode::kNoSpace);
  EXPECT_CODE(WriteTree(BigDir(5000), failing), StatusCode::kNoSpace);
}

TEST(TreeTest, EntryTypeNames) {
  EXPECT_STREQ(EntryTypeName(EntryType::kFile), "file");
  EXPECT_STREQ(EntryTypeName(EntryType::kDir), "dir");
  EXPECT_STREQ(EntryTypeName(EntryType::kSymlink), "symlink");
}

}  // namespace
}  // namespace keepfs::snapshot
