#include "tools/server/server_config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <time.h>

#include <cstdlib>
#include <filesystem>

#include "store/file_util.h"
#include "tests/testing/test_util.h"

namespace keepfs::server {
namespace {

using keepfs::testing::TempDir;

// Text checks that print the whole message when they fail.
::testing::AssertionResult StartsWith(const std::string& text, const std::string& prefix) {
  if (text.starts_with(prefix)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "'" << text << "'\n does not start with\n'" << prefix << "'";
}
::testing::AssertionResult Contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << text << "'\n does not contain\n'" << part << "'";
}

constexpr const char* kMinimal = R"(store = "/srv/keepfs/store"
mountpoint = "/backups"
spool = "/srv/spool"
)";

// The message of a config that must not parse.
std::string ParseError(const std::string& text) {
  Result<ServerConfig> c = ParseServerConfig(text, "k.toml");
  EXPECT_FALSE(c.ok()) << text;
  if (c.ok()) return "";
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument) << c.status().ToString();
  return c.status().message();
}

Schedule S(std::string_view text) {
  Result<Schedule> s = Schedule::Parse(text);
  EXPECT_TRUE(s.ok()) << text << ": " << s.status().ToString();
  return s.ok() ? *s : Schedule{};
}

TEST(ServerConfigTest, TheMinimalConfigGetsEveryDefault) {
  ASSERT_OK_AND_ASSIGN(ServerConfig c, ParseServerConfig(kMinimal, "k.toml"));
  EXPECT_EQ(c.path, "k.toml");
  EXPECT_EQ(c.store, "/srv/keepfs/store");
  EXPECT_EQ(c.mountpoint, "/backups");
  EXPECT_EQ(c.spool, "/srv/spool");
  EXPECT_EQ(c.socket, "/run/keepfs/keepfs.sock");
  EXPECT_EQ(c.mount_threads, 16u);
  EXPECT_EQ(c.ingest.max_concurrent, 1u);
  EXPECT_EQ(c.ingest.rescan_sec, 60);
  EXPECT_EQ(c.ingest.admit_slots, 0u);
  EXPECT_EQ(c.ingest.AdmitSlots(), 2u);
  EXPECT_EQ(c.ingest.admit_lease_sec, 3600);
  for (const Priority* p : {&c.ingest.priority, &c.schedule.priority}) {
    EXPECT_EQ(p->nice, 10);
    EXPECT_EQ(p->ionice_class, "idle");
    EXPECT_EQ(p->ionice_level, 7);
    EXPECT_EQ(p->read_bytes_per_sec, 0u);
  }
  EXPECT_EQ(c.schedule.prune, (Schedule{Schedule::Every::kDaily, 0, 1, 0}));
  EXPECT_EQ(c.schedule.gc, (Schedule{Schedule::Every::kDaily, 0, 2, 0}));
  EXPECT_EQ(c.schedule.scrub, (Schedule{Schedule::Every::kWeekly, 0, 3, 0}));
  EXPECT_EQ(c.schedule.scrub_percent, 10);
  EXPECT_EQ(c.schedule.store_backup.every, Schedule::Every::kOff);
  EXPECT_EQ(c.schedule.store_backup_dest, "");
  EXPECT_EQ(c.log.file, "");
  EXPECT_EQ(c.log.max_bytes, 10ull << 20);
  EXPECT_EQ(c.log.max_files, 5u);
  EXPECT_EQ(c.log.level, "info");
  EXPECT_EQ(c.attention_no_backup_days, 3u);
  EXPECT_EQ(c.lines.at("store"), 1);
  EXPECT_EQ(c.lines.at("spool"), 3);
  EXPECT_EQ(c.Where("mountpoint"), "k.toml:2: mountpoint");
  EXPECT_EQ(c.Where("log.file"), "k.toml: [log] file") << "a key not given has no line";
}

