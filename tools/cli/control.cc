#include "tools/cli/control.h"

#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <cstdio>
#include <sys/file.h>
#include <ostream>
#include <streambuf>

#include "store/coding.h"
#include "store/file_util.h"
#include "tools/cli/common.h"
#include "tools/cli/control_request.h"
#include "tools/cli/fs_identity.h"
#include "tools/cli/unix_socket.h"

namespace keepfs::cli {

namespace {
constexpr uint32_t kMaxFrame = 16u << 20;

Status SendFrame(int fd, char type, std::string_view payload) {
  std::string frame(1, type);
  Encoder(&frame).PutFixed32(static_cast<uint32_t>(payload.size()));
  frame.append(payload);
  size_t off = 0;
  while (off < frame.size()) {
    ssize_t n = ::send(fd, frame.data() + off, frame.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::FromErrno(errno, "control socket send");
    off += static_cast<size_t>(n);
  }
  return Status::OK();
}

bool ReadFull(int fd, char* buf, size_t len) {
  size_t off = 0;
  while (off < len) {
    ssize_t n = ::read(fd, buf + off, len - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Reads one frame; false at end of stream or on a malformed frame.
bool ReadFrame(int fd, char* type, std::string* payload) {
  char head[5];
  if (!ReadFull(fd, head, 5)) return false;
  *type = head[0];
  Decoder dec(std::string_view(head + 1, 4));
  uint32_t len = 0;
  if (!dec.GetFixed32(&len) || len > kMaxFrame) return false;
  payload->resize(len);
  return len == 0 || ReadFull(fd, payload->data(), len);
}

// A streambuf that sends what is written as frames of one type.
class FrameBuf : public std::streambuf {
 public:
  FrameBuf(int fd, char type) : fd_(fd), type_(type) { setp(buf_, buf_ + sizeof buf_); }
  ~FrameBuf() override { sync(); }

 protected:
  int overflow(int c) override {
    if (sync() != 0) return traits_type::eof();
    if (c != traits_type::eof()) {
      *pptr() = static_cast<char>(c);
      pbump(1);
    }
    return c == traits_type::eof() ? 0 : c;
  }
  int sync() override {
    size_t n = static_cast<size_t>(pptr() - pbase());
    if (n == 0) return 0;
    setp(buf_, buf_ + sizeof buf_);
    // A client that went away: the output is dropped; the command sees the
    // cancel flag and stops.
    (void)SendFrame(fd_, type_, std::string_view(buf_, n));
    return 0;
  }

 private:
  int fd_;
  char type_;
  char buf_[8192];
};

// Who is at the other end of fd: SO_PEERCRED, and SO_PEERGROUPS for the
// groups (else the account's). Users are left to the caller.
std::optional<Caller> PeerOf(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return std::nullopt;
  Caller c;
  c.uid = cred.uid;
  c.gid = cred.gid;
  c.pid = cred.pid;
  c.is_server_user = cred.uid == ::geteuid();
  std::vector<gid_t> groups(64);
  socklen_t glen = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
  int rc = ::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &glen);
  if (rc != 0 && errno == ERANGE) {  // glen now says how much room they need
    groups.resize(glen / sizeof(gid_t));
    rc = ::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &glen);
  }
  if (rc == 0) {
    c.groups.assign(groups.begin(), groups.begin() + glen / sizeof(gid_t));
  } else {
    c.groups = GroupsOfAccount(c.uid, c.gid);  // a kernel before 4.13
  }
  return c;
}

// " (pid N)" of the process listening on path, or "" if none answers.
std::string ServerPid(const std::string& path) {
  std::optional<pid_t> pid = ListenerPid(path);
  return pid ? " (pid " + std::to_string(*pid) + ")" : "";
}

std::string ModeOctal(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

volatile sig_atomic_t g_cancel_fd = -1;
void OnInterrupt(int) {
  int fd = g_cancel_fd;
  if (fd < 0) return;
  static const char frame[5] = {'C', 0, 0, 0, 0};
  (void)!::send(fd, frame, sizeof frame, MSG_NOSIGNAL);
  g_cancel_fd = -1;  // a second Ctrl-C kills the client (default action restored)
  ::signal(SIGINT, SIG_DFL);
}
}  // namespace

Result<std::unique_ptr<ControlServer>> ControlServer::Start(Store* store,
                                                            const ControlOptions& options) {
  std::unique_ptr<ControlServer> s(new ControlServer());
  s->store_ = store;
  s->server_ = options.server;
  s->trim_heap_ = options.trim_heap_after_command;
  s->path_ = store->dir() + "/control.sock";
  struct stat st;
  if (::stat(store->dir().c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    spdlog::warn("the store {} is open to others than its owner (mode {:o}): its packs hold "
                 "every user's data; chmod 700 {}",
                 store->dir(), st.st_mode & 07777, store->dir());
  }
  // We hold the store lock, so a socket file left here is from a process that died.
  KEEPFS_ASSIGN_OR_RETURN(s->listen_fd_, ListenUnix(s->path_, 0600));
  if (!options.public_socket.empty()) {
    KEEPFS_RETURN_IF_ERROR(s->OpenPublicSocket(options.public_socket));
  }
  s->wake_fd_ = ::eventfd(0, EFD_CLOEXEC);
  if (s->wake_fd_ < 0) return Status::FromErrno(errno, "eventfd");
  s->acceptor_ = std::thread([p = s.get()] { p->AcceptLoop(); });
  return s;
}

Status ControlServer::OpenPublicSocket(const std::string& path) {
  if (path.empty() || path[0] != '/') {
    return Status::InvalidArgument("the public socket " + path + " must be an absolute path");
  }
  const std::string dir = path.substr(0, std::max<size_t>(path.rfind('/'), 1));
  if (!PathExists(dir)) KEEPFS_RETURN_IF_ERROR(MakeDirs(dir, 0755));
  // Whoever may write the directory could put their own socket in its place.
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return Status::FromErrno(errno, dir);
  if ((st.st_uid != 0 && st.st_uid != ::geteuid()) || (st.st_mode & 022) != 0) {
    return Status(StatusCode::kPermissionDenied,
                  "the public socket's directory " + dir + " may be written by others (owner uid " +
                      std::to_string(st.st_uid) + ", mode " + ModeOctal(st.st_mode) +
                      "): they could replace the socket. Use a directory only root may write, "
                      "e.g. /run/keepfs",
                  EACCES);
  }
  // One server per public socket: the lock is held while we serve, so a
  // socket file found here under the lock is a dead server's.
  public_lock_fd_ = ::open((path + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (public_lock_fd_ < 0) return Status::FromErrno(errno, path + ".lock");
  if (::flock(public_lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return Status::Busy("another keepfs server serves " + path + (ServerPid(path)) +
                        "; stop it first, or give this one another socket");
  }
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return Status::AlreadyExists(path + " exists and is not a socket; remove it or give "
                                   "another socket path");
    }
    // Not a keepfs server of this version (they lock), but alive: not ours to take.
    int fd = ConnectUnix(path);
    if (fd >= 0) {
      ::close(fd);
      return Status::Busy("a process answers on " + path + ServerPid(path) +
                          "; stop it first, or give this server another socket");
    }
  }
  KEEPFS_ASSIGN_OR_RETURN(public_fd_, ListenUnix(path, 0666));
  public_path_ = path;
  return Status::OK();
}

ControlServer::~ControlServer() { Stop(); }

void ControlServer::Stop() {
  if (stopping_.exchange(true)) return;
  uint64_t one = 1;
  if (wake_fd_ >= 0) (void)!::write(wake_fd_, &one, sizeof one);
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<Client> clients;
  {
    std::lock_guard<std::mutex> lock(clients_mu_);
    clients.swap(clients_);
  }
  for (auto& c : clients) c.thread.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  UnlinkUnix(path_);
  if (public_fd_ >= 0) {
    ::close(public_fd_);
    UnlinkUnix(public_path_);  // ours: we hold its lock
  }
  if (public_lock_fd_ >= 0) ::close(public_lock_fd_);
}

void ControlServer::AcceptLoop() {
  while (!stopping_) {
    pollfd fds[3] = {{wake_fd_, POLLIN, 0}, {listen_fd_, POLLIN, 0}, {public_fd_, POLLIN, 0}};
    if (::poll(fds, public_fd_ >= 0 ? 3 : 2, -1) < 0) continue;
    if (fds[0].revents) return;
    for (int i = 1; i < 3; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & POLLIN)) continue;
      int fd = ::accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) StartClient(fd);
    }
  }
}

void ControlServer::StartClient(int fd) {
  std::lock_guard<std::mutex> lock(clients_mu_);
  for (auto it = clients_.begin(); it != clients_.end();) {
    if (it->done->load()) {
      it->thread.join();
      it = clients_.erase(it);
    } else {
      ++it;
    }
  }
  auto done = std::make_shared<std::atomic<bool>>(false);
  clients_.push_back({std::thread([this, fd, done] {
                        Serve(fd);
                        ::close(fd);
                        *done = true;
                      }),
                      done});
}

void ControlServer::Serve(int fd) {
  std::optional<Caller> caller = PeerOf(fd);
  if (!caller) return;  // the kernel always knows a Unix socket's peer
  char type;
  std::string payload;
  if (!ReadFrame(fd, &type, &payload) || type != 'R') return;
  // A malformed request gets no answer: the client reports the closed connection.
  Result<ControlRequest> request = DecodeControlRequest(payload);
  if (!request.ok()) return;
  const std::vector<std::string>& args = request->args;
  std::atomic<bool> cancel{false};
  // Watches the connection: a cancel frame or a vanished client stops the command.
  int stop_fd = ::eventfd(0, EFD_CLOEXEC);
  std::thread watcher([&] {
    while (true) {
      pollfd fds[2] = {{fd, POLLIN | POLLRDHUP, 0}, {stop_fd, POLLIN, 0}};
      if (::poll(fds, 2, 500) < 0 && errno != EINTR) break;
      if (fds[1].revents) return;
      if (stopping_) cancel = true;
      if (fds[0].revents) {
        char t;
        std::string p;
        cancel = true;  // 'C', or the client is gone
        if (!ReadFrame(fd, &t, &p)) return;
      }
    }
  });
  int code;
  {
    FrameBuf out_buf(fd, 'O'), err_buf(fd, 'E');
    std::ostream out(&out_buf), err(&err_buf);
    Io io{out, err, request->out_is_tty, request->err_is_tty};
    Hosted hosted{store_, &writer_mu_, request->cwd, &cancel, server_, nullptr};
    hosted.caller = std::move(*caller);
    Result<std::vector<std::string>> users = std::vector<std::string>{};
    if (!hosted.caller.unrestricted()) {
      // Read for every request: `keepfs user add` may have changed the mapping.
      users = UsersOfUid(store_, hosted.caller.uid);
      spdlog::info("uid {} (pid {}) asks: {}", hosted.caller.uid, hosted.caller.pid,
                   args.size() > 1 ? args[1] : "");
    }
    if (users.ok()) {
      hosted.caller.users = std::move(*users);
      code = RunHosted(args, io, hosted);
    } else {
      io.err << "keepfs: cannot tell which store user uid " << hosted.caller.uid
             << " is: " << users.status().message() << "\n";
      code = kExitError;
    }
    out.flush();
    err.flush();
  }
  uint64_t one = 1;
  (void)!::write(stop_fd, &one, sizeof one);
  watcher.join();
  ::close(stop_fd);
  if (trim_heap_) ::malloc_trim(0);
  std::string encoded;
  Encoder(&encoded).PutFixed32(static_cast<uint32_t>(code));
  (void)SendFrame(fd, 'X', encoded);
}

Result<int> Forward(const std::string& socket_path, const std::vector<std::string>& args, Io& io) {
  int fd = ConnectUnix(socket_path);
  if (fd < 0) return Status::FromErrno(errno, "connecting to " + socket_path);
  char cwd[PATH_MAX];
  ControlRequest r{args, ::getcwd(cwd, sizeof cwd) ? cwd : "/", io.out_is_tty, io.err_is_tty};
  std::string request = EncodeControlRequest(r);
  // Ctrl-C is held back from the request until the handler that turns it
  // into a cancel frame is in place: a client killed in between would leave
  // the command running in the mount process.
  sigset_t interrupt, before;
  sigemptyset(&interrupt);
  sigaddset(&interrupt, SIGINT);
  ::pthread_sigmask(SIG_BLOCK, &interrupt, &before);
  if (Status sent = SendFrame(fd, 'R', request); !sent.ok()) {
    ::pthread_sigmask(SIG_SETMASK, &before, nullptr);
    ::close(fd);
    return sent;
  }
  g_cancel_fd = fd;
  struct sigaction sa {}, old {};
  sa.sa_handler = OnInterrupt;
  ::sigaction(SIGINT, &sa, &old);
  ::pthread_sigmask(SIG_SETMASK, &before, nullptr);
  std::optional<int> code;
  char type;
  std::string payload;
  while (ReadFrame(fd, &type, &payload)) {
    if (type == 'O') {
      io.out << payload << std::flush;
    } else if (type == 'E') {
      io.err << payload << std::flush;
    } else if (type == 'X') {
      Decoder dec(payload);
      uint32_t c = 0;
      if (dec.GetFixed32(&c)) code = static_cast<int>(c);
      break;
    }
  }
  g_cancel_fd = -1;
  ::sigaction(SIGINT, &old, nullptr);
  ::close(fd);
  if (!code) {
    io.err << "keepfs: the server closed the connection before the command finished\n";
    return kExitError;
  }
  return *code;
}

}  // namespace keepfs::cli
