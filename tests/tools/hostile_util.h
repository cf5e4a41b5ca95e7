// Helpers of the hostile-input tests (hostile_*_test.cc): run the real keepfs
// binary with a deadline, as another user or with a small file-descriptor
// limit, and measure it; fingerprint a store to prove a command left it
// untouched; compare two trees entry by entry at any depth.
//
// Thread safety: each helper may be called from any one thread; RunBinary
// forks, so the child only calls async-signal-safe functions before exec.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace keepfs::testing {

struct BinaryOptions {
  double timeout_s = 60;  // then SIGKILL, and timed_out is set
  uid_t uid = 0;          // with drop_privileges: run as uid:gid, no groups
  gid_t gid = 0;
  bool drop_privileges = false;
  uint64_t nofile = 0;  // RLIMIT_NOFILE soft limit for the child (0: inherit)
  std::string stdin_path = "/dev/null";
};

struct BinaryRun {
  int code = -1;  // exit status; 128 + N when killed by signal N
  bool timed_out = false;
  std::string out, err;
  double seconds = 0;    // wall time
  long max_rss_kib = 0;  // peak resident set of the child (getrusage of wait4)
};

// Runs args (args[0] is the program) with stdout and stderr captured in files
// under scratch_dir (which must exist).
BinaryRun RunBinary(const std::vector<std::string>& args, const std::string& scratch_dir,
                    const BinaryOptions& options = {});

// What a command could have touched in a store: every key and value of its
// metadata (read through a read-only open), the name, size and SHA-256 of
// every pack, the bytes of config.toml, and the names in the store's top
// directory other than RocksDB's own bookkeeping. Two equal digests mean
// nothing stored changed. An "error: ..." string when the store cannot be
// read.
std::string StoreDigest(const std::string& store_dir);

// Compares the trees at a and b: names, types, permission bits, sizes,
// file bytes, symlink targets, device numbers, recursively (openat, so any
// depth). Returns one line per difference, empty when equal.
std::vector<std::string> CompareTrees(const std::string& a, const std::string& b);

// Writes a file at dirfd/name with exactly bytes (O_EXCL). False on error.
bool WriteAt(int dirfd, const std::string& name, const std::string& bytes);

}  // namespace keepfs::testing
