#include "snapshot/catalog.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/testing/test_util.h"

namespace keepfs::snapshot {
namespace {

constexpr int64_t k20261001_0300 = 1790823600;  // 2026-10-01T03:00:00Z
constexpr int64_t k20261001 = 1790812800;       // 2026-10-01T00:00:00Z

TEST(CatalogTest, FormatSnapshotName) {
  struct Case {
    int64_t time;
    uint32_t seq;
    const char* name;
  };
  const Case cases[] = {
      {k20261001_0300, 0, "2026-10-01_030000"},
      {k20261001_0300, 1, "2026-10-01_030000_1"},
      {k20261001_0300, 2, "2026-10-01_030000_2"},
      {k20261001_0300 + 3599, 0, "2026-10-01_035959"},
      {0, 0, "1970-01-01_000000"},
      {951782400, 12, "2000-02-29_000000_12"},  // leap day
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(FormatSnapshotName(c.time, c.seq), c.name);
    int64_t t = -1;
    uint32_t seq = 99;
    ASSERT_OK(ParseSnapshotName(c.name, &t, &seq));
    EXPECT_EQ(t, c.time);
    EXPECT_EQ(seq, c.seq);
  }
}

TEST(CatalogTest, ParseSnapshotNameRejectsMalformed) {
  const char* bad[] = {
      "",
      "latest",
      "2026-10-01",
      "2026-10-01_03000",   // too short
      "2026-10-01T030000",  // wrong separator
      "2026/10/01_030000",
      "2026-10-01_030000_",   // empty seq
      "2026-10-01_030000_0",  // seq starts at 1
      "2026-10-01_030000_x",
      "2026-10-01_030000-2",
      "2026-10-01_030000_99999999999",  // over u32
      "2026-02-31_000000",              // no such day
      "2026-13-01_000000",
      "2026-10-01_250000",
      "2026-10-01_036000",
      "2026-10-01_030000 ",
  };
  for (const char* name : bad) {
    int64_t t;
    uint32_t seq;
    EXPECT_CODE(ParseSnapshotName(name, &t, &seq), StatusCode::kInvalidArgument) << name;
  }
}

TEST(CatalogTest, ParseUtcTimeAcceptedForms) {
  struct Case {
    const char* text;
    int64_t time;
  };
  const Case cases[] = {
      {"2026-10-01T03:00:00Z", k20261001_0300},
      {"2026-10-01T03:00:00", k20261001_0300},
      {"2026-10-01 03:00:00", k20261001_0300},
      {"2026-10-01", k20261001},
      {"2026-10-01_030000", k20261001_0300},
      {"2026-10-01_030000_3", k20261001_0300},
      {"1970-01-01T00:00:00Z", 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    ASSERT_OK_AND_ASSIGN(int64_t t, ParseUtcTime(c.text));
    EXPECT_EQ(t, c.time);
  }
}

TEST(CatalogTest, ParseUtcTimeRejects) {
  const char* bad[] = {
      "",
      "garbage",
      "2026-02-31",  // no such day
      "2026-02-30T00:00:00Z",
      "2026-04-31 12:00:00",
      "2026-13-01",
      "2026-10-01T25:00:00Z",
      "2026-10-01T03:00:00Zjunk",
      "2026-10-01x",
      "yesterday",
  };
  for (const char* text : bad) {
    EXPECT_CODE(ParseUtcTime(text), StatusCode::kInvalidArgument) << text;
  }
}

TEST(CatalogTest, FormatUtcTime) {
  EXPECT_EQ(FormatUtcTime(k20261001_0300), "2026-10-01 03:00:00");
  EXPECT_EQ(FormatUtcTime(0), "1970-01-01 00:00:00");
  ASSERT_OK_AND_ASSIGN(int64_t t, ParseUtcTime(FormatUtcTime(k20261001_0300 + 61)));
  EXPECT_EQ(t, k20261001_0300 + 61);
}

TEST(CatalogTest, ValidateUserName) {
  for (const char* ok : {"alice", "bob_2", "a.b", "_svc", "0day", "a-b",
                         "abcdefghijklmnopqrstuvwxyz012345"}) {  // 32 chars
    EXPECT_OK(ValidateUserName(ok)) << ok;
  }
  for (const char* bad : {"", "Alice", "../x", ".x", "-x", "a/b", "a b", "bob\xff",
                          "abcdefghijklmnopqrstuvwxyz0123456"}) {  // 33 chars
    EXPECT_CODE(ValidateUserName(bad), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_CODE(ValidateUserName(std::string("a\0b", 3)), StatusCode::kInvalidArgument);
}

TEST(CatalogTest, KeysHaveDistinctPrefixes) {
  ObjectId id = Sha256::Of("x");
  std::string tree = TreeKey(id), content = ContentKey(id);
  EXPECT_EQ(tree.size(), 33u);
  EXPECT_EQ(content.size(), 33u);
  EXPECT_NE(tree[0], content[0]);
  EXPECT_EQ(tree.substr(1), id.AsBytes());
  EXPECT_EQ(SnapshotKey("alice", "n")[0], kSnapshotPrefix[0]);
  EXPECT_EQ(UserKey("alice")[0], kUserPrefix[0]);
  for (char c : {tree[0], content[0], kSnapshotPrefix[0], kUserPrefix[0],
                 FilesCachePrefix("alice", "/src")[0]}) {
    EXPECT_NE(c, 'c') << "'c' belongs to the chunk index";
    EXPECT_NE(c, 'p') << "'p' belongs to the pack index";
    EXPECT_NE(c, 'V') << "'V' is the store record";
  }
}

TEST(CatalogTest, SnapshotPrefixSeparatesUsers) {
  std::string bob = SnapshotPrefix("bob");
  EXPECT_EQ(SnapshotKey("bob", "2026-10-01_030000").rfind(bob, 0), 0u);
  EXPECT_NE(SnapshotKey("bobby", "2026-10-01_030000").rfind(bob, 0), 0u)
      << "bob's prefix must not match bobby's snapshots";
  // Within a user, keys sort like names.
  EXPECT_LT(SnapshotKey("bob", "2026-10-01_030000"), SnapshotKey("bob", "2026-10-01_030000_1"));
}

TEST(CatalogTest, FilesCachePrefixDependsOnUserAndSource) {
  EXPECT_EQ(FilesCachePrefix("alice", "/src"), FilesCachePrefix("alice", "/src"));
  EXPECT_NE(FilesCachePrefix("alice", "/src"), FilesCachePrefix("alice", "/other"));
  EXPECT_NE(FilesCachePrefix("alice", "/src"), FilesCachePrefix("bob", "/src"));
  EXPECT_NE(FilesCachePrefix("al", "/src").rfind(FilesCachePrefix("a", "/src"), 0), 0u);
}

}  // namespace
}  // namespace keepfs::snapshot
