// LoopFs: a real filesystem (ext4, xfs, btrfs, ...) made with its mkfs on a
// sparse image file and loop-mounted, for tests that must see how the store
// behaves on the filesystems NAS boxes use. Needs root and loop devices;
// Make says why it cannot when it cannot, and the test decides whether that
// is a skip or (KEEPFS_REQUIRE_NASFS=1) a failure.
//
// Thread safety: one thread.
#pragma once

#include <cstdint>
#include <string>

namespace keepfs::testing {

class LoopFs {
 public:
  LoopFs() = default;
  ~LoopFs();  // Unmount()
  LoopFs(const LoopFs&) = delete;
  LoopFs& operator=(const LoopFs&) = delete;

  // Makes a filesystem of type on dir/TYPE.img (sparse, bytes long) and
  // mounts it at dir/TYPE (created). Empty on success, else the reason it
  // cannot be done here (not root, no mkfs.TYPE, the kernel lacks TYPE, no
  // loop device, mkfs or mount failed: with their output).
  std::string Make(const std::string& type, const std::string& dir, uint64_t bytes);
  const std::string& mountpoint() const { return mountpoint_; }

  // Unmounts (retrying while busy, then lazily) and detaches every loop
  // device still attached to the image. Idempotent; logs what it could not do.
  void Unmount();

 private:
  std::string image_;
  std::string mountpoint_;
  bool mounted_ = false;
};

}  // namespace keepfs::testing
