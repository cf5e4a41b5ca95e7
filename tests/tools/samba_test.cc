// Windows "Previous Versions" over Samba, end to end (docs/nas.md, "Samba"):
// three real backups of alice's folder, the real keepfs binary mounting the
// store, a real smbd on loopback serving the shares of docs/nas.md with
// vfs_shadow_copy2 pointed at the mount's snapshot folders, and smbclient
// asking what Explorer asks: the snapshots of a file (`allinfo`, which sends
// FSCTL_SRV_ENUMERATE_SNAPSHOTS and opens the file at each) and the file at
// one of them (an `@GMT-` path). Needs root (system users, smbd) and FUSE;
// without the samba and smbclient packages the tests skip, and with
// KEEPFS_REQUIRE_SAMBA=1 (as in .ci/run) they fail instead.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "fs/fuse/fuse_mount.h"
#include "fs/mountinfo.h"
#include "store/file_util.h"
#include "tests/testing/mount_util.h"
#include "tests/testing/test_util.h"
#include "tests/tools/cli_test_util.h"
#include "tests/tools/samba_server.h"

namespace keepfs::testing {
namespace {

using namespace std::chrono_literals;

// System accounts only these tests use; a lock keeps two runs (ctest -j, or
// another worktree) from sharing them.
constexpr const char* kAlice = "keepfs_smb_alice";
constexpr const char* kBob = "keepfs_smb_bob";
constexpr const char* kAlicePw = "alice-pw-1";
constexpr const char* kBobPw = "bob-pw-2";
constexpr const char* kLock = "/tmp/keepfs_samba_test.lock";

// Three backups a day apart, and the tokens Samba makes of their names.
constexpr const char* kTimes[] = {"2026-11-01T03:00:00Z", "2026-11-02T03:00:00Z",
                                  "2026-11-03T03:00:00Z"};
const std::string kGmt1 = "@GMT-2026.11.01-03.00.00";
const std::string kGmt2 = "@GMT-2026.11.02-03.00.00";
const std::string kGmt3 = "@GMT-2026.11.03-03.00.00";

// report.txt in each backup, and as alice left it after the third.
const std::string kReport[] = {"report, first draft\n", "report, second draft, longer\n",
                               "report, third\n"};
const std::string kToday = "report, today's edit\n";
const std::string kOld = "deleted after the first backup\n";
const std::string kNew = "added before the second backup\n";
const std::string kForeign = "owned by a laptop's uid, mode 0600\n";

// What `allinfo` says about a file's snapshots, in its order: each @GMT
// token of the share, and whether the file is in that snapshot (smbclient
// prints the file's times below the token when it is, and an error on
// stderr when it is not).
using Listing = std::vector<std::pair<std::string, bool>>;
Listing Snapshots(const std::string& allinfo) {
  Listing l;
  std::istringstream in(allinfo);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("@GMT-", 0) == 0) l.emplace_back(line, false);
    if (!l.empty() && line.rfind("create_time:", 0) == 0) l.back().second = true;
  }
  return l;
}

