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

TEST(ConfigTest, MountProfileSetsTheMemoryDefaults) {
  ASSERT_OK_AND_ASSIGN(StoreConfig none, ParseStoreConfig("", "c.toml"));
  EXPECT_EQ(none.mount.profile, MountProfile::kDefault);
  EXPECT_EQ(none.mount.cache_bytes, 256ull << 20);
  EXPECT_EQ(none.mount.metadata_cache_bytes, 64ull << 20);
  EXPECT_EQ(none.mount.metadata_write_buffer_bytes, 32ull << 20);
  EXPECT_EQ(none.mount.threads, 16u);
  EXPECT_EQ(none.mount.max_inodes, 0u) << "no cap: the default profile is unchanged";

  ASSERT_OK_AND_ASSIGN(StoreConfig def, ParseStoreConfig("[mount]\nprofile = \"default\"\n", "c"));
  EXPECT_EQ(def.mount.cache_bytes, none.mount.cache_bytes);
  EXPECT_EQ(def.mount.max_inodes, 0u);

  ASSERT_OK_AND_ASSIGN(StoreConfig c, ParseStoreConfig(R"(
[mount]
profile = "small"
owner_view = true
)", "c.toml"));
  EXPECT_EQ(c.mount.profile, MountProfile::kSmall);
  EXPECT_EQ(c.mount.cache_bytes, 8ull << 20);
  EXPECT_EQ(c.mount.metadata_cache_bytes, 8ull << 20);
  EXPECT_EQ(c.mount.metadata_write_buffer_bytes, 8ull << 20);
  EXPECT_EQ(c.mount.threads, 4u);
  EXPECT_EQ(c.mount.max_inodes, 16384u);
  EXPECT_TRUE(c.mount.owner_view) << "the profile touches only the memory keys";
  EXPECT_EQ(c.mount.readahead_chunks, 2u);
  EXPECT_STREQ(MountConfig::ProfileName(c.mount.profile), "small");
}

TEST(ConfigTest, MountKeysWinOverTheProfileWhereverTheyStand) {
  ASSERT_OK_AND_ASSIGN(StoreConfig c, ParseStoreConfig(R"(
[mount]
cache_size = "32MiB"
threads = 8
profile = "small"
max_inodes = 50000
metadata_cache_size = "12MiB"
)", "c.toml"));
  EXPECT_EQ(c.mount.cache_bytes, 32ull << 20) << "given before the profile, still wins";
  EXPECT_EQ(c.mount.threads, 8u);
  EXPECT_EQ(c.mount.max_inodes, 50000u);
  EXPECT_EQ(c.mount.metadata_cache_bytes, 12ull << 20);
  EXPECT_EQ(c.mount.metadata_write_buffer_bytes, 8ull << 20) << "not given: the profile's";
  EXPECT_EQ(c.mount.AboveProfile(),
            (std::vector<std::string>{"cache_size = 32 MiB (profile small: 8 MiB)",
                                      "metadata_cache_size = 12 MiB (profile small: 8 MiB)",
                                      "threads = 8 (profile small: 4)",
                                      "max_inodes = 50000 (profile small: 16384)"}));

  ASSERT_OK_AND_ASSIGN(StoreConfig d, ParseStoreConfig(R"(
[mount]
max_inodes = 0
metadata_cache_size = 33554432
)", "c.toml"));
  EXPECT_EQ(d.mount.max_inodes, 0u);
  EXPECT_EQ(d.mount.metadata_cache_bytes, 32ull << 20) << "a number of bytes is fine too";
  EXPECT_TRUE(d.mount.AboveProfile().empty()) << "the default profile has no cap to exceed";
}

TEST(ConfigTest, BadMountMemoryValuesSayWhatIsAllowed) {
  struct Case {
    const char* text;
    const char* message;
  } cases[] = {
      {"[mount]\nprofile = \"tiny\"\n", "mount.profile must be \"default\" or \"small\""},
      {"[mount]\nprofile = 1\n", "mount.profile must be"},
      {"[mount]\nthreads = 0\n", "mount.threads must be 1-256"},
      {"[mount]\nthreads = 300\n", "mount.threads must be 1-256"},
      {"[mount]\nthreads = \"many\"\n", "mount.threads must be 1-256"},
      {"[mount]\nmax_inodes = 10\n", "mount.max_inodes must be 0 (no cap) or at least 1024"},
      {"[mount]\nmax_inodes = -1\n", "mount.max_inodes must be 0"},
      {"[mount]\nmetadata_cache_size = \"100K\"\n", "mount.metadata_cache_size must be at least 1MiB"},
      {"[mount]\nmetadata_cache_size = \"lots\"\n", "mount.metadata_cache_size: 'lots' is not a size"},
      {"[mount]\nmetadata_write_buffer = true\n", "mount.metadata_write_buffer: not a size"},
      {"mount = 3\n", "mount must be a table"},
  };
  for (const Case& c : cases) {
    auto r = ParseStoreConfig(c.text, "c.toml");
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.message), std::string::npos) << r.status().message();
  }
}

TEST(ConfigTest, AStoreWithTheSmallProfileOpens) {
  testing::TempDir tmp;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> store, testing::InitAndOpen(tmp.Join("s")));
  std::string dir = store->dir();
  store.reset();
  ASSERT_OK_AND_ASSIGN(std::string text, ReadSmallFile(dir + "/config.toml"));
  ASSERT_NE(text.find("# profile = \"small\""), std::string::npos) << "init documents the key";
  size_t at = text.find("[mount]\n");
  ASSERT_NE(at, std::string::npos);
  text.insert(at + 8, "profile = \"small\"\n");
  ASSERT_OK(WriteFileAtomic(dir + "/config.toml", text));
  ASSERT_OK_AND_ASSIGN(store, Store::Open(dir, OpenMode::kReadWrite));
  EXPECT_EQ(store->config().mount.profile, MountProfile::kSmall);
  EXPECT_EQ(store->config().mount.metadata_cache_bytes, 8ull << 20);
  EXPECT_EQ(store->config().mount.cache_bytes, 8ull << 20)
      << "init's config gives no cache_size that would win over the profile";
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
