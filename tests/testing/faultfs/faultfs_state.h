// The faultfs shim's model (tests/testing/faultfs/faultfs.cc says what it
// simulates): its configuration, the durable and pending state of tracked
// files and directories, injected faults, the power loss itself and the
// state file that carries unsynced state from one process to the next. The
// wrapped libc calls in faultfs.cc drive it; everything here that touches
// State runs under Lock unless its comment says otherwise.
#pragma once

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace keepfs_faultfs {

// ---- the real functions ---------------------------------------------------

template <typename F>
F Real(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}

using OpenFn = int (*)(const char*, int, ...);
using OpenatFn = int (*)(int, const char*, int, ...);
using WriteFn = ssize_t (*)(int, const void*, size_t);
using PwriteFn = ssize_t (*)(int, const void*, size_t, off_t);
using WritevFn = ssize_t (*)(int, const struct iovec*, int);
using PwritevFn = ssize_t (*)(int, const struct iovec*, int, off_t);
using ReadFn = ssize_t (*)(int, void*, size_t);
using PreadFn = ssize_t (*)(int, void*, size_t, off_t);
using ReadvFn = ssize_t (*)(int, const struct iovec*, int);
using PreadvFn = ssize_t (*)(int, const struct iovec*, int, off_t);
using FdFn = int (*)(int);
using RenameFn = int (*)(const char*, const char*);
using RenameatFn = int (*)(int, const char*, int, const char*);
using Renameat2Fn = int (*)(int, const char*, int, const char*, unsigned);
using PathFn = int (*)(const char*);
using UnlinkatFn = int (*)(int, const char*, int);
using MkdirFn = int (*)(const char*, mode_t);
using MkdiratFn = int (*)(int, const char*, mode_t);
using LinkFn = int (*)(const char*, const char*);
using LinkatFn = int (*)(int, const char*, int, const char*, int);
using FtruncateFn = int (*)(int, off_t);
using FallocateFn = int (*)(int, int, off_t, off_t);

struct RealFns {
  OpenFn open = Real<OpenFn>("open");
  OpenatFn openat = Real<OpenatFn>("openat");
  WriteFn write = Real<WriteFn>("write");
  PwriteFn pwrite = Real<PwriteFn>("pwrite");
  WritevFn writev = Real<WritevFn>("writev");
  PwritevFn pwritev = Real<PwritevFn>("pwritev");
  ReadFn read = Real<ReadFn>("read");
  PreadFn pread = Real<PreadFn>("pread");
  ReadvFn readv = Real<ReadvFn>("readv");
  PreadvFn preadv = Real<PreadvFn>("preadv");
  FdFn fsync = Real<FdFn>("fsync");
  FdFn fdatasync = Real<FdFn>("fdatasync");
  FdFn close = Real<FdFn>("close");
  RenameFn rename = Real<RenameFn>("rename");
  RenameatFn renameat = Real<RenameatFn>("renameat");
  Renameat2Fn renameat2 = Real<Renameat2Fn>("renameat2");
  PathFn unlink = Real<PathFn>("unlink");
  UnlinkatFn unlinkat = Real<UnlinkatFn>("unlinkat");
  PathFn rmdir = Real<PathFn>("rmdir");
  MkdirFn mkdir = Real<MkdirFn>("mkdir");
  MkdiratFn mkdirat = Real<MkdiratFn>("mkdirat");
  LinkFn link = Real<LinkFn>("link");
  LinkatFn linkat = Real<LinkatFn>("linkat");
  FtruncateFn ftruncate = Real<FtruncateFn>("ftruncate");
  FallocateFn fallocate = Real<FallocateFn>("fallocate");
};

RealFns& R();

// ---- configuration --------------------------------------------------------

enum class Op { kNone, kRead, kWrite, kFsync, kOpen, kRename, kUnlink };

struct Config {
  std::vector<std::string> roots;
  std::string aside;
  uint64_t crash_at = 0;  // 0: never
  std::string count_file;
  std::string state_file;
  Op fail_op = Op::kNone;
  int fail_errno = 0;
  uint64_t fail_after = 0, fail_times = 0;
  std::string fail_match;
};

const Config& Cfg();

// ---- state ----------------------------------------------------------------

struct FileKey {
  dev_t dev;
  ino_t ino;
  bool operator<(const FileKey& o) const { return dev != o.dev ? dev < o.dev : ino < o.ino; }
};

struct FileState {
  off_t synced_size = 0;
  bool dirty = false;
  std::string path;  // where the inode is now (an aside link once unlinked)
};

enum class DirOpKind { kCreate, kMkdir, kRename, kUnlink, kRmdir, kLink };

// One directory change not yet made durable by an fsync of its directory.
struct DirOp {
  DirOpKind kind;
  std::string path;   // the name created, removed or renamed to
  std::string from;   // kRename: the old name
  std::string aside;  // kRename: the replaced file; kUnlink: the removed file
  std::string dir;    // the directory whose fsync makes it durable
};

constexpr int kMaxFd = 1 << 16;

struct State {
  pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  std::atomic<bool> tracked[kMaxFd] = {};
  std::string fd_path[kMaxFd];
  std::map<FileKey, FileState> files;
  std::vector<DirOp> pending;
  uint64_t events = 0;
  uint64_t fail_seen = 0, failed = 0;
  uint64_t aside_seq = 0;
  bool crashed = false;
};

State& S();

class Lock {
 public:
  Lock() { pthread_mutex_lock(&S().mu); }
  ~Lock() { pthread_mutex_unlock(&S().mu); }
};
// Whether any root is configured (else the shim is inert).
bool Active();
// The normalised absolute path if (dirfd, path) is tracked; empty if not.
std::string Tracked(int dirfd, const char* path);
std::string DirOf(const std::string& path);
bool IsTrackedFd(int fd);
// True (and errno set) if this call is one the configuration fails; they
// take the lock themselves.
bool ShouldFail(Op op, const std::string& path);
bool FailFd(Op op, int fd);
// Drops what was not synced and kills the process; called with the lock
// held, which it never releases.
[[noreturn]] void PowerLoss();
// Counts one mutating call on a tracked path; at the configured count the
// power goes out before the call runs.
void Event();
// A hard link to path in the aside directory, so an undo can bring it back.
std::string KeepAside(const std::string& path);
// The state of fd's regular file (created on first use); null otherwise.
FileState* StateOf(int fd);
// The inode known at path is now at now_at (an aside link, or nowhere).
void ForgetPath(const std::string& path, const std::string& now_at);
void RenamePaths(const std::string& from, const std::string& to);
// An fsync of dir made the changes of names in it durable.
void DirSynced(const std::string& dir);

}  // namespace keepfs_faultfs
