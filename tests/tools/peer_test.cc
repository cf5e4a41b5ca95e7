// Users' requests through a server's public socket (tools/cli/caller.h,
// docs/server.md "Users on the server"): a real store served by a
// ControlServer in this process, and a real client: the keepfs binary,
// started as a non-root uid. Allowed on their own data, denied (exit 4) on
// anyone else's and for every command that is root's.
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "snapshot/pins.h"
#include "store/file_util.h"
#include "tests/testing/test_util.h"
#include "tests/tools/cli_test_util.h"
#include "tools/cli/cli.h"
#include "tools/cli/control.h"

namespace keepfs::testing {
namespace {

// Uids no account on a test machine is likely to have.
constexpr uint32_t kAlice = 61001, kBob = 61002, kStranger = 61003;
constexpr const char* kTime = "2026-10-01T03:00:00Z";
constexpr const char* kSnap = "2026-10-01_030000";

struct Client {
  int code = -1;
  std::string out, err;
};

class PeerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) {
      GTEST_SKIP() << "needs root: the client must run as other uids, and only root can start "
                      "it so";
    }
    // The clients walk through the temp dir to the socket and their folders.
    ASSERT_EQ(::chmod(dir_.path().c_str(), 0755), 0);
    store_ = dir_.Join("store");
    socket_ = dir_.Join("run/keepfs.sock");
    ASSERT_EQ(RunCli({"init", "--store", store_, "-q"}).code, 0);
    MakeTree("src-alice", {{"a.txt", "alice's a\n"},
                           {"docs/report.txt", RandomBytes(300000, 1)},
                           {"docs/notes.txt", "notes\n"}});
    MakeTree("src-bob", {{"secret.txt", "bob's secret\n"}});
    for (auto [user, src, uid] :
         {std::tuple{"alice", "src-alice", kAlice}, std::tuple{"bob", "src-bob", kBob}}) {
      CliRun b = RunCli(
          {"backup", "--store", store_, "-q", "--user", user, "--time", kTime, dir_.Join(src)});
      ASSERT_EQ(b.code, 0) << b.err;
      CliRun u =
          RunCli({"user", "add", "--store", store_, "-q", user, "--uid", std::to_string(uid)});
      ASSERT_EQ(u.code, 0) << u.err;
    }
    // A pin of bob's, which alice must not see.
    ASSERT_EQ(
        RunCli({"pin", "--store", store_, "-q", "--user", "bob", "latest", "secret.txt"}).code, 0);
    ASSERT_OK_AND_ASSIGN(store, Store::Open(store_, OpenMode::kReadWrite));
    cli::ControlOptions o;
    o.public_socket = socket_;
    ASSERT_OK_AND_ASSIGN(server, cli::ControlServer::Start(store.get(), o));
  }

  void TearDown() override {
    if (server) server->Stop();
  }

  void MakeTree(const std::string& rel,
                const std::vector<std::pair<std::string, std::string>>& files) {
    for (const auto& [path, bytes] : files) {
      std::string full = dir_.Join(rel + "/" + path);
      ASSERT_OK(MakeDirs(full.substr(0, full.rfind('/'))));
      ASSERT_OK(WriteFile(full, bytes));
    }
  }

  // A folder owned by uid (mode 0700), for its restores.
  std::string HomeOf(uint32_t uid, const std::string& name) {
    std::string home = dir_.Join(name);
    EXPECT_EQ(::mkdir(home.c_str(), 0700), 0);
    EXPECT_EQ(::chown(home.c_str(), uid, uid), 0);
    return home;
  }

  // Runs the keepfs binary as uid (gid = uid, no supplementary groups) in
  // cwd, with --socket first, and collects what it printed.
  Client Run(uint32_t uid, std::vector<std::string> args, const std::string& cwd = "/") {
    args.insert(args.begin(), {KEEPFS_BINARY, "--socket", socket_});
    const std::string out_path = dir_.Join("out-" + std::to_string(++runs_));
    const std::string err_path = out_path + ".err";
    // Everything the child needs is built before the fork: a fork of this
    // multi-threaded process may only make system calls until it execs.
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    char* envp[] = {const_cast<char*>("PATH=/usr/bin:/bin"), nullptr};
    pid_t pid = ::fork();
    if (pid == 0) {
      int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (out < 0 || err < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) ::_exit(120);
      if (::setgroups(0, nullptr) != 0 || ::setgid(uid) != 0 || ::setuid(uid) != 0) ::_exit(121);
      if (::chdir(cwd.c_str()) != 0) ::_exit(122);
      ::execve(argv[0], argv.data(), envp);
      ::_exit(123);
    }
    Client c;
    int status = 0;
    if (pid < 0 || ::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
      ADD_FAILURE() << "the client did not exit normally (status " << status << ")";
      return c;
    }
    c.code = WEXITSTATUS(status);
    EXPECT_LT(c.code, 120) << "the client could not be started as uid " << uid;
    c.out = ReadFile(out_path).value();
    c.err = ReadFile(err_path).value();
    return c;
  }

  std::vector<snapshot::Pin> PinsOf(const std::string& user) {
    auto pins = snapshot::ListPins(store.get(), user);
    EXPECT_OK(pins);
    return pins.ok() ? *pins : std::vector<snapshot::Pin>{};
  }

  TempDir dir_;
  std::string store_, socket_;
  std::unique_ptr<Store> store;
  std::unique_ptr<cli::ControlServer> server;
  int runs_ = 0;
};

