// Hostile config values (issue 9, "Bad input at the edges"): the store's
// config.toml and the server's keepfs.toml given wrong types, negative and
// absurd sizes, overflowing numbers, nan, unknown and duplicate keys, huge
// strings; and a config.toml that is empty, a directory, a fifo, a device,
// unreadable or huge. Each is an error that names the file and the key (or
// the line), within a deadline, and nothing stored changes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "store/config.h"
#include "store/file_util.h"
#include "tests/testing/test_util.h"
#include "tests/tools/cli_test_util.h"
#include "tests/tools/hostile_util.h"
#include "tools/server/server_config.h"

namespace keepfs::testing {
namespace {

struct ConfigCase {
  std::string text;
  std::string names;  // what the message must name: the key, or "line N"
};

// Every value here is wrong; each message names the file and what is wrong.
const std::vector<ConfigCase>& StoreConfigCases() {
  static const std::vector<ConfigCase> cases = {
      // Wrong types (toml++ would quietly take true as 1, 2.0 as 2).
      {"[compression]\nlevel = \"5\"\n", "compression.level"},
      {"[compression]\nlevel = 5.5\n", "compression.level"},
      {"[compression]\nlevel = true\n", "compression.level"},
      {"compression = 3\n", "compression must be a table"},
      {"[mount]\nreadahead_chunks = true\n", "mount.readahead_chunks"},
      {"[mount]\nreadahead_chunks = 2.0\n", "mount.readahead_chunks"},
      {"[mount]\nthreads = 4.0\n", "mount.threads"},
      {"[mount]\nowner_view = \"yes\"\n", "mount.owner_view"},
      {"[mount]\npath_cache_seconds = \"1\"\n", "mount.path_cache_seconds"},
      {"[mount]\npath_cache_seconds = nan\n", "mount.path_cache_seconds"},
      {"[mount]\npath_cache_seconds = inf\n", "mount.path_cache_seconds"},
      {"[mount]\npath_cache_seconds = -0.5\n", "mount.path_cache_seconds"},
      {"[mount]\ndeleted_window = 1.5\n", "mount.deleted_window"},
      {"[mount]\nadmin_group = true\n", "mount.admin_group"},
      {"[mount]\nadmin_group = -1\n", "mount.admin_group"},
      {"[mount]\nadmin_group = 99999999999\n", "mount.admin_group"},
      {"[mount]\nprofile = [\"small\"]\n", "mount.profile"},
      {"[users.alice]\nuid = true\n", "users.alice.uid"},
      {"[users.alice]\nuid = 1000.0\n", "users.alice.uid"},
      {"[users.alice]\nuid = \"1000\"\n", "users.alice.uid"},
      {"[users.alice]\nuid = 4294967295\n", "users.alice.uid"},
      {"users = 5\n", "users must be a table"},
      {"[users]\nalice = 5\n", "users.alice must be a table"},
      {"[gc]\nrepack_dead_percent = 50.5\n", "gc.repack_dead_percent"},
      {"[gc]\nundelete_window = -1\n", "gc.undelete_window"},
      {"[gc]\nundelete_window = \"7 days\"\n", "gc.undelete_window"},
      {"[retention]\nkeep-daily = 7.5\n", "retention.keep-daily"},
      {"[retention]\nkeep-daily = -2\n", "keep-daily"},
      {"[retention]\nkeep-first = \"yes\"\n", "keep-first"},
      {"[retention.alice]\nkeep-last = -1\n", "retention.alice"},
      // Negative sizes.
      {"[mount]\ncache_size = -1\n", "mount.cache_size"},
      {"[mount]\nmetadata_cache_size = -1\n", "mount.metadata_cache_size"},
      {"[gc]\nsmall_pack = -4\n", "gc.small_pack"},
      {"[gc]\nmax_repack = \"-8GiB\"\n", "gc.max_repack"},
      {"[retention]\nquota = -5\n", "quota"},
      // Absurd suffixes and overflowing numbers.
      {"[mount]\ncache_size = \"5 parsecs\"\n", "mount.cache_size"},
      {"[mount]\ncache_size = \"1e9\"\n", "mount.cache_size"},
      {"[mount]\ncache_size = \"5PiB\"\n", "mount.cache_size"},
      {"[mount]\ncache_size = \"0x10\"\n", "mount.cache_size"},
      {"[mount]\ncache_size = \"MiB\"\n", "mount.cache_size"},
      {"[mount]\ncache_size = \"99999999999999999999\"\n", "mount.cache_size"},
      {"[mount]\ncache_size = \"20000000TiB\"\n", "mount.cache_size"},
      {"[retention]\nquota = \"99999999999T\"\n", "quota"},
      {"[gc]\nundelete_window = \"9999999999999999999d\"\n", "gc.undelete_window"},
      {"[mount]\ndeleted_window = \"5m\"\n", "mount.deleted_window"},
      {"[mount]\nthreads = 99999999999999999999\n", "line 2"},
      // Unknown keys and tables: a typo must not silently keep a default.
      {"[mount]\ncache_szie = \"1G\"\n", "mount.cache_szie"},
      {"[gc]\nmax_repak = 1\n", "gc.max_repak"},
      {"[compresion]\nlevel = 5\n", "compresion"},
      {"levle = 3\n", "levle"},
      {"[compression]\nlevel = 3\nlevle = 4\n", "compression.levle"},
      {"[store]\nidd = \"x\"\n", "store.idd"},
      {"[chunking]\nmin = 1\n", "chunking.min"},
      {"[users.alice]\nuid = 1\nhome = \"/x\"\n", "users.alice.home"},
      {"[retention]\nkeep-dayly = 7\n", "keep-dayly"},
      // Duplicate keys and tables.
      {"[mount]\nthreads = 4\nthreads = 8\n", "line 3"},
      {"[mount]\nthreads = 4\n[mount]\nthreads = 8\n", "line 3"},
      // Not TOML at all.
      {"\x01\x02\xff\xfe garbage", "line 1"},
  };
  return cases;
}

// The refusal of unknown keys must not refuse a known one: every key of
// every table, as docs/usage.md lists them.
TEST(HostileConfigTest, EveryKnownKeyIsStillAccepted) {
  Result<StoreConfig> r = ParseStoreConfig(R"([store]
format = 1
id = "0123456789abcdef0123456789abcdef"
[chunking]
min_size = 262144
avg_size = 1048576
max_size = 4194304
inline_max = 4096
[compression]
level = 5
[mount]
profile = "small"
cache_size = "16MiB"
metadata_cache_size = "8MiB"
metadata_write_buffer = 8388608
threads = 4
max_inodes = 0
readahead_chunks = 0
admin_group = 0
owner_view = true
path_cache_seconds = 0.5
deleted_window = "14d"
[gc]
undelete_window = 0
repack_dead_percent = 60
repack_low_percent = 20
waste_percent = 10
small_pack = "4MiB"
max_repack = 0
min_free = "1GiB"
[users.alice]
uid = 1000
gid = 1000
[retention]
keep-within = "30d"
keep-last = 3
keep-hourly = 24
keep-daily = 7
keep-weekly = 4
keep-monthly = -1
keep-yearly = 0
keep-first = true
quota = "20G"
[retention.bob]
quota = "none"
)",
                                           "/s/config.toml");
  ASSERT_OK(r);
  EXPECT_EQ(r->compression_level, 5);
  EXPECT_EQ(r->mount.cache_bytes, 16ull << 20);
  EXPECT_EQ(r->mount.readahead_chunks, 0u);
  EXPECT_EQ(r->users.at("alice").uid, 1000u);
  EXPECT_FALSE(r->RetentionFor("bob").quota_bytes.has_value());
  // And the file init writes.
  TempDir dir;
  ASSERT_EQ(RunCli({"init", "--store", dir.Join("s"), "-q"}).code, 0);
  ASSERT_OK_AND_ASSIGN(std::string text, ReadSmallFile(dir.Join("s/config.toml")));
  EXPECT_OK(ParseStoreConfig(text, "config.toml"));
}

TEST(HostileConfigTest, EveryBadStoreConfigValueNamesTheFileAndTheKey) {
  for (const ConfigCase& c : StoreConfigCases()) {
    Result<StoreConfig> r = ParseStoreConfig(c.text, "/s/config.toml");
    ASSERT_FALSE(r.ok()) << "accepted:\n" << c.text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << c.text;
    const std::string& m = r.status().message();
    EXPECT_NE(m.find("/s/config.toml"), std::string::npos) << m;
    EXPECT_NE(m.find(c.names), std::string::npos) << c.text << "\n -> " << m;
    EXPECT_LT(m.size(), 600u) << "one line, not a dump: " << m.substr(0, 200);
  }
}

// Huge values and keys are refused with a message of a sane length: a
// 1 MiB string is not echoed back whole. A group name of 5 MiB crashed the
// process (systemd's NSS module asserts on it) before names were refused by
// length.
TEST(HostileConfigTest, HugeStringsAreRefusedWithAShortMessage) {
  const std::string huge(1 << 20, 'x');
  for (const std::string& text :
       {"[mount]\nadmin_group = \"" + std::string(5 << 20, 'g') + "\"\n",
        "[mount]\nadmin_group = \"" + huge + "\"\n", "[mount]\ncache_size = \"" + huge + "\"\n",
        "[mount]\n" + huge + " = 1\n", "[retention]\nkeep-within = \"" + huge + "\"\n",
        "[users." + huge + "]\nuid = \"x\"\n"}) {
    Result<StoreConfig> r = ParseStoreConfig(text, "/s/config.toml");
    ASSERT_FALSE(r.ok());
    EXPECT_LT(r.status().message().size(), 600u) << r.status().message().substr(0, 300);
  }
  for (const std::string& text :
       {"store = \"/s\"\nmountpoint = \"/m\"\nspool = \"/s\"\n[ingest]\nread_limit = \"" + huge +
            "\"\n",
        "store = \"/s\"\nmountpoint = \"/m\"\nspool = \"/s\"\n[ingest]\nrescan = \"" + huge +
            "\"\n",
        "store = \"/s\"\nmountpoint = \"/m\"\nspool = \"/s\"\n[log]\nlevel = \"" + huge + "\"\n",
        "store = \"/s\"\nmountpoint = \"/m\"\nspool = \"/s\"\n" + huge + " = 1\n"}) {
    Result<server::ServerConfig> r = server::ParseServerConfig(text, "/etc/k.toml");
    ASSERT_FALSE(r.ok());
    EXPECT_LT(r.status().message().size(), 600u) << r.status().message().substr(0, 300);
  }
}

// The server's keepfs.toml: the same kinds of hostile values, each naming
// the file, the line and the key.
TEST(HostileConfigTest, EveryBadServerConfigValueNamesTheFileLineAndKey) {
  const std::string head = "store = \"/s\"\nmountpoint = \"/m\"\nspool = \"/p\"\n";
  const std::vector<ConfigCase> cases = {
      {"store = \"\"\nmountpoint = \"/m\"\nspool = \"/p\"\n", "store"},
      {"store = 5\nmountpoint = \"/m\"\nspool = \"/p\"\n", "store"},
      {head + "[ingest]\nmax_concurrent = 99999999999999999999\n", ":5"},
      {head + "[ingest]\nmax_concurrent = -1\n", "[ingest] max_concurrent"},
      {head + "[ingest]\nmax_concurrent = 1.5\n", "[ingest] max_concurrent"},
      {head + "[ingest]\nmax_concurrent = \"4\"\n", "[ingest] max_concurrent"},
      {head + "[ingest]\nrescan = \"-5min\"\n", "[ingest] rescan"},
      {head + "[ingest]\nrescan = \"1e3s\"\n", "[ingest] rescan"},
      {head + "[ingest]\nrescan = nan\n", "[ingest] rescan"},
      {head + "[ingest]\nread_limit = \"-1MiB/s\"\n", "[ingest] read_limit"},
      {head + "[ingest]\nread_limit = \"10MiB/s/s\"\n", "[ingest] read_limit"},
      {head + "[ingest]\nread_limit = -5\n", "[ingest] read_limit"},
      {head + "[log]\nmax_size = \"99999999999999999999\"\n", "[log] max_size"},
      {head + "[log]\nmax_size = \"5 parsecs\"\n", "[log] max_size"},
      {head + "[schedule]\nscrub_percent = 0\n", "[schedule] scrub_percent"},
      {head + "[schedule]\ngc = \"every 0 hours\"\n", "[schedule] gc"},
      {head + "[schedule]\ngc = \"daily 25:00\"\n", "[schedule] gc"},
      {head + "[ingest]\nnice = 20\n", "[ingest] nice"},
      {head + "[ingest]\nionice = \"best-effort:8\"\n", "[ingest] ionice"},
      {head + "[attention]\nno_backup_days = 99999\n", "[attention] no_backup_days"},
      {head + "[mount]\nthreads = 0\n", "[mount] threads"},
      {head + "[mount]\nthreds = 4\n", "[mount] threds"},
      {head + "[ingest]\nmax_concurrent = 2\nmax_concurrent = 3\n", ":6"},
      {head + "mount = 3\n", "[mount]"},
  };
  for (const ConfigCase& c : cases) {
    Result<server::ServerConfig> r = server::ParseServerConfig(c.text, "/etc/k.toml");
    ASSERT_FALSE(r.ok()) << "accepted:\n" << c.text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    const std::string& m = r.status().message();
    EXPECT_NE(m.find("/etc/k.toml"), std::string::npos) << m;
    EXPECT_NE(m.find(c.names), std::string::npos) << c.text << "\n -> " << m;
  }
}

class HostileStoreConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = dir_.Join("store");
    config_ = store_ + "/config.toml";
    src_ = dir_.Join("src");
    ASSERT_EQ(::mkdir(src_.c_str(), 0755), 0);
    ASSERT_TRUE(WriteFile(src_ + "/a.txt", "a\n").ok());
    ASSERT_EQ(RunCli({"init", "--store", store_, "-q"}).code, 0);
    ASSERT_EQ(RunCli({"backup", "--store", store_, "--user", "alice", "-q", src_}).code, 0);
    ASSERT_OK_AND_ASSIGN(good_, ReadSmallFile(config_));
    digest_ = StoreDigest(store_);
    ASSERT_EQ(digest_.rfind("error", 0), std::string::npos) << digest_;
  }

  // Runs a reading and a writing command against the store as it is now:
  // each fails within its deadline with code and a message naming must_say.
  void ExpectRefused(const std::string& what, int code, const std::string& must_say,
                     const BinaryOptions& options = {}) {
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{KEEPFS_BINARY, "snapshots", "--store", store_},
          std::vector<std::string>{KEEPFS_BINARY, "backup", "--store", store_, "--user", "alice",
                                   "-q", src_}}) {
      BinaryOptions o = options;
      o.timeout_s = 20;
      BinaryRun r = RunBinary(args, dir_.path(), o);
      EXPECT_FALSE(r.timed_out) << what << ": " << args[1] << " hung";
      EXPECT_EQ(r.code, code) << what << ": " << args[1] << ": " << r.err;
      EXPECT_NE(r.err.find(must_say), std::string::npos) << what << ": " << r.err;
      EXPECT_TRUE(r.out.empty()) << what << ": " << r.out;
      EXPECT_LT(r.err.size(), 1000u) << what;
    }
  }

  // Puts the good config back: the store is then exactly as it was.
  void ExpectUntouched(const std::string& what) {
    ::unlink(config_.c_str());
    ::rmdir(config_.c_str());
    ASSERT_OK(WriteFile(config_, good_));
    EXPECT_EQ(StoreDigest(store_), digest_) << what << ": the store changed";
  }

  TempDir dir_;
  std::string store_, config_, src_, good_, digest_;
};

