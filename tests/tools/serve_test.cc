// keepfs serve end to end: the real binary, a real FUSE mount, real rsync
// pushes into the spool, real signals. Covers the laptop flow, the ingest
// limit and its queue, keepfs admit, kill -9 during an ingest, SIGTERM
// during gc, the systemd notify protocol, and config errors.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <filesystem>
#include <functional>
#include <thread>

#include "fs/fuse/fuse_mount.h"
#include "fs/mountinfo.h"
#include "store/file_util.h"
#include "tests/testing/mount_util.h"
#include "tests/testing/test_util.h"
#include "tests/tools/cli_test_util.h"

namespace keepfs::testing {
namespace {

using namespace std::chrono_literals;

// In a status --json: whether the server's job name is running.
bool JobRunning(const std::string& status, const std::string& name) {
  size_t at = status.find("{\"name\":\"" + name + "\",\"schedule\":");
  if (at == std::string::npos) return false;
  size_t end = status.find("\"last\":", at);
  return status.substr(at, end - at).find("\"running\":true") != std::string::npos;
}

int Shell(const std::string& cmd) { return std::system(cmd.c_str()); }

void SetMtime(const std::string& path, int64_t t) {
  timespec times[2] = {{t, 0}, {t, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
}

class ServeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = dir_.Join("store");
    spool_ = dir_.Join("spool");
    mnt_ = dir_.Join("mnt");
    config_ = dir_.Join("keepfs.toml");
    log_ = dir_.Join("serve.log");
    ASSERT_EQ(RunCli({"init", "--store", store_, "-q"}).code, 0);
    ASSERT_OK(MakeDirs(spool_));
    ASSERT_OK(MakeDirs(mnt_));
  }
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    (void)fs::Unmount(mnt_, /*lazy=*/true);
    if (HasFailure()) {
      auto log = ReadFile(log_);
      if (log.ok()) std::cerr << "--- serve log ---\n" << *log << "---\n";
    }
  }
  // The minimal config plus extra TOML (tables), every schedule off unless
  // extra sets it.
  void WriteConfig(const std::string& ingest = "", const std::string& schedule = "") {
    std::string text = "store = \"" + store_ + "\"\nmountpoint = \"" + mnt_ + "\"\nspool = \"" +
                       spool_ + "\"\nsocket = \"" + dir_.Join("keepfs.sock") +
                       "\"\n[ingest]\nrescan = \"1min\"\n" + ingest +
                       "\n[schedule]\nprune = \"off\"\ngc = \"off\"\nscrub = \"off\"\n" + schedule +
                       "\n[log]\nlevel = \"debug\"\n";
    ASSERT_OK(WriteFile(config_, text));
  }
  // Starts keepfs serve and waits until its mount answers.
  void Start(const std::vector<std::string>& env = {}) {
    pid_ = ::fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
      ::execl(KEEPFS_BINARY, KEEPFS_BINARY, "serve", "--config", config_.c_str(), nullptr);
      ::_exit(127);
    }
    bool up = WaitFor([&] { return fs::FindMount(mnt_).has_value() || Exited(); }, 20s);
    ASSERT_TRUE(up && !Exited()) << "keepfs serve did not come up";
  }
  bool Exited() {
    int status;
    if (pid_ > 0 && ::waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_status_ = status;
      pid_ = -1;
    }
    return pid_ <= 0;
  }
  // SIGTERM; the exit code (-1 if it did not exit within timeout or died of a signal).
  int Stop(std::chrono::milliseconds timeout = 30s) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    if (!WaitFor([&] { return Exited(); }, timeout)) return -1;
    return WIFEXITED(exit_status_) ? WEXITSTATUS(exit_status_) : -1;
  }
  void KillHard() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
    (void)fs::Unmount(mnt_, /*lazy=*/true);  // the dead mount's endpoint
  }
  std::string StatusJson() {
    CliRun r = RunCli({"status", "--store", store_, "--json"});
    EXPECT_EQ(r.code, 0) << r.err;
    return r.out;
  }
  // A user's spool folder, owned by root (the store maps no uid) and 0755.
  std::string UserSpool(const std::string& user) {
    std::string d = spool_ + "/" + user;
    EXPECT_OK(MakeDirs(d + "/data"));
    ::chmod(d.c_str(), 0755);
    return d;
  }
  // What a laptop does: rsync, then raise the flag.
  void Push(const std::string& src, const std::string& user, int64_t flag_time) {
    std::string d = spool_ + "/" + user;
    ASSERT_EQ(Shell("rsync -a --delete " + src + "/ " + d + "/data/"), 0);
    // The flag appears with its time already set (a flag created now and
    // re-timed after would be a renewed flag: a second push).
    ASSERT_OK(WriteFile(d + "/.done.tmp", ""));
    SetMtime(d + "/.done.tmp", flag_time);
    ASSERT_EQ(::rename((d + "/.done.tmp").c_str(), (d + "/.done").c_str()), 0);
  }
  size_t SnapshotCount(const std::string& user) {
    CliRun r = RunCli({"snapshots", "--store", store_, "--user", user, "--json"});
    if (r.code != 0) return 0;
    size_t n = 0;
    for (size_t p = 0; (p = r.out.find("\"name\":", p)) != std::string::npos; ++p) ++n;
    return n;
  }

  TempDir dir_;
  std::string store_, spool_, mnt_, config_, log_;
  pid_t pid_ = -1;
  int exit_status_ = 0;
};