TEST(ServerConfigTest, ACompleteConfigSetsEveryKey) {
  ASSERT_OK_AND_ASSIGN(ServerConfig c, ParseServerConfig(R"(store = "/a/store"
mountpoint = "/a/mnt"
spool = "/a/spool"
socket = "/a/run/keepfs.sock"

[mount]
threads = 32

[ingest]
max_concurrent = 3
rescan = "5min"
admit_slots = 8
admit_lease = "2h"
nice = 5
ionice = "best-effort:2"
read_limit = "50MiB/s"

[schedule]
prune = "hourly :20"
gc = "daily 04:45"
scrub = "weekly Wednesday 23:10"
scrub_percent = 25
store_backup = "weekly sat 05:00"
store_backup_dest = "/mnt/copy/keepfs"
nice = 19
ionice = "none"
read_limit = 1048576

[log]
file = "/var/log/keepfs/server.log"
max_size = "1GiB"
max_files = 9
level = "debug"

[attention]
no_backup_days = 14
)",
                                                         "k.toml"));
  EXPECT_EQ(c.store, "/a/store");
  EXPECT_EQ(c.mountpoint, "/a/mnt");
  EXPECT_EQ(c.spool, "/a/spool");
  EXPECT_EQ(c.socket, "/a/run/keepfs.sock");
  EXPECT_EQ(c.mount_threads, 32u);
  EXPECT_EQ(c.ingest.max_concurrent, 3u);
  EXPECT_EQ(c.ingest.rescan_sec, 300);
  EXPECT_EQ(c.ingest.admit_slots, 8u);
  EXPECT_EQ(c.ingest.AdmitSlots(), 8u);
  EXPECT_EQ(c.ingest.admit_lease_sec, 7200);
  EXPECT_EQ(c.ingest.priority, (Priority{5, "best-effort", 2, 50ull << 20}));
  EXPECT_EQ(c.schedule.prune, (Schedule{Schedule::Every::kHourly, 0, 0, 20}));
  EXPECT_EQ(c.schedule.gc, (Schedule{Schedule::Every::kDaily, 0, 4, 45}));
  EXPECT_EQ(c.schedule.scrub, (Schedule{Schedule::Every::kWeekly, 3, 23, 10}));
  EXPECT_EQ(c.schedule.scrub_percent, 25);
  EXPECT_EQ(c.schedule.store_backup, (Schedule{Schedule::Every::kWeekly, 6, 5, 0}));
  EXPECT_EQ(c.schedule.store_backup_dest, "/mnt/copy/keepfs");
  EXPECT_EQ(c.schedule.priority, (Priority{19, "none", 7, 1048576}));
  EXPECT_EQ(c.log.file, "/var/log/keepfs/server.log");
  EXPECT_EQ(c.log.max_bytes, 1ull << 30);
  EXPECT_EQ(c.log.max_files, 9u);
  EXPECT_EQ(c.log.level, "debug");
  EXPECT_EQ(c.attention_no_backup_days, 14u);
  EXPECT_EQ(c.Where("schedule.store_backup_dest"), "k.toml:24: [schedule] store_backup_dest");
  EXPECT_EQ(c.Where("log.level"), "k.toml:33: [log] level");
}

TEST(ServerConfigTest, ReadLimitAndPlainBestEffortForms) {
  ASSERT_OK_AND_ASSIGN(ServerConfig c, ParseServerConfig(std::string(kMinimal) + R"(
[ingest]
ionice = "Best-Effort"
read_limit = "0"
[schedule]
read_limit = "4M"
)",
                                                         "k.toml"));
  EXPECT_EQ(c.ingest.priority, (Priority{10, "best-effort", 7, 0}));
  EXPECT_EQ(c.schedule.priority.read_bytes_per_sec, 4ull << 20);
}

TEST(ServerConfigTest, ASyntaxErrorNamesItsLine) {
  std::string m = ParseError("store = \"/s\"\nmountpoint = \"/m\"\n\nspool = /srv/spool\n");
  EXPECT_TRUE(StartsWith(m, "k.toml:4: syntax error: "));
  EXPECT_TRUE(Contains(m, "; fix that line"));
  EXPECT_TRUE(
      StartsWith(ParseError(std::string(kMinimal) + "[log]\nlevel = \"info\"\nlevel = \"warn\"\n"),
                 "k.toml:6: syntax error: "))
      << "a key given twice";
}

