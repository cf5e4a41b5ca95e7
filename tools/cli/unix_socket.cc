#include "tools/cli/unix_socket.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace keepfs::cli {

namespace {
// sockaddr for the socket at path; a path longer than sun_path is reached
// through /proc/self/fd/N of its directory (dir_fd is kept open by the caller).
bool SocketAddress(const std::string& path, int* dir_fd, sockaddr_un* addr) {
  std::string name = path;
  std::memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  if (name.size() >= sizeof addr->sun_path) {
    size_t slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
    *dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*dir_fd < 0) return false;
    name = "/proc/self/fd/" + std::to_string(*dir_fd) + "/" + path.substr(slash + 1);
    if (name.size() >= sizeof addr->sun_path) {
      errno = ENAMETOOLONG;
      return false;
    }
  }
  std::memcpy(addr->sun_path, name.c_str(), name.size() + 1);
  return true;
}

}  // namespace

int ConnectUnix(const std::string& path) {
  int dir_fd = -1;
  sockaddr_un addr;
  if (!SocketAddress(path, &dir_fd, &addr)) {
    int err = errno;
    if (dir_fd >= 0) ::close(dir_fd);
    errno = err;
    return -1;
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int err = fd < 0 ? errno : 0;
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    err = errno;
    ::close(fd);
    fd = -1;
  }
  if (dir_fd >= 0) ::close(dir_fd);
  errno = err;
  return fd;
}

Result<int> ListenUnix(const std::string& path, mode_t mode) {
  int dir_fd = -1;
  sockaddr_un addr;
  if (!SocketAddress(path, &dir_fd, &addr)) {
    Status err = Status::FromErrno(errno, "control socket " + path);
    if (dir_fd >= 0) ::close(dir_fd);
    return err;
  }
  ::unlink(addr.sun_path);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  Status err;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::chmod(addr.sun_path, mode) != 0 || ::listen(fd, 16) != 0) {
    err = Status::FromErrno(errno, "control socket " + path);
  }
  if (dir_fd >= 0) ::close(dir_fd);
  if (!err.ok()) {
    if (fd >= 0) ::close(fd);
    return err;
  }
  return fd;
}

void UnlinkUnix(const std::string& path) {
  int dir_fd = -1;
  sockaddr_un addr;
  if (SocketAddress(path, &dir_fd, &addr)) ::unlink(addr.sun_path);
  if (dir_fd >= 0) ::close(dir_fd);
}

std::optional<pid_t> ListenerPid(const std::string& path) {
  int fd = ConnectUnix(path);
  if (fd < 0) return std::nullopt;
  ucred cred{};
  socklen_t len = sizeof cred;
  bool known = ::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0;
  ::close(fd);
  if (!known) return std::nullopt;
  return cred.pid;
}

}  // namespace keepfs::cli