bool Has(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

std::string ReadOrEmpty(const std::string& path) {
  auto r = ReadFile(path);
  return r.ok() ? *r : "";
}

class SambaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why = ::geteuid() != 0 ? "needs root: system users and smbd" : SambaUnavailable();
    if (why.empty() && (FindProgram("useradd").empty() || FindProgram("userdel").empty())) {
      why = "useradd or userdel missing";
    }
    if (!why.empty()) {
      const char* req = std::getenv("KEEPFS_REQUIRE_SAMBA");
      if (req && std::string(req) == "1") FAIL() << "Samba is required here: " << why;
      GTEST_SKIP() << "no Samba: " << why;
    }
    KEEPFS_REQUIRE_FUSE_OR_SKIP();
    // smbd's children run as alice and walk through the temp dir.
    ASSERT_EQ(::chmod(dir_.path().c_str(), 0755), 0);
    runs_ = dir_.Join("runs");
    ASSERT_OK(MakeDirs(runs_));
    lock_fd_ = ::open(kLock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    ASSERT_GE(lock_fd_, 0);
    ASSERT_TRUE(WaitFor([&] { return ::flock(lock_fd_, LOCK_EX | LOCK_NB) == 0; }, 120s))
        << "another run holds " << kLock;
    ASSERT_NO_FATAL_FAILURE(MakeUser(kAlice));
    ASSERT_NO_FATAL_FAILURE(MakeUser(kBob));
    ASSERT_NO_FATAL_FAILURE(BackUpThreeTimes());
    ASSERT_NO_FATAL_FAILURE(Mount());
    ASSERT_NO_FATAL_FAILURE(StartSamba());
  }

  void TearDown() override {
    if (samba_) {
      EXPECT_TRUE(samba_->Stop()) << "smbd or one of its children outlived SIGKILL";
    }
    if (mount_pid_ > 0) {
      ::kill(mount_pid_, SIGTERM);  // keepfs mount -f unmounts and exits
      if (!WaitFor([&] { return ::waitpid(mount_pid_, nullptr, WNOHANG) == mount_pid_; }, 20s)) {
        ADD_FAILURE() << "keepfs mount did not exit on SIGTERM";
        ::kill(mount_pid_, SIGKILL);
        ::waitpid(mount_pid_, nullptr, 0);
        // Only the dead daemon's endpoint is left; a failure here leaves nothing to do.
        fs::Unmount(mnt_, /*lazy=*/true).IgnoreError();
      }
    }
    for (const auto& user : users_) {
      ProgramRun r = RunProgram({FindProgram("userdel"), user}, runs_);
      EXPECT_EQ(r.code, 0) << "userdel " << user << ": " << r.err;
    }
    if (lock_fd_ >= 0) ::close(lock_fd_);
    if (HasFailure() && samba_) {
      std::cerr << "--- smbd log ---\n"
                << samba_->Log() << "--- mount log ---\n"
                << ReadOrEmpty(dir_.Join("mount.log")) << "---\n";
    }
  }

  // Creates the system account (no home, no login), first removing one that a
  // killed run left behind; TearDown removes it.
  void MakeUser(const std::string& name) {
    if (::getpwnam(name.c_str()) != nullptr) {
      ASSERT_EQ(RunProgram({FindProgram("userdel"), name}, runs_).code, 0) << "stale " << name;
    }
    ProgramRun r = RunProgram({FindProgram("useradd"), "--system", "--no-create-home", "--shell",
                               "/usr/sbin/nologin", "--user-group", name},
                              runs_);
    ASSERT_EQ(r.code, 0) << "useradd " << name << ": " << r.err;
    users_.push_back(name);
  }

  std::string Live(const std::string& rel) const { return live_ + "/" + rel; }

  // alice's folder on the NAS, owned by her, backed up three times with
  // report.txt changed before each backup and once more after the last.
  void BackUpThreeTimes() {
    store_ = dir_.Join("store");
    live_ = dir_.Join("nas/alice");
    ASSERT_EQ(RunCli({"init", "--store", store_, "-q"}).code, 0);
    const passwd* pw = ::getpwnam(kAlice);
    ASSERT_NE(pw, nullptr);
    const uid_t uid = pw->pw_uid;
    const gid_t gid = pw->pw_gid;
    CliRun add = RunCli({"user", "add", "--store", store_, "-q", "alice", "--uid",
                         std::to_string(uid), "--gid", std::to_string(gid)});
    ASSERT_EQ(add.code, 0) << add.err;
    ASSERT_OK(MakeDirs(dir_.Join("nas")));
    ASSERT_OK(MakeDirs(live_ + "/docs", 0700));
    ASSERT_EQ(::chmod(live_.c_str(), 0700), 0);
    for (const std::string& d : {live_, live_ + "/docs"}) {
      ASSERT_EQ(::chown(d.c_str(), uid, gid), 0);
    }
    // Pushed from a laptop: stored with an owner the server does not know.
    ASSERT_OK(WriteFile(Live("foreign.txt"), kForeign, 0600));
    ASSERT_EQ(::chown(Live("foreign.txt").c_str(), 61099, 61099), 0);
    for (int i = 0; i < 3; ++i) {
      ASSERT_OK(WriteFile(Live("report.txt"), kReport[i]));
      if (i == 0) {
        ASSERT_OK(WriteFile(Live("old.txt"), kOld));
      }
      if (i == 1) {
        ASSERT_EQ(::unlink(Live("old.txt").c_str()), 0);
        ASSERT_OK(WriteFile(Live("docs/new.txt"), kNew));
      }
      for (const char* f : {"report.txt", "old.txt", "docs/new.txt"}) {
        (void)::chown(Live(f).c_str(), uid, gid);  // the ones absent now: ENOENT, nothing to own
      }
      CliRun b = RunCli(
          {"backup", "--store", store_, "-q", "--user", "alice", "--time", kTimes[i], live_});
      ASSERT_EQ(b.code, 0) << b.err;
    }
    ASSERT_OK(WriteFile(Live("report.txt"), kToday));
    // Samba checks a file's mode and owner itself before it opens it; the
    // mount would let alice read foreign.txt, Samba would not without this.
    const std::string config = store_ + "/config.toml";
    ASSERT_OK_AND_ASSIGN(std::string text, ReadFile(config));
    size_t at = text.find("owner_view = false");
    ASSERT_NE(at, std::string::npos) << text;
    text.replace(at, 18, "owner_view = true");
    ASSERT_OK(WriteFile(config, text));
  }

  // The real binary in the foreground, so TearDown can end it by its pid.
  void Mount() {
    mnt_ = dir_.Join("mnt");
    ASSERT_OK(MakeDirs(mnt_));
    std::string why;
    mount_pid_ = StartMountProcess(KEEPFS_BINARY, store_, mnt_, dir_.Join("mount.log"), &why);
    ASSERT_GT(mount_pid_, 0) << why;
  }

  // The shares of docs/nas.md, plus one without `valid users` to show that
  // the mount's own rule keeps bob out as well.
  void StartSamba() {
    const std::string links = dir_.Join("snapdirs");
    ASSERT_OK(MakeDirs(links));
    ASSERT_EQ(::symlink((mnt_ + "/alice").c_str(), (links + "/alice").c_str()), 0);
    // Exactly the shares of docs/nas.md, and one that is not there.
    const std::string shares =
        ReplaceAll(R"([alice]
  path = @LIVE@
  valid users = @ALICE@
  read only = no
  vfs objects = shadow_copy2
  shadow:snapdir = @MNT@/alice
  shadow:snapsharepath = .
  shadow:format = %Y-%m-%d_%H%M%S
  shadow:localtime = no

[alice-latest]
  path = @MNT@/alice/latest
  valid users = @ALICE@
  read only = yes
  vfs objects = shadow_copy2
  shadow:snapdir = @LINKS@/alice
  shadow:snapsharepath = .
  shadow:format = %Y-%m-%d_%H%M%S
  shadow:localtime = no

[alice-snapshots]
  path = @MNT@/alice
  valid users = @ALICE@
  read only = yes

[unguarded]
  path = @MNT@/alice
  read only = yes
)",
                   {{"@LIVE@", live_}, {"@MNT@", mnt_}, {"@LINKS@", links}, {"@ALICE@", kAlice}});
    const std::string dir = dir_.Join("samba");
    ASSERT_OK(MakeDirs(dir));
    samba_ = std::make_unique<SambaServer>(dir);
    ASSERT_OK(samba_->Configure(shares));
    ASSERT_OK(samba_->AddUser(kAlice, kAlicePw));
    ASSERT_OK(samba_->AddUser(kBob, kBobPw));
    // A server five hours behind UTC: the tokens must still be the names' UTC.
    ASSERT_OK(samba_->Start({"TZ=KFS+5"}));
  }

  ProgramRun Alice(const std::string& share, const std::string& commands) {
    return samba_->Client(share, kAlice, kAlicePw, commands);
  }

  // The bytes alice gets for path on share, or what smbclient said instead.
  std::string Get(const std::string& share, const std::string& path) {
    const std::string local = dir_.Join("got-" + std::to_string(++gets_));
    ProgramRun r = Alice(share, "get \"" + path + "\" \"" + local + "\"");
    auto bytes = ReadFile(local);
    return bytes.ok() ? *bytes : "<no file: " + r.out + r.err + ">";
  }

  TempDir dir_;
  std::string runs_, store_, live_, mnt_;
  int lock_fd_ = -1;
  std::vector<std::string> users_;
  pid_t mount_pid_ = -1;
  std::unique_ptr<SambaServer> samba_;
  int gets_ = 0;
};