TEST(ServerConfigTest, AnUnknownKeyOrTableNamesItsLineAndTheKnownOnes) {
  EXPECT_EQ(ParseError(std::string(kMinimal) + "\n[ingest]\nrescan = \"1h\"\nmax_concurent = 2\n"),
            "k.toml:7: [ingest] max_concurent: unknown key; the keys of [ingest] are: "
            "max_concurrent, rescan, admit_slots, admit_lease, nice, ionice, read_limit");
  EXPECT_EQ(ParseError(std::string(kMinimal) + "[mounts]\nthreads = 4\n"),
            "k.toml:4: [mounts]: unknown table; the tables are: [mount], [ingest], [schedule], "
            "[log], [attention]");
  EXPECT_EQ(ParseError("stor = \"/s\"\n" + std::string(kMinimal)),
            "k.toml:1: stor: unknown top-level key; the top-level keys are: store, mountpoint, "
            "spool, socket");
  EXPECT_EQ(ParseError(std::string(kMinimal) + "[schedule.gc]\nat = 1\n"),
            "k.toml:4: [schedule] gc: is a table, not a string; write it in double quotes");
  EXPECT_EQ(ParseError(std::string(kMinimal) + "log = 5\n"),
            "k.toml:4: [log]: must be a table, not an integer; write [log] on a line of its own "
            "and its keys below it");
}

TEST(ServerConfigTest, AMissingRequiredKeyShowsTheMinimalConfig) {
  EXPECT_EQ(ParseError("mountpoint = \"/m\"\nspool = \"/s\"\n"),
            "k.toml: store: missing; the minimal config is store = \"...\", mountpoint = "
            "\"...\", spool = \"...\" (docs/config.md)");
  EXPECT_TRUE(
      StartsWith(ParseError("store = \"/s\"\nmountpoint = \"/m\"\n"), "k.toml: spool: missing;"));
  EXPECT_EQ(ParseError("store = \"\"\nmountpoint = \"/m\"\nspool = \"/s\"\n"),
            "k.toml:1: store: is empty; give a path");
}

// Each bad value, alone in its section on line 5, and what its message must say.
TEST(ServerConfigTest, EachOutOfRangeOrMistypedValueNamesTheAllowedValues) {
  struct Case {
    const char* section;
    const char* line;
    const char* message;  // after "k.toml:5: "
  };
  const Case kCases[] = {
      {"mount", "threads = 0",
       "[mount] threads: 0 is out of range; use a whole number from 1 to 256"},
      {"mount", "threads = 257",
       "[mount] threads: 257 is out of range; use a whole number from 1 to 256"},
      {"mount", "threads = \"16\"",
       "[mount] threads: is a string, not a whole number; write a whole number from 1 to 256, "
       "without quotes"},
      {"mount", "threads = 1.5",
       "[mount] threads: is a fractional number, not a whole number; write a whole number from 1 "
       "to 256"},
      {"ingest", "max_concurrent = 0",
       "[ingest] max_concurrent: 0 is out of range; use a whole number from 1 to 64"},
      {"ingest", "max_concurrent = 65",
       "[ingest] max_concurrent: 65 is out of range; use a whole number from 1 to 64"},
      {"ingest", "rescan = \"0s\"",
       "[ingest] rescan: 0s is out of range; use a duration from 1s to 1y"},
      {"ingest", "rescan = \"soon\"",
       "[ingest] rescan: \"soon\" is not a duration; use a duration from 1s to 1y: a number with "
       "one of s, min, h, d, w, y, e.g. \"1min\""},
      {"ingest", "admit_slots = 1025",
       "[ingest] admit_slots: 1025 is out of range; use a whole number from 0 to 1024"},
      {"ingest", "admit_lease = 0",
       "[ingest] admit_lease: 0s is out of range; use a duration from 1s to 1y"},
      {"ingest", "nice = 20", "[ingest] nice: 20 is out of range; use a whole number from 0 to 19"},
      {"ingest", "nice = -1", "[ingest] nice: -1 is out of range; use a whole number from 0 to 19"},
      {"ingest", "ionice = \"best-effort:8\"",
       "[ingest] ionice: \"best-effort:8\" is not an I/O class; use \"none\", \"idle\", "
       "\"best-effort\" or \"best-effort:N\" with N from 0 (highest) to 7 (lowest)"},
      {"ingest", "ionice = \"realtime\"",
       "[ingest] ionice: \"realtime\" is not an I/O class; use \"none\", \"idle\", \"best-effort\" "
       "or \"best-effort:N\" with N from 0 (highest) to 7 (lowest)"},
      {"ingest", "read_limit = \"lots\"",
       "[ingest] read_limit: \"lots\" is not a size; use a size such as \"10MiB\" (units KiB, MiB, "
       "GiB, TiB) or a number of bytes"},
      {"ingest", "read_limit = -1",
       "[ingest] read_limit: -1 is negative; use a size such as \"10MiB\" (units KiB, MiB, GiB, "
       "TiB) or a number of bytes"},
      {"schedule", "scrub_percent = 0",
       "[schedule] scrub_percent: 0 is out of range; use a whole number from 1 to 100"},
      {"schedule", "scrub_percent = 101",
       "[schedule] scrub_percent: 101 is out of range; use a whole number from 1 to 100"},
      {"schedule", "gc = \"sometimes\"",
       "[schedule] gc: 'sometimes' is not a schedule: unknown repetition 'sometimes'; write off, "
       "hourly :MM, daily HH:MM or weekly DAY HH:MM (e.g. \"weekly sun 03:00\")"},
      {"schedule", "nice = 99",
       "[schedule] nice: 99 is out of range; use a whole number from 0 to 19"},
      {"log", "max_files = 0",
       "[log] max_files: 0 is out of range; use a whole number from 1 to 100"},
      {"log", "max_files = 101",
       "[log] max_files: 101 is out of range; use a whole number from 1 to 100"},
      {"log", "max_size = \"100\"",
       "[log] max_size: 100 bytes is too small; use at least 1024 bytes"},
      {"log", "level = \"verbose\"",
       "[log] level: \"verbose\" is not a log level; use one of trace, debug, info, warn, error"},
      {"attention", "no_backup_days = 0",
       "[attention] no_backup_days: 0 is out of range; use a whole number from 1 to 3650"},
      {"attention", "no_backup_days = 3651",
       "[attention] no_backup_days: 3651 is out of range; use a whole number from 1 to 3650"},
  };
  for (const Case& c : kCases) {
    std::string text = std::string(kMinimal) + "[" + c.section + "]\n" + c.line + "\n";
    EXPECT_EQ(ParseError(text), std::string("k.toml:5: ") + c.message) << c.line;
  }
}