// What a denial looks like: exit 4, one line that says so.
void ExpectDenied(const Client& c, const std::string& what) {
  EXPECT_EQ(c.code, cli::kExitDenied) << c.err;
  EXPECT_EQ(c.err.rfind("keepfs: permission denied: ", 0), 0u) << c.err;
  EXPECT_NE(c.err.find(what), std::string::npos) << c.err;
  EXPECT_EQ(c.out, "");
}

TEST_F(PeerTest, UserListsTheirOwnSnapshotsAndNobodyElses) {
  Client mine = Run(kAlice, {"snapshots"});
  ASSERT_EQ(mine.code, 0) << mine.err;
  EXPECT_NE(mine.out.find("alice"), std::string::npos) << mine.out;
  EXPECT_NE(mine.out.find(kSnap), std::string::npos) << mine.out;
  EXPECT_EQ(mine.out.find("bob"), std::string::npos) << mine.out;
  Client json = Run(kAlice, {"snapshots", "--json"});
  ASSERT_EQ(json.code, 0) << json.err;
  EXPECT_NE(json.out.find("\"user\":\"alice\""), std::string::npos) << json.out;
  EXPECT_EQ(json.out.find("bob"), std::string::npos) << json.out;
  Client deleted = Run(kAlice, {"snapshots", "--deleted"});
  EXPECT_EQ(deleted.code, 0) << deleted.err;
  ExpectDenied(Run(kAlice, {"snapshots", "--user", "bob"}), "--user bob is not you");
  // Browsing their own snapshot works; bob's is denied before it is looked at.
  Client ls = Run(kAlice, {"ls", "latest", "docs"});
  ASSERT_EQ(ls.code, 0) << ls.err;
  EXPECT_NE(ls.out.find("docs/report.txt"), std::string::npos) << ls.out;
  Client cat = Run(kAlice, {"cat", "--user", "alice", "latest", "a.txt"});
  EXPECT_EQ(cat.code, 0) << cat.err;
  EXPECT_EQ(cat.out, "alice's a\n");
  Client diff = Run(kAlice, {"diff", "latest", "latest"});
  EXPECT_EQ(diff.code, 0) << diff.err;
  ExpectDenied(Run(kAlice, {"cat", "--user", "bob", "latest", "secret.txt"}), "--user bob");
  ExpectDenied(Run(kAlice, {"ls", "--user", "bob", "latest"}), "--user bob");
  ExpectDenied(Run(kAlice, {"diff", "--user", "bob", "latest", "latest"}), "--user bob");
}

TEST_F(PeerTest, UserSeesTheirOwnUsageAndPins) {
  Client usage = Run(kAlice, {"usage"});
  ASSERT_EQ(usage.code, 0) << usage.err;
  EXPECT_EQ(usage.out.rfind("alice: 1 snapshots", 0), 0u) << usage.out;
  EXPECT_EQ(usage.out.find("bob"), std::string::npos) << usage.out;
  EXPECT_EQ(Run(kAlice, {"usage", "--user", "alice", "--json"}).code, 0);
  ExpectDenied(Run(kAlice, {"usage", "--user", "bob"}), "--user bob is not you");
  ExpectDenied(Run(kAlice, {"usage", "--sharing"}), "usage --sharing is for root");
  Client pins = Run(kAlice, {"pins"});
  EXPECT_EQ(pins.code, 0) << pins.err;
  EXPECT_EQ(pins.out.find("bob"), std::string::npos) << pins.out;
  EXPECT_EQ(pins.out.find("secret"), std::string::npos) << pins.out;
  ExpectDenied(Run(kAlice, {"pins", "--user", "bob"}), "--user bob");
  Client bobs = Run(kBob, {"pins"});
  EXPECT_EQ(bobs.code, 0) << bobs.err;
  EXPECT_NE(bobs.out.find("secret.txt"), std::string::npos) << "bob sees his own pin: " << bobs.out;
}