// Values that parse as TOML but are wrong, and keys that do not exist,
// written into a real store: both commands refuse it naming file and key,
// and config.toml is not rewritten.
TEST_F(HostileStoreConfigTest, ABadValueInARealStoreIsRefusedAndNothingChanges) {
  const std::vector<std::pair<std::string, std::string>> edits = {
      {"[mount]\ncache_size = -1\n", "mount.cache_size"},
      {"[mount]\ncache_szie = \"64MiB\"\n", "mount.cache_szie"},
      {"[gc]\nundelete_window = \"forever\"\n", "gc.undelete_window"},
      {"[mount]\npath_cache_seconds = nan\n", "mount.path_cache_seconds"},
  };
  for (const auto& [edit, key] : edits) {
    std::string text = good_;
    size_t at = text.find("[mount]\n");
    ASSERT_NE(at, std::string::npos);
    // Into the existing [mount] table (replacing the key init wrote, if it
    // did), or a new table at the end.
    if (edit.starts_with("[mount]\n")) {
      const std::string line = edit.substr(8), key = line.substr(0, line.find(' '));
      size_t old = text.find("\n" + key + " = ");
      if (old != std::string::npos) text.erase(old + 1, text.find('\n', old + 1) - old);
      text.insert(at + 8, line);
    } else {
      text += "\n" + edit;
    }
    ASSERT_OK(WriteFile(config_, text));
    ExpectRefused(key, 1, key);
    ExpectRefused(key, 1, config_);
    EXPECT_EQ(ReadSmallFile(config_).ok() ? *ReadSmallFile(config_) : "", text) << "rewritten";
    ExpectUntouched(key);
  }
}