// The share of alice's live folder: Previous Versions lists the snapshots
// that hold the file, each serves that version's bytes, and the file itself
// is today's.
TEST_F(SambaTest, LiveShareListsTheSnapshotsOfAFileAndServesEachVersion) {
  ProgramRun info = Alice("alice", "allinfo report.txt");
  ASSERT_EQ(info.code, 0) << info.out << info.err;
  EXPECT_EQ(Snapshots(info.out), (Listing{{kGmt3, true}, {kGmt2, true}, {kGmt1, true}}))
      << info.out;
  info = Alice("alice", "allinfo docs/new.txt");
  EXPECT_EQ(Snapshots(info.out), (Listing{{kGmt3, true}, {kGmt2, true}, {kGmt1, false}}))
      << "new.txt came with the second backup: " << info.out;
  EXPECT_EQ(Get("alice", kGmt1 + "/report.txt"), kReport[0]);
  EXPECT_EQ(Get("alice", kGmt2 + "/report.txt"), kReport[1]);
  EXPECT_EQ(Get("alice", kGmt3 + "/report.txt"), kReport[2]);
  EXPECT_EQ(Get("alice", "report.txt"), kToday);
  // A file deleted since is in the folder's previous version.
  EXPECT_EQ(Get("alice", kGmt1 + "/old.txt"), kOld);
  EXPECT_TRUE(Has(Get("alice", kGmt2 + "/old.txt"), "NT_STATUS_OBJECT_NAME_NOT_FOUND"));
  EXPECT_EQ(Get("alice", kGmt2 + "/docs/new.txt"), kNew);
}

