#include "tests/testing/loop_fs.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "store/file_util.h"
#include "tests/testing/every_kind_tree.h"

namespace keepfs::testing {

namespace {

// mkfs tools live in sbin, which a non-login PATH may lack.
std::string FindTool(const std::string& name) {
  for (const char* dir : {"/usr/sbin", "/sbin", "/usr/bin", "/bin"}) {
    std::string p = std::string(dir) + "/" + name;
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

bool KernelHas(const std::string& type) {
  std::ifstream in("/proc/filesystems");
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() >= type.size() && line.compare(line.size() - type.size(), type.size(), type) == 0 &&
        (line.size() == type.size() || line[line.size() - type.size() - 1] == '\t')) {
      return true;
    }
  }
  return false;
}

}  // namespace

LoopFs::~LoopFs() { Unmount(); }

std::string LoopFs::Make(const std::string& type, const std::string& dir, uint64_t bytes) {
  if (::geteuid() != 0) return "not root: mkfs on a loop device and mount need root";
  const std::string mkfs = FindTool("mkfs." + type);
  if (mkfs.empty()) return "mkfs." + type + " is not installed (tools/install-deps.sh)";
  if (!KernelHas(type)) return "the kernel does not list " + type + " in /proc/filesystems";
  if (::access("/dev/loop-control", R_OK | W_OK) != 0 && ::access("/dev/loop0", R_OK) != 0) {
    return "no loop devices (/dev/loop-control): " + std::string(std::strerror(errno));
  }
  image_ = dir + "/" + type + ".img";
  mountpoint_ = dir + "/" + type;
  {
    UniqueFd fd(::open(image_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd.valid() || ::ftruncate(fd.get(), static_cast<off_t>(bytes)) != 0) {
      return "cannot make the image " + image_ + ": " + std::strerror(errno);
    }
  }
  if (::mkdir(mountpoint_.c_str(), 0755) != 0) return "cannot make " + mountpoint_;
  // -q: quiet; -F / -f: the target is a plain file, and an old signature in
  // it does not matter. ext*: -T default, the 4 KiB blocks of a real volume
  // (mke2fs would take 1 KiB blocks for an image this small).
  const bool ext = type.compare(0, 3, "ext") == 0;
  int code = 0;
  std::string out =
      Shell(mkfs + " -q " + (ext ? "-F -T default " : "-f ") + image_ + " 2>&1", &code);
  if (code != 0) return "mkfs." + type + " failed: " + out;
  out = Shell("mount -t " + type + " -o loop " + image_ + " " + mountpoint_ + " 2>&1", &code);
  if (code != 0) return "cannot loop-mount " + type + ": " + out;
  mounted_ = true;
  return "";
}

void LoopFs::Unmount() {
  if (mounted_) {
    // Busy for a moment while a process that had files open exits.
    bool done = false;
    for (int i = 0; i < 100 && !done; ++i) {
      done = ::umount2(mountpoint_.c_str(), 0) == 0 || errno == EINVAL || errno == ENOENT;
      if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!done) {
      std::cerr << "LoopFs: " << mountpoint_ << " stayed busy; detaching it lazily\n";
      ::umount2(mountpoint_.c_str(), MNT_DETACH);
    }
    mounted_ = false;
  }
  if (image_.empty()) return;
  // mount -o loop sets autoclear, so unmounting detached it; this is for a
  // device left by a mount that failed half-way or a lazy unmount.
  int code = 0;
  std::string out = Shell("losetup -j " + image_ + " 2>/dev/null", &code);
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos || line.compare(0, 9, "/dev/loop") != 0) continue;
    Shell("losetup -d " + line.substr(0, colon) + " 2>&1", &code);
    if (code != 0) std::cerr << "LoopFs: cannot detach " << line.substr(0, colon) << "\n";
  }
  image_.clear();
}

}  // namespace keepfs::testing
