#include "tests/tools/samba_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <thread>

#include "store/file_util.h"
#include "tests/testing/test_util.h"

namespace keepfs::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Polls cond every 5 ms (WaitFor's 50 ms would add up over the dozens of
// smbclient runs of a test) until it holds or timeout passes.
bool Poll(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (!cond()) {
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

std::string ReadOrEmpty(const std::string& path) {
  auto r = ReadFile(path);
  return r.ok() ? *r : "";
}

// A port of 127.0.0.1 that nothing listens on now. Another process could
// take it before smbd binds it; Start() then fails with smbd's log.
int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

}  // namespace

std::string FindProgram(const std::string& name) {
  std::string dirs = std::string(std::getenv("PATH") ? std::getenv("PATH") : "") +
                     ":/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin";
  std::istringstream in(dirs);
  for (std::string d; std::getline(in, d, ':');) {
    if (d.empty()) continue;
    std::string p = d + "/" + name;
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

std::string ReplaceAll(std::string text,
                       const std::vector<std::pair<std::string, std::string>>& vars) {
  for (const auto& [key, value] : vars) {
    for (size_t at = 0; (at = text.find(key, at)) != std::string::npos; at += value.size()) {
      text.replace(at, key.size(), value);
    }
  }
  return text;
}

std::string SambaUnavailable() {
  std::string missing;
  for (const char* p : {"smbd", "smbclient", "smbpasswd"}) {
    if (FindProgram(p).empty()) missing += std::string(missing.empty() ? "" : ", ") + p;
  }
  return missing.empty() ? "" : missing + " not installed (apt-get install samba smbclient)";
}

ProgramRun RunProgram(const std::vector<std::string>& args, const std::string& dir,
                      const std::string& input, std::chrono::milliseconds timeout) {
  static int runs = 0;
  const std::string base = dir + "/run-" + std::to_string(++runs);
  const std::string in = base + ".in", out = base + ".out", err = base + ".err";
  ProgramRun r;
  if (!WriteFile(in, input).ok()) return r;
  // Everything the child needs is built before the fork: a fork of a
  // multi-threaded process may only make system calls until it execs.
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  char* envp[] = {const_cast<char*>(kPath), nullptr};
  pid_t pid = ::fork();
  if (pid == 0) {
    int i = ::open(in.c_str(), O_RDONLY);
    int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (i < 0 || o < 0 || e < 0 || ::dup2(i, 0) < 0 || ::dup2(o, 1) < 0 || ::dup2(e, 2) < 0) {
      ::_exit(126);
    }
    ::execve(argv[0], argv.data(), envp);
    ::_exit(127);
  }
  if (pid < 0) return r;
  int status = 0;
  if (!Poll([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, timeout)) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    r.err = "killed after " + std::to_string(timeout.count()) + " ms\n";
  } else if (WIFEXITED(status)) {
    r.code = WEXITSTATUS(status);
  }
  r.out = ReadOrEmpty(out);
  r.err += ReadOrEmpty(err);
  return r;
}

SambaServer::SambaServer(std::string dir) : dir_(std::move(dir)), conf_(dir_ + "/smb.conf") {}

SambaServer::~SambaServer() { Stop(); }

Status SambaServer::Configure(const std::string& shares) {
  port_ = FreePort();
  if (port_ == 0) return Status::FromErrno(errno, "no free port on 127.0.0.1");
  for (const char* sub : {"private", "lock", "state", "cache", "pid", "ncalrpc"}) {
    KEEPFS_RETURN_IF_ERROR(MakeDirs(dir_ + "/" + sub));
  }
  std::string conf = R"([global]
  server role = standalone server
  # Loopback only, on a port of its own: nothing outside the test sees it.
  interfaces = 127.0.0.1
  bind interfaces only = yes
  smb ports = @PORT@
  disable netbios = yes
  # Every file smbd and smbclient write stays in DIR, not in /var.
  private dir = @DIR@/private
  lock directory = @DIR@/lock
  state directory = @DIR@/state
  cache directory = @DIR@/cache
  pid directory = @DIR@/pid
  ncalrpc dir = @DIR@/ncalrpc
  passdb backend = tdbsam:@DIR@/private/passdb.tdb
  log file = @DIR@/smbd.log
  max log size = 0
  # Connections and logons, for the message of a failed test.
  log level = 2
  usershare path =
  # No printers and no RPC helper daemons: samba-dcerpcd would start in a
  # session of its own and outlive Stop().
  load printers = no
  printing = bsd
  printcap name = /dev/null
  disable spoolss = yes
  rpc start on demand helpers = no
  map to guest = never

)";
  conf = ReplaceAll(conf, {{"@PORT@", std::to_string(port_)}, {"@DIR@", dir_}}) + shares;
  return WriteFile(conf_, conf);
}

Status SambaServer::AddUser(const std::string& name, const std::string& password) {
  // -s: the password (twice, as when typed) comes from stdin, not the argv.
  ProgramRun r = RunProgram({FindProgram("smbpasswd"), "-c", conf_, "-s", "-a", name}, dir_,
                            password + "\n" + password + "\n");
  if (r.code != 0) return Status::Internal("smbpasswd -a " + name + ": " + r.out + r.err);
  return Status::OK();
}

bool SambaServer::Accepts() const {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port_);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

Status SambaServer::Start(const std::vector<std::string>& env) {
  std::vector<std::string> args = {FindProgram("smbd"), "--foreground", "--no-process-group", "-s",
                                   conf_};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_copy = env;
  env_copy.push_back(kPath);
  std::vector<char*> envp;
  for (auto& e : env_copy) envp.push_back(e.data());
  envp.push_back(nullptr);
  const std::string out = dir_ + "/smbd.out";
  // smbd's children are orphaned when it dies; as their subreaper we reap
  // them in Stop() at once, where init may take a second.
  ::prctl(PR_GET_CHILD_SUBREAPER, &was_subreaper_);
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  pid_t pid = ::fork();
  if (pid == 0) {
    // A group of its own (hence --no-process-group: smbd keeps it), which
    // Stop() signals as a whole.
    ::setpgid(0, 0);
    int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ::dup2(fd, 1) < 0 || ::dup2(fd, 2) < 0) ::_exit(126);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  if (pid < 0) return Status::FromErrno(errno, "fork");
  ::setpgid(pid, pid);  // also here, so Stop() finds the group whoever runs first
  pid_ = pid;
  bool exited = false;
  Poll(
      [&] {
        int status;
        exited = ::waitpid(pid_, &status, WNOHANG) == pid_;
        return exited || Accepts();
      },
      20s);
  if (exited) {
    pid_ = -1;
    ::prctl(PR_SET_CHILD_SUBREAPER, was_subreaper_);
    return Status::Internal("smbd exited at start:\n" + Log());
  }
  if (!Accepts()) return Status::Internal("smbd did not listen within 20 s:\n" + Log());
  return Status::OK();
}

bool SambaServer::Stop() {
  if (pid_ <= 0) return true;
  const pid_t group = pid_;
  // The group is gone when no member is left, zombies included; all of them
  // are our children now (Start), so we reap them.
  auto gone = [&] {
    while (::waitpid(-group, nullptr, WNOHANG) > 0) {
    }
    return ::kill(-group, 0) != 0 && errno == ESRCH;
  };
  // SIGKILL at once: nothing smbd keeps outlives the test, and its orderly
  // exit on SIGTERM takes seconds.
  ::kill(-group, SIGKILL);
  bool ok = Poll(gone, 10s);
  ::prctl(PR_SET_CHILD_SUBREAPER, was_subreaper_);
  pid_ = -1;
  return ok;
}

ProgramRun SambaServer::Client(const std::string& share, const std::string& user,
                               const std::string& password, const std::string& commands) {
  return RunProgram(
      {FindProgram("smbclient"), "//127.0.0.1/" + share, "-s", conf_, "-p", std::to_string(port_),
       "-m", "SMB3", "-U", user + "%" + password, "-c", commands},
      dir_);
}

std::string SambaServer::Log() const {
  return ReadOrEmpty(dir_ + "/smbd.log") + ReadOrEmpty(dir_ + "/smbd.out");
}

}  // namespace keepfs::testing