TEST_F(PeerTest, UserPinsAndUnpinsInTheirOwnSnapshotsOnly) {
  Client pin = Run(kAlice, {"pin", "latest", "docs"});
  ASSERT_EQ(pin.code, 0) << pin.err;
  std::vector<snapshot::Pin> pins = PinsOf("alice");
  ASSERT_EQ(pins.size(), 1u);
  EXPECT_EQ(pins[0].snapshot, kSnap);
  EXPECT_EQ(pins[0].path, "docs");
  EXPECT_EQ(pins[0].by_uid, kAlice) << "the pin records who asked, not the server";
  Client unpin = Run(kAlice, {"unpin", "--user", "alice", "latest", "docs"});
  ASSERT_EQ(unpin.code, 0) << unpin.err;
  EXPECT_TRUE(PinsOf("alice").empty());

  ExpectDenied(Run(kAlice, {"pin", "--user", "bob", "latest", "/"}), "--user bob");
  ExpectDenied(Run(kAlice, {"unpin", "--user", "bob", "latest", "secret.txt"}), "--user bob");
  ASSERT_EQ(PinsOf("bob").size(), 1u) << "bob's pin is untouched";
  EXPECT_EQ(PinsOf("bob")[0].path, "secret.txt");
}

TEST_F(PeerTest, EverythingElseIsRootsAndSaysWhatTheUserMayDo) {
  Client gc = Run(kAlice, {"gc"});
  ExpectDenied(gc,
               "gc is for root; as alice you may: snapshots, ls, cat, diff, versions, deleted, usage, "
               "pins, pin, unpin, restore, admit");
  ExpectDenied(Run(kAlice, {"backup", "--user", "alice", "/etc"}), "backup is for root");
  ExpectDenied(Run(kAlice, {"user", "add", "alice", "--uid", "0"}), "user add is for root");
  ExpectDenied(Run(kAlice, {"forget", "--user", "bob", "latest"}), "forget is for root");
  ExpectDenied(Run(kAlice, {"prune", "--user", "alice"}), "prune is for root");
  ExpectDenied(Run(kAlice, {"check"}), "check is for root");
  ExpectDenied(Run(kAlice, {"store-backup", dir_.Join("copy")}), "store-backup is for root");
  ExpectDenied(Run(kAlice, {"spool-ingest", dir_.path()}), "spool-ingest is for root");
  EXPECT_FALSE(PathExists(dir_.Join("copy")));
  // Nothing of it ran: still one snapshot each, bob's included.
  ASSERT_OK_AND_ASSIGN(auto a, snapshot::ListPins(store.get(), "bob"));
  EXPECT_EQ(a.size(), 1u);
  Client after = Run(0, {"snapshots", "--user", "bob"});
  ASSERT_EQ(after.code, 0) << after.err;
  EXPECT_NE(after.out.find(kSnap), std::string::npos) << after.out;
}

TEST_F(PeerTest, AUidThatIsNoUserIsToldWhomToAsk) {
  for (auto args : {std::vector<std::string>{"snapshots"}, {"usage"}, {"gc"}}) {
    ExpectDenied(Run(kStranger, args),
                 "uid 61003 is no user of this store; ask the admin to run 'keepfs user add NAME "
                 "--uid 61003'");
  }
}

TEST_F(PeerTest, RootMayStillDoEverything) {
  Client all = Run(0, {"snapshots"});
  ASSERT_EQ(all.code, 0) << all.err;
  EXPECT_NE(all.out.find("alice"), std::string::npos);
  EXPECT_NE(all.out.find("bob"), std::string::npos);
  EXPECT_EQ(Run(0, {"cat", "--user", "bob", "latest", "secret.txt"}).out, "bob's secret\n");
  Client usage = Run(0, {"usage", "--sharing"});
  EXPECT_EQ(usage.code, 0) << usage.err;
  Client gc = Run(0, {"gc", "--dry-run"});
  EXPECT_EQ(gc.code, 0) << gc.err;
  Client pin = Run(0, {"pin", "--user", "alice", "latest", "a.txt"});
  EXPECT_EQ(pin.code, 0) << pin.err;
  EXPECT_EQ(PinsOf("alice").size(), 1u);
  // A --store that is not the served store is refused, not run on the wrong one.
  Client other = Run(0, {"--store", dir_.path(), "snapshots"});
  EXPECT_EQ(other.code, cli::kExitError) << other.err;
  EXPECT_NE(other.err.find("serves the store"), std::string::npos) << other.err;
  Client same = Run(0, {"--store", store_, "snapshots", "--user", "bob"});
  EXPECT_EQ(same.code, 0) << same.err;
}