TEST(ServerConfigTest, ValuesThatOnlyTogetherAreWrong) {
  EXPECT_EQ(ParseError(std::string(kMinimal) + "[schedule]\nstore_backup = \"daily 05:00\"\n"),
            "k.toml:5: [schedule] store_backup: \"daily 05:00\" needs store_backup_dest, the "
            "directory to copy the store into; add store_backup_dest = \"/mnt/DISK/keepfs-store\" "
            "to [schedule], or set store_backup = \"off\"");
  EXPECT_EQ(ParseError(std::string(kMinimal) + "[ingest]\nmax_concurrent = 4\nadmit_slots = 3\n"),
            "k.toml:6: [ingest] admit_slots: 3 is below max_concurrent (4), which it includes; "
            "raise it, or write 0 for 2 x max_concurrent");
}

// A server's file tree: a store, a mountpoint, a spool, the config in etc/.
class ServerConfigLoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* d : {"etc", "disk1/store", "mnt", "disk1/spool", "disk3"}) {
      ASSERT_OK(MakeDirs(P(d)));
    }
    ASSERT_OK(keepfs::testing::WriteFile(P("disk1/store/config.toml"), "[store]\n"));
  }
  // Writes etc/keepfs.toml with the three keys (as given) and more.
  std::string Write(const std::string& store, const std::string& spool,
                    const std::string& more = "") {
    std::string path = P("etc/keepfs.toml");
    std::string text = "store = \"" + store + "\"\nmountpoint = \"" + P("mnt") + "\"\nspool = \"" +
                       spool + "\"\n" + more;
    EXPECT_OK(keepfs::testing::WriteFile(path, text));
    return path;
  }
  std::string LoadError(const std::string& path) {
    Result<ServerConfig> c = LoadServerConfig(path);
    EXPECT_FALSE(c.ok());
    if (c.ok()) return "";
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument) << c.status().ToString();
    return c.status().message();
  }
  // tmp_'s path as LoadServerConfig writes resolved paths: normalised.
  std::string P(std::string_view rel) const {
    return std::filesystem::path(tmp_.Join(rel)).lexically_normal().string();
  }
  TempDir tmp_;
};