// config.toml as something that is not a config: empty, a directory, a fifo
// (which would block a reader for ever), /dev/zero (endless), binary
// garbage, 65 MiB, missing, unreadable. Refused in time, naming the file.
TEST_F(HostileStoreConfigTest, AConfigFileThatIsNoConfigIsRefusedInTime) {
  ASSERT_OK(WriteFile(config_, ""));
  ExpectRefused("empty", 1, "has no [store] id");
  ExpectUntouched("empty");

  ASSERT_EQ(::unlink(config_.c_str()), 0);
  ASSERT_EQ(::mkdir(config_.c_str(), 0755), 0);
  ExpectRefused("a directory", 1, config_);
  ExpectUntouched("a directory");

  ASSERT_EQ(::unlink(config_.c_str()), 0);
  ASSERT_EQ(::mkfifo(config_.c_str(), 0600), 0);
  ExpectRefused("a fifo", 1, "not a regular file");
  ExpectUntouched("a fifo");

  ASSERT_EQ(::unlink(config_.c_str()), 0);
  ASSERT_EQ(::symlink("/dev/zero", config_.c_str()), 0);
  ExpectRefused("/dev/zero", 1, "not a regular file");
  ExpectUntouched("/dev/zero");

  ASSERT_OK(WriteFile(config_, std::string("\x7f"
                                           "ELF\x02\x01\x01\0\0\0",
                                           10) +
                                   RandomBytes(4096, 3)));
  ExpectRefused("garbage", 1, config_);
  ExpectUntouched("garbage");

  ASSERT_OK(WriteFile(config_, good_ + "\n# " + std::string(65 << 20, 'p') + "\n"));
  ExpectRefused("65 MiB", 1, "too large");
  ExpectUntouched("65 MiB");

  ASSERT_EQ(::unlink(config_.c_str()), 0);
  ExpectRefused("missing", 1, "no config.toml");
  ExpectUntouched("missing");

  if (::geteuid() == 0) {
    // Unreadable to the store's owner: the store is nobody's, config.toml
    // root's and 0600.
    ASSERT_EQ(std::system(("chown -R 65534:65534 " + store_).c_str()), 0);
    ASSERT_EQ(::chmod(dir_.path().c_str(), 0755), 0);
    ASSERT_EQ(::chown(config_.c_str(), 0, 0), 0);
    ASSERT_EQ(::chmod(config_.c_str(), 0600), 0);
    BinaryOptions nobody;
    nobody.drop_privileges = true;
    nobody.uid = nobody.gid = 65534;
    ExpectRefused("unreadable", 4, "config.toml", nobody);
    ASSERT_EQ(std::system(("chown -R 0:0 " + store_).c_str()), 0);
    ExpectUntouched("unreadable");
  }
}