// The share of `latest`: the newest snapshot, read-only, whatever owner a
// file was stored with, and the older snapshots as its previous versions.
TEST_F(SambaTest, LatestShareIsTheNewestSnapshotReadOnlyWithTheOthersAsVersions) {
  EXPECT_EQ(Get("alice-latest", "report.txt"), kReport[2]);
  EXPECT_EQ(Get("alice-latest", "foreign.txt"), kForeign);
  ProgramRun info = Alice("alice-latest", "allinfo report.txt");
  ASSERT_EQ(info.code, 0) << info.out << info.err;
  EXPECT_EQ(Snapshots(info.out), (Listing{{kGmt3, true}, {kGmt2, true}, {kGmt1, true}}))
      << info.out;
  EXPECT_EQ(Get("alice-latest", kGmt1 + "/report.txt"), kReport[0]);
  EXPECT_EQ(Get("alice-latest", kGmt2 + "/report.txt"), kReport[1]);
  EXPECT_EQ(Get("alice-latest", kGmt1 + "/old.txt"), kOld);
  ProgramRun put = Alice("alice-latest", "put \"" + Live("report.txt") + "\" new.txt");
  EXPECT_TRUE(Has(put.out + put.err, "NT_STATUS_ACCESS_DENIED")) << put.out << put.err;
}

// What a Mac uses: the user's folder, one folder per snapshot.
TEST_F(SambaTest, SnapshotsShareHasAFolderPerSnapshot) {
  ProgramRun ls = Alice("alice-snapshots", "ls");
  ASSERT_EQ(ls.code, 0) << ls.out << ls.err;
  for (const char* name :
       {"2026-11-01_030000", "2026-11-02_030000", "2026-11-03_030000", "latest"}) {
    EXPECT_TRUE(Has(ls.out, name)) << name << " in " << ls.out;
  }
  EXPECT_EQ(Get("alice-snapshots", "2026-11-01_030000/report.txt"), kReport[0]);
  EXPECT_EQ(Get("alice-snapshots", "latest/report.txt"), kReport[2]);
}

// bob's own password opens none of alice's shares; and where a share forgot
// `valid users`, the mount still refuses his uid.
TEST_F(SambaTest, AnotherUsersCredentialsCannotOpenAlicesShares) {
  for (const char* share : {"alice", "alice-latest", "alice-snapshots"}) {
    ProgramRun r = samba_->Client(share, kBob, kBobPw, "get report.txt /dev/null");
    EXPECT_NE(r.code, 0) << share;
    EXPECT_TRUE(Has(r.out + r.err, "tree connect failed: NT_STATUS_ACCESS_DENIED"))
        << share << ": " << r.out << r.err;
  }
  ProgramRun unguarded = samba_->Client("unguarded", kBob, kBobPw, "ls");
  EXPECT_NE(unguarded.code, 0);
  EXPECT_TRUE(Has(unguarded.out + unguarded.err, "NT_STATUS_ACCESS_DENIED"))
      << unguarded.out << unguarded.err;
  EXPECT_FALSE(Has(unguarded.out, "2026-11-01_030000")) << unguarded.out;
  EXPECT_TRUE(Has(Alice("unguarded", "ls").out, "2026-11-01_030000")) << "alice may list it";
  ProgramRun wrong = samba_->Client("alice", kAlice, kBobPw, "ls");
  EXPECT_NE(wrong.code, 0);
  EXPECT_TRUE(Has(wrong.out + wrong.err, "NT_STATUS_LOGON_FAILURE")) << wrong.out << wrong.err;
}

// The `_N` caveat of docs/nas.md: a second snapshot in the same second has
// the same token; Samba lists it twice and both serve the first one. The
// second is reachable by its folder. (Also: a snapshot made while smbd runs
// is listed at once.)
TEST_F(SambaTest, TwoSnapshotsInOneSecondShareOneTokenThatServesTheFirst) {
  CliRun b = RunCli({"backup", "--store", store_, "--user", "alice", "--time", kTimes[2], live_});
  ASSERT_EQ(b.code, 0) << b.err;
  ASSERT_EQ(b.out, "2026-11-03_030000_1\n");
  ProgramRun info = Alice("alice", "allinfo report.txt");
  EXPECT_EQ(Snapshots(info.out),
            (Listing{{kGmt3, true}, {kGmt3, true}, {kGmt2, true}, {kGmt1, true}}))
      << info.out;
  EXPECT_EQ(Get("alice", kGmt3 + "/report.txt"), kReport[2]);
  EXPECT_EQ(Get("alice-snapshots", "2026-11-03_030000_1/report.txt"), kToday);
}

}  // namespace
}  // namespace keepfs::testing