TEST_F(ServerConfigLoadTest, RelativePathsAreResolvedAgainstTheConfigsDirectory) {
  std::string path = Write("../disk1/store", "../disk1/./spool/",
                           "[schedule]\nstore_backup = \"weekly sun 04:00\"\n"
                           "store_backup_dest = \"../disk3/copy\"\n"
                           "[log]\nfile = \"keepfs.log\"\n");
  ASSERT_OK_AND_ASSIGN(ServerConfig c, LoadServerConfig(path));
  EXPECT_EQ(c.store, P("disk1/store"));
  EXPECT_EQ(c.mountpoint, P("mnt"));
  EXPECT_EQ(c.spool, P("disk1/spool"));
  EXPECT_EQ(c.schedule.store_backup_dest, P("disk3/copy"));
  EXPECT_EQ(c.log.file, P("etc/keepfs.log"));
}

TEST_F(ServerConfigLoadTest, ASpoolOnADiskNotMountedSaysSo) {
  std::string spool = P("disk2/spool");
  std::string path = Write(P("disk1/store"), spool);
  EXPECT_EQ(LoadError(path),
            path + ":3: spool: " + spool +
                " does not exist (is its disk mounted?); create it or fix the path");
}

TEST_F(ServerConfigLoadTest, AStoreThatIsNotAKeepfsStoreIsRefused) {
  std::string store = P("disk1");
  std::string path = Write(store, P("disk1/spool"));
  EXPECT_EQ(LoadError(path), path + ":1: store: " + store +
                                 " is not a keepfs store (it has no config.toml); fix the path, "
                                 "or create a store there with keepfs init --store " +
                                 store);
  path = Write(P("disk9/store"), P("disk1/spool"));
  EXPECT_TRUE(StartsWith(LoadError(path), path + ":1: store: " + P("disk9/store") +
                                              " does not exist (is its disk mounted?); "));
}

TEST_F(ServerConfigLoadTest, AMountpointThatIsAFileIsRefused) {
  ASSERT_OK(keepfs::testing::WriteFile(P("file"), "x"));
  std::string path = P("etc/keepfs.toml");
  ASSERT_OK(keepfs::testing::WriteFile(
      path, "store = \"../disk1/store\"\nmountpoint = \"../file\"\nspool = \"../disk1/spool\"\n"));
  EXPECT_EQ(LoadError(path),
            path + ":2: mountpoint: " + P("file") + " is not a directory; fix the path");
}

TEST_F(ServerConfigLoadTest, AStoreBackupDestOnADiskNotMountedSaysSo) {
  std::string path = Write(P("disk1/store"), P("disk1/spool"),
                           "[schedule]\nstore_backup = \"daily 05:00\"\n"
                           "store_backup_dest = \"/nonexistent-disk/keepfs/copy\"\n");
  EXPECT_EQ(LoadError(path), path +
                                 ":6: [schedule] store_backup_dest: /nonexistent-disk/keepfs "
                                 "does not exist (is its disk mounted?); create it or fix the "
                                 "path of /nonexistent-disk/keepfs/copy");
}

TEST_F(ServerConfigLoadTest, AMissingConfigFileNamesItsPath) {
  std::string path = P("etc/nothere.toml");
  std::string m = LoadError(path);
  EXPECT_TRUE(StartsWith(m, path + ": cannot read the config file: No such file or directory; "));
  EXPECT_TRUE(Contains(m, "--config"));
}

TEST(ScheduleTest, ParseAcceptsEachFormAndDescribeRoundTrips) {
  struct Case {
    const char* text;
    Schedule want;
    const char* described;
  };
  using E = Schedule::Every;
  const Case kCases[] = {
      {"off", {E::kOff, 0, 0, 0}, "off"},
      {"hourly", {E::kHourly, 0, 0, 0}, "hourly :00"},
      {"hourly :15", {E::kHourly, 0, 0, 15}, "hourly :15"},
      {"daily 02:30", {E::kDaily, 0, 2, 30}, "daily 02:30"},
      {"  Daily   7:05 ", {E::kDaily, 0, 7, 5}, "daily 07:05"},
      {"weekly sun 03:00", {E::kWeekly, 0, 3, 0}, "weekly sun 03:00"},
      {"WEEKLY Saturday 23:59", {E::kWeekly, 6, 23, 59}, "weekly sat 23:59"},
      {"weekly thu 00:00", {E::kWeekly, 4, 0, 0}, "weekly thu 00:00"},
  };
  for (const Case& c : kCases) {
    Schedule s = S(c.text);
    EXPECT_EQ(s, c.want) << c.text;
    EXPECT_EQ(s.Describe(), c.described) << c.text;
    EXPECT_EQ(S(s.Describe()), s) << c.text;
  }
}

