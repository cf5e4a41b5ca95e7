#include "store/config.h"

#include <gtest/gtest.h>

#include "store/file_util.h"
#include "store/store.h"
#include "tests/testing/test_util.h"

namespace keepfs {
namespace {

TEST(ConfigTest, ParseSizeUnits) {
  EXPECT_EQ(*ParseSize("4096"), 4096u);
  EXPECT_EQ(*ParseSize("256MiB"), 256ull << 20);
  EXPECT_EQ(*ParseSize("1 GiB"), 1ull << 30);
  EXPECT_EQ(*ParseSize("10m"), 10ull << 20);
  EXPECT_EQ(*ParseSize("2T"), 2ull << 40);
  for (const char* bad : {"", "MiB", "12 parsecs", "-5", "99999999999999999999"}) {
    EXPECT_FALSE(ParseSize(bad).ok()) << bad;
  }
}

TEST(ConfigTest, DefaultsWhenSectionsAreMissing) {
  ASSERT_OK_AND_ASSIGN(StoreConfig c, ParseStoreConfig("", "c.toml"));
  EXPECT_EQ(c.compression_level, 3);
  EXPECT_EQ(c.mount.cache_bytes, 256ull << 20);
  EXPECT_FALSE(c.mount.admin_gid.has_value());
  EXPECT_FALSE(c.mount.owner_view);
  EXPECT_EQ(c.mount.deleted_window_sec, 30 * 86400);
  EXPECT_TRUE(c.users.empty());
}

TEST(ConfigTest, RetentionDefaultSectionAndUserOverrides) {
  ASSERT_OK_AND_ASSIGN(StoreConfig none, ParseStoreConfig("", "c.toml"));
  EXPECT_EQ(none.retention, RetentionPolicy::Default()) << "no section: the shipped default";
  EXPECT_EQ(none.RetentionFor("alice"), RetentionPolicy::Default());

  ASSERT_OK_AND_ASSIGN(StoreConfig c, ParseStoreConfig(R"(
[retention]
keep-daily = 7
keep-yearly = -1

[retention.alice]
quota = "20G"
keep-first = true

[retention.bob]
keep-daily = 0
keep-within = "2w"
)", "c.toml"));
  RetentionPolicy d;
  d.keep_daily = 7;
  d.keep_yearly = -1;
  EXPECT_EQ(c.retention, d) << "a section given says all that is on";
  RetentionPolicy alice = d;
  alice.quota_bytes = 20ull << 30;
  alice.keep_first = true;
  EXPECT_EQ(c.RetentionFor("alice"), alice);
  RetentionPolicy bob = d;
  bob.keep_daily = 0;
  bob.keep_within_sec = 14 * 86400;
  EXPECT_EQ(c.RetentionFor("bob"), bob);
  EXPECT_EQ(c.RetentionFor("carol"), d);

  for (const char* bad : {"[retention]\nkeep-montly = 3\n", "[retention]\nkeep-daily = -2\n",
                          "[retention]\nkeep-within = \"6m\"\n", "[retention]\nquota = \"lots\"\n",
                          "[retention.alice]\nkeep-weekly = \"some\"\n", "retention = 3\n"}) {
    auto r = ParseStoreConfig(bad, "c.toml");
    EXPECT_CODE(r, StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("retention"), std::string::npos) << r.status().ToString();
  }
}

TEST(ConfigTest, MountAndUsers) {
  ASSERT_OK_AND_ASSIGN(StoreConfig c, ParseStoreConfig(R"(
[mount]
cache_size = "64MiB"
readahead_chunks = 4
admin_group = 27
owner_view = true
path_cache_seconds = 1.5
deleted_window = "2w"

[users.alice]
uid = 1001
gid = 100

[users.bob]
uid = 1002
)",
                                                         "c.toml"));
  EXPECT_EQ(c.mount.cache_bytes, 64ull << 20);
  EXPECT_EQ(c.mount.readahead_chunks, 4u);
  EXPECT_EQ(c.mount.admin_gid, 27u);
  EXPECT_TRUE(c.mount.owner_view);
  EXPECT_EQ(c.mount.path_cache_seconds, 1.5);
  EXPECT_EQ(c.mount.deleted_window_sec, 14 * 86400);
  ASSERT_OK_AND_ASSIGN(StoreConfig whole, ParseStoreConfig("[mount]\npath_cache_seconds = 2\n", "c"));
  EXPECT_EQ(whole.mount.path_cache_seconds, 2.0) << "an integer is fine too";
  ASSERT_EQ(c.users.size(), 2u);
  EXPECT_EQ(c.users.at("alice").uid, 1001u);
  EXPECT_EQ(c.users.at("alice").gid, 100u);
  EXPECT_EQ(c.users.at("bob").gid, 1002u) << "gid defaults to the uid";
}

TEST(ConfigTest, BadValuesNameTheKey) {
  struct Case {
    const char* text;
    const char* key;
  } cases[] = {
      {"[mount]\ncache_size = \"lots\"\n", "mount.cache_size"},
      {"[mount]\nowner_view = 3\n", "mount.owner_view"},
      {"[mount]\ndeleted_window = \"soon\"\n", "mount.deleted_window"},
      {"[mount]\ndeleted_window = 0\n", "mount.deleted_window"},
      {"[mount]\nadmin_group = \"no-such-group-here\"\n", "mount.admin_group"},
      {"[users.alice]\nuid = -1\n", "users.alice.uid"},
      {"[users.alice]\ngid = 5\n", "users.alice.uid"},
      {"[compression]\nlevel = 40\n", "compression.level"},
      {"[mount\n", "line 1"},
  };
  for (const Case& c : cases) {
    auto r = ParseStoreConfig(c.text, "c.toml");
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.key), std::string::npos) << r.status().message();
  }
}

TEST(ConfigTest, SetUserKeepsTheRestOfTheFileAndReplacesTheOldEntry) {
  testing::TempDir tmp;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> store, testing::InitAndOpen(tmp.Join("s")));
  std::string path = store->dir() + "/config.toml";
  ASSERT_OK_AND_ASSIGN(std::string before, ReadSmallFile(path));
  ASSERT_OK(store->SetUser("alice", {1001, 1001}));
  ASSERT_OK(store->SetUser("bob", {1002, 50}));
  ASSERT_OK(store->SetUser("alice", {2001, 2002}));
  ASSERT_OK_AND_ASSIGN(std::string after, ReadSmallFile(path));
  EXPECT_EQ(after.rfind(before.substr(0, before.size() - 1), 0), 0u)
      << "comments and settings before the users stay as they were:\n" << after;
  EXPECT_EQ(after.find("\n[users.alice]"), after.rfind("\n[users.alice]")) << after;
  StoreConfig c = store->config();
  EXPECT_EQ(c.users.at("alice").uid, 2001u);
  EXPECT_EQ(c.users.at("alice").gid, 2002u);
  EXPECT_EQ(c.users.at("bob").gid, 50u);
  std::string dir = store->dir();
  store.reset();
  ASSERT_OK_AND_ASSIGN(store, Store::Open(dir, OpenMode::kReadOnly));
  EXPECT_EQ(store->config().users.at("alice").uid, 2001u) << "persisted";
}

}  // namespace
}  // namespace keepfs