// The laptop flow: rsync to the spool, flag, snapshot in the mount; push
// again with changes, a second snapshot, and the diff between them is right.
TEST_F(ServeTest, ALaptopPushAppearsInTheMountAndASecondPushDiffsRight) {
  KEEPFS_REQUIRE_FUSE_OR_SKIP();
  if (Shell("command -v rsync >/dev/null") != 0) GTEST_SKIP() << "rsync is not installed";
  WriteConfig();
  UserSpool("alice");
  const std::string src = dir_.Join("laptop");
  ASSERT_OK(MakeDirs(src + "/docs"));
  ASSERT_OK(WriteFile(src + "/docs/report.txt", "draft one\n"));
  ASSERT_OK(WriteFile(src + "/docs/old.txt", "to be deleted\n"));
  ASSERT_OK(WriteFile(src + "/photo.bin", RandomBytes(3 << 20, 5)));
  Start();
  Push(src, "alice", 1790000000);
  ASSERT_TRUE(WaitFor([&] { return !PathExists(spool_ + "/alice/.done"); }, 30s))
      << "the flag was not taken";
  auto got = ReadFile(mnt_ + "/alice/latest/photo.bin");
  ASSERT_OK(got);
  EXPECT_TRUE(*got == RandomBytes(3 << 20, 5));
  EXPECT_EQ(*ReadFile(mnt_ + "/alice/latest/docs/report.txt"), "draft one\n");

  ASSERT_OK(WriteFile(src + "/docs/report.txt", "draft two, longer\n"));
  ASSERT_EQ(::unlink((src + "/docs/old.txt").c_str()), 0);
  ASSERT_OK(WriteFile(src + "/docs/new.txt", "added\n"));
  Push(src, "alice", 1790086400);
  ASSERT_TRUE(WaitFor([&] { return !PathExists(spool_ + "/alice/.done"); }, 30s));
  EXPECT_EQ(*ReadFile(mnt_ + "/alice/latest/docs/report.txt"), "draft two, longer\n");
  EXPECT_TRUE(PathExists(mnt_ + "/alice/2026-09-21_141320/docs/old.txt"))
      << "the first snapshot, named by its flag's time, still holds the deleted file";
  // Commands reach the server through its control socket.
  CliRun diff = RunCli({"diff", "--store", store_, "--user", "alice", "2026-09-21_141320", "latest"});
  ASSERT_EQ(diff.code, 0) << diff.err;
  EXPECT_NE(diff.out.find("+ docs/new.txt"), std::string::npos) << diff.out;
  EXPECT_NE(diff.out.find("- docs/old.txt"), std::string::npos) << diff.out;
  EXPECT_NE(diff.out.find("M docs/report.txt"), std::string::npos) << diff.out;
  EXPECT_EQ(diff.out.find("photo.bin"), std::string::npos) << "unchanged: " << diff.out;
  EXPECT_EQ(SnapshotCount("alice"), 2u);
  EXPECT_EQ(Stop(), 0);
  EXPECT_FALSE(fs::FindMount(mnt_).has_value()) << "SIGTERM unmounts";
}