TEST_F(PeerTest, RestoreWritesWithTheUsersRightsAndMakesTheFilesTheirs) {
  const std::string home = HomeOf(kAlice, "home-alice");
  // DEST relative to the client's working directory.
  Client r = Run(kAlice, {"restore", "latest", "restored"}, home);
  ASSERT_EQ(r.code, 0) << r.err;
  for (const auto& [path, bytes] : {std::pair<std::string, std::string>{"a.txt", "alice's a\n"},
                                    {"docs/report.txt", RandomBytes(300000, 1)},
                                    {"docs/notes.txt", "notes\n"}}) {
    ASSERT_OK_AND_ASSIGN(std::string got, ReadFile(home + "/restored/" + path));
    EXPECT_TRUE(got == bytes) << path;
  }
  for (const char* path :
       {"restored", "restored/docs", "restored/a.txt", "restored/docs/report.txt"}) {
    struct stat st;
    ASSERT_EQ(::lstat((home + "/" + path).c_str(), &st), 0) << path;
    EXPECT_EQ(st.st_uid, kAlice) << path;
    EXPECT_EQ(st.st_gid, kAlice) << path;
  }
  // One path of it, into a folder that exists.
  Client one = Run(kAlice, {"restore", "latest:docs/notes.txt", home});
  ASSERT_EQ(one.code, 0) << one.err;
  EXPECT_EQ(ReadFile(home + "/notes.txt").value(), "notes\n");
}

TEST_F(PeerTest, RestoreWhereTheUserMayNotWriteFailsAndWritesNothing) {
  const std::string root_dir = dir_.Join("roots");
  ASSERT_EQ(::mkdir(root_dir.c_str(), 0755), 0);
  // Into the folder itself, and into a new folder in it.
  for (const std::string& dest : {root_dir, root_dir + "/new"}) {
    Client r = Run(kAlice, {"restore", "latest", dest});
    EXPECT_EQ(r.code, cli::kExitDenied) << r.err;
    EXPECT_NE(r.err.find("Permission denied"), std::string::npos) << r.err;
  }
  EXPECT_TRUE(std::filesystem::is_empty(root_dir)) << "nothing written";
  // Another user's folder is no better.
  const std::string bobs = HomeOf(kBob, "home-bob");
  Client r = Run(kAlice, {"restore", "latest", bobs + "/x"});
  EXPECT_EQ(r.code, cli::kExitDenied) << r.err;
  EXPECT_TRUE(std::filesystem::is_empty(bobs));
  // And bob's snapshot is not alice's to restore, even into her own folder.
  const std::string home = HomeOf(kAlice, "home-alice");
  ExpectDenied(Run(kAlice, {"restore", "--user", "bob", "latest", home + "/b"}), "--user bob");
  EXPECT_TRUE(std::filesystem::is_empty(home));
}

// The public socket is never taken from a live server, a leftover of a dead
// one is replaced, and a directory others could write is refused.
TEST_F(PeerTest, APublicSocketIsTheServersAlone) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> other, InitAndOpen(dir_.Join("other")));
  cli::ControlOptions o;
  o.public_socket = socket_;
  auto second = cli::ControlServer::Start(other.get(), o);
  ASSERT_CODE(second, StatusCode::kBusy);
  EXPECT_NE(second.status().message().find("another keepfs server serves " + socket_ + " (pid " +
                                           std::to_string(::getpid()) + ")"),
            std::string::npos)
      << second.status().message();
  EXPECT_EQ(Run(kAlice, {"snapshots"}).code, 0) << "the first one still serves";

  server->Stop();
  EXPECT_FALSE(PathExists(socket_)) << "removed when the server stops";
  // A dead server's socket file: bound, never unlinked.
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::close(fd);
  ASSERT_TRUE(PathExists(socket_));
  ASSERT_OK_AND_ASSIGN(auto taken, cli::ControlServer::Start(other.get(), o));
  EXPECT_EQ(Run(kAlice, {"snapshots"}).code, cli::kExitDenied)
      << "the other store's server answers now (alice is nobody there)";
  taken->Stop();

  ASSERT_OK(WriteFile(socket_, "not a socket"));
  ASSERT_CODE(cli::ControlServer::Start(other.get(), o), StatusCode::kAlreadyExists);
  EXPECT_TRUE(PathExists(socket_)) << "left alone";

  const std::string open_dir = dir_.Join("open");
  ASSERT_EQ(::mkdir(open_dir.c_str(), 0777), 0);
  ASSERT_EQ(::chmod(open_dir.c_str(), 01777), 0);
  o.public_socket = open_dir + "/keepfs.sock";
  auto in_open = cli::ControlServer::Start(other.get(), o);
  ASSERT_CODE(in_open, StatusCode::kPermissionDenied);
  EXPECT_NE(in_open.status().message().find("may be written by others"), std::string::npos)
      << in_open.status().message();
  EXPECT_FALSE(PathExists(o.public_socket));
}

}  // namespace
}  // namespace keepfs::testing