TEST(ScheduleTest, ParseRejectsWhatIsNotASchedule) {
  for (const char* bad :
       {"", "sometimes", "daily 25:00", "daily 02:60", "daily 2:3", "daily", "daily 0230",
        "weekly xyz 01:00", "weekly sun", "weekly 03:00 sun", "hourly 15", "hourly :75",
        "hourly :5", "off now", "daily 02:30 extra", "monthly 1 02:00"}) {
    Result<Schedule> s = Schedule::Parse(bad);
    EXPECT_CODE(s, StatusCode::kInvalidArgument) << "'" << bad << "'";
    if (!s.ok()) {
      EXPECT_TRUE(Contains(s.status().message(), "weekly DAY HH:MM")) << bad;
    }
  }
  EXPECT_TRUE(
      Contains(Schedule::Parse("daily 25:00").status().message(), "the hour must be 00-23"));
  EXPECT_TRUE(Contains(Schedule::Parse("weekly xyz 01:00").status().message(),
                       "the day must be one of sun mon tue wed thu fri sat"));
}

// Sets TZ for one test and puts the old value back.
class ScheduleTimeTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (old_)
      setenv("TZ", old_->c_str(), 1);
    else
      unsetenv("TZ");
    tzset();
  }
  void SetZone(const char* zone) {
    const char* was = getenv("TZ");
    if (was && !old_) old_ = std::string(was);
    setenv("TZ", zone, 1);
    tzset();
  }
  static int64_t Utc(int y, int mon, int d, int h, int min) {
    struct tm t {};
    t.tm_year = y - 1900;
    t.tm_mon = mon - 1;
    t.tm_mday = d;
    t.tm_hour = h;
    t.tm_min = min;
    return timegm(&t);
  }
  static struct tm Local(int64_t t) {
    time_t tt = static_cast<time_t>(t);
    struct tm out {};
    localtime_r(&tt, &out);
    return out;
  }
  std::optional<std::string> old_;
};

TEST_F(ScheduleTimeTest, NextAfterInUtc) {
  SetZone("UTC");
  EXPECT_EQ(S("off").NextAfter(Utc(2024, 1, 1, 0, 0)), std::nullopt);
  Schedule hourly = S("hourly :15");
  EXPECT_EQ(hourly.NextAfter(Utc(2024, 1, 1, 10, 20)), Utc(2024, 1, 1, 11, 15));
  EXPECT_EQ(hourly.NextAfter(Utc(2024, 1, 1, 10, 14) + 59), Utc(2024, 1, 1, 10, 15));
  EXPECT_EQ(hourly.NextAfter(Utc(2024, 1, 1, 10, 15)), Utc(2024, 1, 1, 11, 15)) << "strictly after";
  EXPECT_EQ(hourly.NextAfter(Utc(2024, 12, 31, 23, 30)), Utc(2025, 1, 1, 0, 15));

  Schedule daily = S("daily 02:30");
  EXPECT_EQ(daily.NextAfter(Utc(2024, 1, 1, 1, 0)), Utc(2024, 1, 1, 2, 30));
  EXPECT_EQ(daily.NextAfter(Utc(2024, 1, 1, 2, 30)), Utc(2024, 1, 2, 2, 30)) << "strictly after";
  EXPECT_EQ(daily.NextAfter(Utc(2024, 2, 28, 23, 0)), Utc(2024, 2, 29, 2, 30)) << "leap day";

  // 2024-01-01 is a Monday.
  Schedule weekly = S("weekly sun 03:00");
  EXPECT_EQ(weekly.NextAfter(Utc(2024, 1, 1, 12, 0)), Utc(2024, 1, 7, 3, 0));
  EXPECT_EQ(weekly.NextAfter(Utc(2024, 1, 7, 2, 59)), Utc(2024, 1, 7, 3, 0));
  EXPECT_EQ(weekly.NextAfter(Utc(2024, 1, 7, 3, 0)), Utc(2024, 1, 14, 3, 0)) << "a week on";
  EXPECT_EQ(S("weekly mon 00:00").NextAfter(Utc(2024, 1, 1, 0, 0)), Utc(2024, 1, 8, 0, 0));
}