// Two users push at once with the ingest limit at 1: one runs, the other
// queues (and status shows it); admit turns a third away while the slots
// are taken and lets them in once they are free.
TEST_F(ServeTest, WithTheLimitAtOneASecondPushQueuesAndAdmitSaysBusy) {
  KEEPFS_REQUIRE_FUSE_OR_SKIP();
  // 2 MiB/s over 6 MiB each: about three seconds per ingest.
  WriteConfig("max_concurrent = 1\nadmit_slots = 2\nread_limit = \"2MiB\"\n");
  for (const char* user : {"alice", "bob"}) {
    std::string d = UserSpool(user);
    ASSERT_OK(WriteFile(d + "/data/big", RandomBytes(6 << 20, user[0])));
  }
  Start();
  CliRun ok = RunCli({"admit", "--store", store_, "--user", "carol"});
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(ok.out, "ok\n");
  ASSERT_OK(WriteFile(spool_ + "/alice/.done", ""));
  ASSERT_OK(WriteFile(spool_ + "/bob/.done", ""));
  bool seen = WaitFor(
      [&] {
        std::string s = StatusJson();
        return s.find("\"running\":[{\"user\":") != std::string::npos &&
               s.find("\"queued\":[{\"user\":") != std::string::npos;
      },
      10s);
  EXPECT_TRUE(seen) << "never one running and one queued: " << StatusJson();
  // carol's admission expired? No: it holds its slot, and alice and bob
  // take the rest; dave is turned away.
  CliRun busy = RunCli({"admit", "--store", store_, "--user", "dave"});
  EXPECT_EQ(busy.code, 75) << busy.out << busy.err;
  EXPECT_EQ(busy.out.rfind("busy retry-after=", 0), 0u) << busy.out;
  CliRun again = RunCli({"admit", "--store", store_, "--user", "carol"});
  EXPECT_EQ(again.code, 0) << "a held admission is renewed: " << again.out;
  CliRun text = RunCli({"status", "--store", store_});
  EXPECT_NE(text.out.find("queued"), std::string::npos) << text.out;
  ASSERT_TRUE(WaitFor(
      [&] {
        return !PathExists(spool_ + "/alice/.done") && !PathExists(spool_ + "/bob/.done");
      },
      40s));
  EXPECT_EQ(SnapshotCount("alice"), 1u);
  EXPECT_EQ(SnapshotCount("bob"), 1u);
  EXPECT_EQ(*ReadFile(mnt_ + "/bob/latest/big"), RandomBytes(6 << 20, 'b'));
  CliRun later = RunCli({"admit", "--store", store_, "--user", "dave", "--json"});
  EXPECT_EQ(later.code, 0) << later.out;
  EXPECT_EQ(later.out, "{\"ok\":true,\"retry_after\":0}\n");
  EXPECT_EQ(Stop(), 0);
}

