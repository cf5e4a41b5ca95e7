#include "tests/testing/mount_util.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>

#include "fs/fuse/fuse_mount.h"
#include "fs/mountinfo.h"
#include "store/file_util.h"
#include "tests/testing/every_kind_tree.h"
#include "tests/testing/test_util.h"

namespace keepfs::testing {

int RunAs(uint32_t uid, const std::string& cmd, std::string* out) {
  int code = 0;
  *out = Shell("setpriv --reuid=" + std::to_string(uid) + " --regid=" + std::to_string(uid) +
                   " --clear-groups sh -c '" + cmd + "' 2>&1",
               &code);
  return WIFEXITED(code) ? WEXITSTATUS(code) : -1;
}

std::string FuseUnavailable() {
  int fd = ::open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (fd < 0) return "/dev/fuse cannot be opened: " + std::string(std::strerror(errno));
  ::close(fd);
  if (::geteuid() != 0 && ::access("/usr/bin/fusermount3", X_OK) != 0) {
    return "not root and no fusermount3";
  }
  return "";
}

TestMount::~TestMount() { Stop(); }

Status TestMount::Start(Store* store, const std::string& mountpoint, uint64_t max_inodes) {
  view_ = std::make_unique<fs::View>(store);
  mountpoint_ = mountpoint;
  std::promise<void> ready;
  auto ready_f = ready.get_future();
  std::promise<Status> early;
  auto early_f = early.get_future();
  thread_ = std::thread([this, &ready, max_inodes, p = std::move(early)]() mutable {
    fs::MountOptions o;
    o.mountpoint = mountpoint_;
    o.fsname = "keepfs-test";
    o.max_inodes = max_inodes;
    bool got_ready = false;
    o.on_ready = [&] {
      got_ready = true;
      ready.set_value();
    };
    served_ = fs::ServeMount(view_.get(), o);
    if (!got_ready) p.set_value(served_);
  });
  // Either the mount comes up or ServeMount fails before it does.
  while (true) {
    if (ready_f.wait_for(std::chrono::milliseconds(10)) == std::future_status::ready) break;
    if (early_f.wait_for(std::chrono::milliseconds(0)) == std::future_status::ready) {
      thread_.join();
      return early_f.get();
    }
  }
  return Status::OK();
}

void TestMount::Stop() {
  if (!thread_.joinable()) return;
  bool done = false;
  for (int i = 0; i < 100 && !done; ++i) {
    Status s = fs::Unmount(mountpoint_, /*lazy=*/false);
    done = s.ok() || s.code() == StatusCode::kInvalidArgument;
    if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(50));  // a reader finishing
  }
  if (!done) (void)fs::Unmount(mountpoint_, /*lazy=*/true);
  thread_.join();
}

pid_t StartMountProcess(const std::string& binary, const std::string& store,
                        const std::string& mnt, const std::string& log, std::string* why) {
  pid_t pid = ::fork();
  if (pid < 0) {
    *why = std::string("fork: ") + std::strerror(errno);
    return -1;
  }
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execl(binary.c_str(), binary.c_str(), "mount", "--store", store.c_str(), "-f", mnt.c_str(),
            nullptr);
    ::_exit(127);
  }
  bool exited = false;
  bool up = WaitFor(
      [&] {
        exited = ::waitpid(pid, nullptr, WNOHANG) == pid;
        return exited || fs::FindMount(mnt).has_value();
      },
      std::chrono::seconds(20));
  if (up && !exited) return pid;
  if (!exited) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  auto text = ReadSmallFile(log);
  *why = "keepfs mount did not come up: " + (text.ok() ? *text : std::string());
  return -1;
}

}  // namespace keepfs::testing
