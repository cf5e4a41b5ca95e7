// ServeMount: the FUSE adapter. Translates kernel requests (libfuse3
// low-level API, multi-threaded loop) into View calls and back. The only code
// that sees libfuse; nothing here decides anything a test of View could not
// check.
//
// Thread safety: ServeMount blocks its caller and serves from its own threads.
#pragma once

#include <functional>
#include <string>

#include "fs/view.h"
#include "store/status.h"

namespace keepfs::fs {

struct MountOptions {
  std::string mountpoint;
  std::string fsname = "keepfs";  // shown by mount(8) and df
  bool debug = false;             // libfuse's request trace on stderr
  unsigned max_threads = 16;
  // At most this many entries handed to the kernel and not yet invalidated
  // (fs/inode_cap.h); 0: no cap.
  uint64_t max_inodes = 0;
  // Called once the file system is mounted and serving, before ServeMount
  // blocks (a daemonizing parent waits for this).
  std::function<void()> on_ready;
};

// Mounts view at options.mountpoint (nosuid, nodev, allow_other; read-write
// at the VFS level only so that xattr requests reach the daemon: every write
// is EROFS) and serves until it is unmounted or SIGINT/SIGTERM/SIGHUP
// arrives; then unmounts. Errors: the mount point is missing or busy,
// /dev/fuse is unusable.
Status ServeMount(View* view, const MountOptions& options);

// Unmounts mountpoint (lazy: detach now, finish when no longer busy).
Status Unmount(const std::string& mountpoint, bool lazy);

}  // namespace keepfs::fs