// kill -9 of the server during an ingest: the flag stays, the restarted
// server ingests the push, and there is exactly one snapshot of it.
TEST_F(ServeTest, AKillDuringAnIngestLeavesTheFlagAndTheRestartMakesOneSnapshot) {
  KEEPFS_REQUIRE_FUSE_OR_SKIP();
  WriteConfig("read_limit = \"2MiB\"\n");  // about four seconds of reading
  std::string d = UserSpool("alice");
  ASSERT_OK(WriteFile(d + "/data/big", RandomBytes(8 << 20, 77)));
  ASSERT_OK(WriteFile(d + "/.done", ""));
  SetMtime(d + "/.done", 1790000000);  // raised before the server starts
  Start();
  ASSERT_TRUE(WaitFor([&] { return StatusJson().find("\"running\":[{\"user\":\"alice\"") != std::string::npos; },
                      10s));
  std::this_thread::sleep_for(1s);
  KillHard();
  EXPECT_TRUE(PathExists(d + "/.done")) << "the flag goes only after the commit";
  EXPECT_EQ(SnapshotCount("alice"), 0u) << "nothing half-ingested is visible";
  // Restarted with no limit: the push is taken at once.
  WriteConfig();
  Start();
  ASSERT_TRUE(WaitFor([&] { return !PathExists(d + "/.done"); }, 30s));
  EXPECT_EQ(SnapshotCount("alice"), 1u);
  EXPECT_EQ(*ReadFile(mnt_ + "/alice/2026-09-21_141320/big"), RandomBytes(8 << 20, 77));
  EXPECT_EQ(Stop(), 0);
  CliRun check = RunCli({"check", "--store", store_});
  EXPECT_EQ(check.code, 0) << check.out;
}

// SIGTERM while the scheduled gc repacks: the server stops cleanly, the
// run is recorded as interrupted, the store checks clean, and the next
// start resumes gc and finishes it.
TEST_F(ServeTest, SigtermDuringGcStopsCleanlyAndTheNextStartResumesIt) {
  KEEPFS_REQUIRE_FUSE_OR_SKIP();
  // A pack two thirds dead: gc repacks the live third (4 MiB), at 1 MiB/s.
  ASSERT_OK(WriteFile(store_ + "/config.toml",
                      *ReadFile(store_ + "/config.toml") + "\n[gc]\nundelete_window = \"0s\"\n"));
  const std::string src = dir_.Join("src");
  ASSERT_OK(MakeDirs(src));
  ASSERT_OK(WriteFile(src + "/live", RandomBytes(4 << 20, 1)));
  ASSERT_OK(WriteFile(src + "/dead", RandomBytes(8 << 20, 2)));
  ASSERT_EQ(RunCli({"backup", "--store", store_, "--user", "alice", "-q", src}).code, 0);
  CliRun first = RunCli({"snapshots", "--store", store_, "--user", "alice", "--json"});
  ASSERT_EQ(::unlink((src + "/dead").c_str()), 0);
  ASSERT_EQ(RunCli({"backup", "--store", store_, "--user", "alice", "-q", src}).code, 0);
  size_t at = first.out.find("\"name\":\"");
  ASSERT_NE(at, std::string::npos);
  std::string oldest = first.out.substr(at + 8, first.out.find('"', at + 8) - at - 8);
  ASSERT_EQ(RunCli({"forget", "--store", store_, "--user", "alice", "-q", oldest}).code, 0);

  WriteConfig("", "read_limit = \"1MiB\"\n");
  Start();
  CliRun run = RunCli({"run-job", "--store", store_, "gc"});
  ASSERT_EQ(run.code, 0) << run.err;
  ASSERT_TRUE(WaitFor([&] { return JobRunning(StatusJson(), "gc"); }, 10s)) << StatusJson();
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(Stop(), 0);
  CliRun after = RunCli({"status", "--store", store_, "--json"});
  EXPECT_NE(after.out.find("\"server\":null"), std::string::npos) << after.out;
  EXPECT_NE(after.out.find("{\"name\":\"gc\",\"result\":\"interrupted\""), std::string::npos)
      << after.out;
  CliRun check = RunCli({"check", "--store", store_});
  EXPECT_EQ(check.code, 0) << check.out;

  WriteConfig();  // no limit now
  Start();
  ASSERT_TRUE(WaitFor([&] { return StatusJson().find("\"last\":{\"name\":\"gc\",\"result\":\"ok\"") != std::string::npos; }, 30s))
      << "gc did not resume and finish at the next start: " << StatusJson();
  EXPECT_EQ(Stop(), 0);
  CliRun gc = RunCli({"gc", "--store", store_, "--dry-run", "--json"});
  EXPECT_NE(gc.out.find("\"repacked\":0"), std::string::npos)
      << "the resumed run left nothing to repack: " << gc.out;
  check = RunCli({"check", "--store", store_, "--verify-data"});
  EXPECT_EQ(check.code, 0) << check.out;
}

