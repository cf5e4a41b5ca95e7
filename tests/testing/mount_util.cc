#include "tests/testing/mount_util.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <future>

#include "fs/fuse/fuse_mount.h"
#include "tests/testing/every_kind_tree.h"

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

}  // namespace keepfs::testing