// keepfs serve --check-config on keepfs.toml files that are no config: it
// answers in time, exit 1, naming the file.
TEST(HostileServerConfigFileTest, CheckConfigRefusesFilesThatAreNoConfig) {
  TempDir dir;
  const std::string k = dir.Join("keepfs.toml");
  auto check = [&](const std::string& what, const std::string& must_say) {
    BinaryOptions o;
    o.timeout_s = 20;
    BinaryRun r =
        RunBinary({KEEPFS_BINARY, "serve", "--check-config", "--config", k}, dir.path(), o);
    EXPECT_FALSE(r.timed_out) << what;
    EXPECT_EQ(r.code, 1) << what << ": " << r.err;
    EXPECT_NE(r.err.find(must_say), std::string::npos) << what << ": " << r.err;
    EXPECT_LT(r.err.size(), 1000u) << what;
  };
  check("missing", k);
  ASSERT_OK(WriteFile(k, ""));
  check("empty", "store: missing");
  ::unlink(k.c_str());
  ASSERT_EQ(::mkdir(k.c_str(), 0755), 0);
  check("a directory", k);
  ::rmdir(k.c_str());
  ASSERT_OK(WriteFile(k, std::string("\xff\xfe\x00garbage", 10)));
  check("garbage", k + ":1");
  ASSERT_OK(WriteFile(k, "store = \"/s\"\n" + std::string(65 << 20, '#')));
  check("65 MiB", "too large");
  if (::geteuid() == 0) {  // unreadable: root's, 0600, read by nobody
    ASSERT_OK(WriteFile(k, "store = \"/s\"\n"));
    ASSERT_EQ(::chmod(k.c_str(), 0600), 0);
    ASSERT_EQ(::chmod(dir.path().c_str(), 0777), 0);
    BinaryOptions nobody;
    nobody.drop_privileges = true;
    nobody.uid = nobody.gid = 65534;
    nobody.timeout_s = 20;
    BinaryRun r = RunBinary({KEEPFS_BINARY, "serve", "--check-config", "--config", k}, dir.path(),
                            nobody);
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_NE(r.err.find(k + ": cannot read the config file: Permission denied"), std::string::npos)
        << r.err;
  }
}

}  // namespace
}  // namespace keepfs::testing