// systemd's notify protocol: READY=1 once serving, WATCHDOG=1 at half the
// interval, STOPPING=1 on SIGTERM.
TEST_F(ServeTest, TellsSystemdReadyWatchdogAndStopping) {
  KEEPFS_REQUIRE_FUSE_OR_SKIP();
  WriteConfig();
  const std::string sock = dir_.Join("notify.sock");
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(sock.size(), sizeof addr.sun_path);
  std::memcpy(addr.sun_path, sock.c_str(), sock.size() + 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  Start({"NOTIFY_SOCKET=" + sock, "WATCHDOG_USEC=1000000"});
  auto next = [&] {
    char buf[256];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  };
  EXPECT_EQ(next().rfind("READY=1", 0), 0u);
  EXPECT_EQ(next(), "WATCHDOG=1");
  EXPECT_EQ(next(), "WATCHDOG=1");
  ::kill(pid_, SIGTERM);
  std::string m;
  while ((m = next()) == "WATCHDOG=1") {
  }
  EXPECT_EQ(m, "STOPPING=1");
  ASSERT_TRUE(WaitFor([&] { return Exited(); }, 30s));
  EXPECT_TRUE(WIFEXITED(exit_status_) && WEXITSTATUS(exit_status_) == 0) << exit_status_;
  ::close(fd);
}

// Config errors are caught at start, each with a clear message and exit 1,
// before anything is opened or mounted.
TEST_F(ServeTest, ConfigErrorsStopTheStartWithALineNumberedMessage) {
  auto serve = [&](const std::string& text) {
    EXPECT_OK(WriteFile(config_, text));
    return RunCli({"serve", "--config", config_});
  };
  const std::string good = "store = \"" + store_ + "\"\nmountpoint = \"" + mnt_ + "\"\nspool = \"" +
                           spool_ + "\"\n";
  CliRun ok = RunCli({"serve", "--config", (WriteConfig(), config_), "--check-config"});
  EXPECT_EQ(ok.code, 0) << ok.err;

  CliRun bad = serve(good + "[ingest]\nmax_concurrent = = 2\n");
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("keepfs.toml:5"), std::string::npos) << bad.err;

  CliRun unknown = serve(good + "[ingest]\nmax_concurent = 2\n");
  EXPECT_EQ(unknown.code, 1);
  EXPECT_NE(unknown.err.find("keepfs.toml:5"), std::string::npos) << unknown.err;
  EXPECT_NE(unknown.err.find("max_concurent"), std::string::npos) << unknown.err;

  CliRun disk = serve("store = \"" + store_ + "\"\nmountpoint = \"" + mnt_ +
                      "\"\nspool = \"/mnt/keepfs-missing-disk/spool\"\n");
  EXPECT_EQ(disk.code, 1);
  EXPECT_NE(disk.err.find("/mnt/keepfs-missing-disk/spool"), std::string::npos) << disk.err;
  EXPECT_NE(disk.err.find("disk"), std::string::npos) << disk.err;
  EXPECT_FALSE(fs::FindMount(mnt_).has_value());
}

}  // namespace
}  // namespace keepfs::testing