TEST_F(ScheduleTimeTest, NextAfterAcrossDaylightSavingInBerlin) {
  if (!PathExists("/usr/share/zoneinfo/Europe/Berlin")) {
    GTEST_SKIP() << "no tzdata for Europe/Berlin (/usr/share/zoneinfo/Europe/Berlin)";
  }
  SetZone("Europe/Berlin");
  // Spring forward 2024-03-31 02:00 CET -> 03:00 CEST; back 2024-10-27 03:00 CEST -> 02:00 CET.
  // daily 01:00 stays at 01:00 local: 23 h across the spring day, 25 h across the autumn one.
  for (auto [start, step] : {std::pair{Utc(2024, 3, 29, 12, 0), 23 * 3600},
                             std::pair{Utc(2024, 10, 25, 12, 0), 25 * 3600}}) {
    Schedule daily = S("daily 01:00");
    int64_t t = start;
    std::vector<int64_t> gaps;
    for (int i = 0; i < 4; ++i) {
      std::optional<int64_t> next = daily.NextAfter(t);
      ASSERT_TRUE(next.has_value());
      ASSERT_GT(*next, t);
      struct tm l = Local(*next);
      EXPECT_EQ(l.tm_hour, 1);
      EXPECT_EQ(l.tm_min, 0);
      if (i > 0) gaps.push_back(*next - t);
      t = *next;
    }
    EXPECT_EQ(gaps, (std::vector<int64_t>{86400, step, 86400})) << start;
  }
  // 02:30 does not exist on 2024-03-31: due at 03:30 CEST, the instant 02:30 CET would have been.
  Schedule gap = S("daily 02:30");
  EXPECT_EQ(gap.NextAfter(Utc(2024, 3, 30, 12, 0)), Utc(2024, 3, 31, 1, 30));
  EXPECT_EQ(gap.NextAfter(Utc(2024, 3, 31, 1, 30)), Utc(2024, 4, 1, 0, 30));
  // 02:30 happens twice on 2024-10-27: hourly is due at both, daily once.
  Schedule hourly = S("hourly :30");
  int64_t t = Utc(2024, 10, 27, 0, 0);  // 02:00 CEST
  std::vector<int64_t> runs;
  for (int i = 0; i < 3; ++i) {
    std::optional<int64_t> next = hourly.NextAfter(t);
    ASSERT_TRUE(next.has_value());
    ASSERT_GT(*next, t);
    EXPECT_EQ(Local(*next).tm_min, 30);
    runs.push_back(t = *next);
  }
  EXPECT_EQ(runs, (std::vector<int64_t>{Utc(2024, 10, 27, 0, 30), Utc(2024, 10, 27, 1, 30),
                                        Utc(2024, 10, 27, 2, 30)}));
  EXPECT_EQ(gap.NextAfter(Utc(2024, 10, 26, 12, 0)), Utc(2024, 10, 27, 1, 30)) << "once";
  EXPECT_EQ(gap.NextAfter(Utc(2024, 10, 27, 1, 30)), Utc(2024, 10, 28, 1, 30));
}

TEST_F(ScheduleTimeTest, NextAfterIsAlwaysLaterAndNeverStuck) {
  SetZone("UTC");
  // A walk of a year through every kind: each answer is later than the last.
  for (const char* text : {"hourly :59", "daily 00:00", "weekly sat 23:59"}) {
    Schedule s = S(text);
    int64_t t = Utc(2023, 12, 31, 23, 59);
    for (int i = 0; i < 400; ++i) {
      std::optional<int64_t> next = s.NextAfter(t);
      ASSERT_TRUE(next.has_value());
      ASSERT_GT(*next, t) << text;
      t = *next;
    }
  }
}

}  // namespace
}  // namespace keepfs::server
