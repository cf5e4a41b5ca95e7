#include "tools/cli/control.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <ostream>
#include <streambuf>

#include "store/coding.h"
#include "tools/cli/common.h"

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

// sockaddr for STORE/control.sock; a path longer than sun_path is reached
// through /proc/self/fd/N of the store directory (dir_fd is kept open by the caller).
bool SocketAddress(const std::string& store_dir, int* dir_fd, sockaddr_un* addr) {
  std::string path = store_dir + "/control.sock";
  std::memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  if (path.size() >= sizeof addr->sun_path) {
    *dir_fd = ::open(store_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*dir_fd < 0) return false;
    path = "/proc/self/fd/" + std::to_string(*dir_fd) + "/control.sock";
  }
  std::memcpy(addr->sun_path, path.c_str(), path.size() + 1);
  return true;
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

Result<std::unique_ptr<ControlServer>> ControlServer::Start(Store* store) {
  std::unique_ptr<ControlServer> s(new ControlServer());
  s->store_ = store;
  s->path_ = store->dir() + "/control.sock";
  int dir_fd = -1;
  sockaddr_un addr;
  if (!SocketAddress(store->dir(), &dir_fd, &addr)) return Status::FromErrno(errno, store->dir());
  // We hold the store lock, so a socket file left here is from a process that died.
  ::unlink(addr.sun_path);
  s->listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  Status err;
  if (s->listen_fd_ < 0 || ::bind(s->listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::chmod(addr.sun_path, 0600) != 0 || ::listen(s->listen_fd_, 16) != 0) {
    err = Status::FromErrno(errno, "control socket " + s->path_);
  }
  if (dir_fd >= 0) ::close(dir_fd);
  if (!err.ok()) return err;
  s->wake_fd_ = ::eventfd(0, EFD_CLOEXEC);
  if (s->wake_fd_ < 0) return Status::FromErrno(errno, "eventfd");
  s->acceptor_ = std::thread([p = s.get()] { p->AcceptLoop(); });
  return s;
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
  int dir_fd = -1;
  sockaddr_un addr;
  if (SocketAddress(store_->dir(), &dir_fd, &addr)) ::unlink(addr.sun_path);
  if (dir_fd >= 0) ::close(dir_fd);
}

void ControlServer::AcceptLoop() {
  while (!stopping_) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents) return;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
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
}

void ControlServer::Serve(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != 0) {
    (void)SendFrame(fd, 'E', "keepfs: the store is mounted; only root may send it commands "
                             "(run as root, or unmount it first)\n");
    std::string code;
    Encoder(&code).PutFixed32(kExitError);
    (void)SendFrame(fd, 'X', code);
    return;
  }
  char type;
  std::string payload;
  if (!ReadFrame(fd, &type, &payload) || type != 'R') return;
  Decoder dec(payload);
  uint64_t argc = 0;
  std::vector<std::string> args;
  std::string_view cwd;
  uint8_t flags = 0;
  bool ok = dec.GetVarint(&argc) && argc <= 4096;
  for (uint64_t i = 0; ok && i < argc; ++i) {
    std::string_view a;
    ok = dec.GetLengthPrefixed(&a, 1u << 20);
    if (ok) args.emplace_back(a);
  }
  ok = ok && dec.GetLengthPrefixed(&cwd, PATH_MAX) && dec.GetU8(&flags) && dec.empty();
  if (!ok) return;
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
    Io io{out, err, (flags & 1) != 0, (flags & 2) != 0};
    Hosted hosted{store_, &writer_mu_, std::string(cwd), &cancel};
    code = RunHosted(args, io, hosted);
    out.flush();
    err.flush();
  }
  uint64_t one = 1;
  (void)!::write(stop_fd, &one, sizeof one);
  watcher.join();
  ::close(stop_fd);
  std::string encoded;
  Encoder(&encoded).PutFixed32(static_cast<uint32_t>(code));
  (void)SendFrame(fd, 'X', encoded);
}

std::optional<int> Forward(const std::string& store_dir, const std::vector<std::string>& args,
                           Io& io) {
  int dir_fd = -1;
  sockaddr_un addr;
  if (!SocketAddress(store_dir, &dir_fd, &addr)) return std::nullopt;
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  bool connected = fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  int err = errno;
  if (dir_fd >= 0) ::close(dir_fd);
  if (!connected) {
    if (fd >= 0) ::close(fd);
    if (err == EACCES) {  // the socket is root's (0600)
      io.err << "keepfs: " << store_dir << " is mounted; only root may send it commands (run as "
             << "root, or unmount it first)\n";
      return kExitError;
    }
    return std::nullopt;
  }
  char cwd[PATH_MAX];
  std::string request;
  Encoder enc(&request);
  enc.PutVarint(args.size());
  for (const auto& a : args) enc.PutLengthPrefixed(a);
  enc.PutLengthPrefixed(::getcwd(cwd, sizeof cwd) ? cwd : "/");
  enc.PutU8((io.out_is_tty ? 1 : 0) | (io.err_is_tty ? 2 : 0));
  // Ctrl-C is held back from the request until the handler that turns it
  // into a cancel frame is in place: a client killed in between would leave
  // the command running in the mount process.
  sigset_t interrupt, before;
  sigemptyset(&interrupt);
  sigaddset(&interrupt, SIGINT);
  ::pthread_sigmask(SIG_BLOCK, &interrupt, &before);
  if (!SendFrame(fd, 'R', request).ok()) {
    ::pthread_sigmask(SIG_SETMASK, &before, nullptr);
    ::close(fd);
    return std::nullopt;
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
    io.err << "keepfs: the mount process closed the connection before the command finished\n";
    return kExitError;
  }
  return code;
}

}  // namespace keepfs::cli
