#include "snapshot/restore.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <unordered_map>
#include <utility>

#include "snapshot/posix_meta.h"
#include "store/file_util.h"
#include "store/thread_pool.h"

namespace keepfs::snapshot {

namespace {

class Restorer {
 public:
  Restorer(const Repo& repo, const RestoreOptions& options, RestoreProgress* progress, int root_fd)
      : repo_(repo), options_(options), progress_(progress), root_fd_(root_fd) {}

  Status RestoreDir(int dirfd, const ObjectId& tree, const std::string& rel);
  Status RestoreEntry(int dirfd, const Entry& e, const std::string& rel);
  // Owner, xattrs, mode and times of e onto an open file or directory (fd),
  // or onto dirfd/e.name when fd is -1.
  Status ApplyMeta(int dirfd, const Entry& e, int fd);
  RestoreResult& result() { return result_; }
  void set_root(int root_fd) { root_fd_ = root_fd; }
  // Runs a step that touches DEST through options.at_dest (restore.h).
  template <typename Step>
  Status AtDest(Step&& step) {
    if (!options_.at_dest) return step();
    return options_.at_dest(std::function<Status()>(std::forward<Step>(step)));
  }

 private:
  Status MakeRoom(int dirfd, const Entry& e);
  Status WriteFile(int dirfd, const Entry& e);
  void AddError(const std::string& rel, const Status& s) {
    result_.errors.push_back({rel, s.message()});
  }

  const Repo& repo_;
  const RestoreOptions& options_;
  RestoreProgress* progress_;
  int root_fd_;
  std::unordered_map<uint64_t, std::string> links_;  // link_id -> path of first name
  RestoreResult result_;
};

// Clears the way for e: removes a non-directory in its place. A directory in
// the way of a non-directory is left alone (never delete a user's tree).
Status Restorer::MakeRoom(int dirfd, const Entry& e) {
  struct stat st;
  if (::fstatat(dirfd, e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return errno == ENOENT ? Status::OK() : Status::FromErrno(errno, "stat");
  }
  if (S_ISDIR(st.st_mode)) {
    if (e.type == EntryType::kDir) return Status::OK();
    return Status::AlreadyExists("a directory is in the way; move it and restore again");
  }
  if (::unlinkat(dirfd, e.name.c_str(), 0) != 0) return Status::FromErrno(errno, "removing old");
  return Status::OK();
}

// A destination we may not write (someone else's folder, a read-only file
// system) fails the restore before anything is written, instead of failing
// every entry. Asked with the thread's file system identity (AT_EACCESS),
// through the raw system call: glibc emulates it on old kernels with the
// process's effective uid, which is not the identity at_dest may have set.
Status CheckWritable(int dirfd, const std::string& dest) {
  if (::syscall(SYS_faccessat2, dirfd, ".", W_OK | X_OK, AT_EACCESS) == 0 || errno == ENOSYS) {
    return Status::OK();  // ENOSYS: a kernel before 5.8; each entry reports for itself
  }
  return Status::FromErrno(errno, "destination " + dest);
}

// Creates a symlink, fifo, device or socket node e in dirfd.
Status MakeSpecial(int dirfd, const Entry& e) {
  switch (e.type) {
    case EntryType::kSymlink:
      if (::symlinkat(e.target.c_str(), dirfd, e.name.c_str()) != 0) {
        return Status::FromErrno(errno, "symlink");
      }
      return Status::OK();
    case EntryType::kFifo:
      if (::mkfifoat(dirfd, e.name.c_str(), 0600) != 0) return Status::FromErrno(errno, "mkfifo");
      return Status::OK();
    case EntryType::kCharDev:
    case EntryType::kBlockDev:
    case EntryType::kSocket: {
      mode_t type = e.type == EntryType::kCharDev   ? S_IFCHR
                    : e.type == EntryType::kBlockDev ? S_IFBLK
                                                      : S_IFSOCK;
      if (::mknodat(dirfd, e.name.c_str(), type | 0600, static_cast<dev_t>(e.rdev)) != 0) {
        return Status::FromErrno(errno, "mknod");
      }
      return Status::OK();
    }
    default:
      return Status::Internal("not a special file: " + e.name);
  }
}

// Owner first (chown clears setuid bits), then xattrs and ACLs, then the mode,
// then times, so nothing later undoes an earlier step.
Status Restorer::ApplyMeta(int dirfd, const Entry& e, int fd) {
  bool link = e.type == EntryType::kSymlink;
  if (options_.restore_owners) {
    int rc = fd >= 0 ? ::fchown(fd, e.uid, e.gid)
                     : ::fchownat(dirfd, e.name.c_str(), e.uid, e.gid, AT_SYMLINK_NOFOLLOW);
    if (rc != 0) return Status::FromErrno(errno, "chown");
  }
  KEEPFS_RETURN_IF_ERROR(fd >= 0 ? WriteFdXattrs(fd, e.xattrs) : WriteXattrs(dirfd, e.name, e.xattrs));
  if (!link) {
    int rc = fd >= 0 ? ::fchmod(fd, e.mode) : ::fchmodat(dirfd, e.name.c_str(), e.mode, 0);
    if (rc != 0) return Status::FromErrno(errno, "chmod");
  }
  struct timespec times[2];
  times[0].tv_sec = 0;
  times[0].tv_nsec = UTIME_OMIT;
  times[1].tv_sec = e.mtime_sec;
  times[1].tv_nsec = e.mtime_nsec;
  int rc = fd >= 0 ? ::futimens(fd, times)
                   : ::utimensat(dirfd, e.name.c_str(), times, AT_SYMLINK_NOFOLLOW);
  if (rc != 0) return Status::FromErrno(errno, "setting times");
  return Status::OK();
}

// The store is read between the DEST steps, never inside one (restore.h).
Status Restorer::WriteFile(int dirfd, const Entry& e) {
  // Held while read: a concurrent gc (after a prune, or the sharing pass
  // unifying this file with a copy) leaves these chunks alone.
  std::unique_ptr<ObjectGuard::Hold> hold;
  KEEPFS_ASSIGN_OR_RETURN(Content content, repo_.GetContentHeld(e.ref, &hold));
  UniqueFd fd;
  auto create = [&]() -> Status {
    KEEPFS_RETURN_IF_ERROR(MakeRoom(dirfd, e));
    fd = UniqueFd(::openat(dirfd, e.name.c_str(),
                           O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    return fd.valid() ? Status::OK() : Status::FromErrno(errno, "creating");
  };
  auto write = [&](uint64_t off, std::string_view data) {
    progress_->bytes.fetch_add(data.size(), std::memory_order_relaxed);
    return PwriteAll(fd.get(), data.data(), data.size(), off, e.name);
  };
  auto finish = [&]() -> Status {
    // Holes are never written; the final size makes a trailing hole.
    if (::ftruncate(fd.get(), static_cast<off_t>(content.size)) != 0) {
      return Status::FromErrno(errno, "truncating");
    }
    result_.bytes += content.size;
    return ApplyMeta(dirfd, e, fd.get());
  };
  if (content.is_inline) {  // the bytes are in the record: one step, no read in between
    return AtDest([&]() -> Status {
      KEEPFS_RETURN_IF_ERROR(create());
      if (!content.inline_data.empty()) KEEPFS_RETURN_IF_ERROR(write(0, content.inline_data));
      return finish();
    });
  }
  KEEPFS_RETURN_IF_ERROR(AtDest(create));
  KEEPFS_RETURN_IF_ERROR(repo_.ReadContent(content, [&](uint64_t off, std::string_view data) {
    return AtDest([&] { return write(off, data); });
  }));
  return AtDest(finish);
}

Status Restorer::RestoreEntry(int dirfd, const Entry& e, const std::string& rel) {
  if (!IsSafeName(e.name)) return Status::Corruption("unsafe name in the store");
  switch (e.type) {
    case EntryType::kFile: {
      if (e.link_id) {
        auto it = links_.find(e.link_id);
        if (it != links_.end()) {
          KEEPFS_RETURN_IF_ERROR(AtDest([&]() -> Status {
            KEEPFS_RETURN_IF_ERROR(MakeRoom(dirfd, e));
            if (::linkat(root_fd_, it->second.c_str(), dirfd, e.name.c_str(), 0) != 0) {
              return Status::FromErrno(errno, "linking to " + it->second);
            }
            return Status::OK();
          }));
          ++result_.files;
          return Status::OK();
        }
      }
      KEEPFS_RETURN_IF_ERROR(WriteFile(dirfd, e));
      if (e.link_id) links_.emplace(e.link_id, rel);
      ++result_.files;
      progress_->files.fetch_add(1, std::memory_order_relaxed);
      return Status::OK();
    }
    case EntryType::kDir: {
      UniqueFd child;
      KEEPFS_RETURN_IF_ERROR(AtDest([&]() -> Status {
        KEEPFS_RETURN_IF_ERROR(MakeRoom(dirfd, e));
        if (::mkdirat(dirfd, e.name.c_str(), 0700) != 0 && errno != EEXIST) {
          return Status::FromErrno(errno, "mkdir");
        }
        child = UniqueFd(
            ::openat(dirfd, e.name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        return child.valid() ? Status::OK() : Status::FromErrno(errno, "opening directory");
      }));
      KEEPFS_RETURN_IF_ERROR(RestoreDir(child.get(), e.ref, rel));
      ++result_.dirs;
      progress_->dirs.fetch_add(1, std::memory_order_relaxed);
      // After the children: their creation set mtime.
      return AtDest([&] { return ApplyMeta(dirfd, e, child.get()); });
    }
    default: {
      bool made = false;  // counted once it exists, even if its metadata fails
      Status s = AtDest([&]() -> Status {
        KEEPFS_RETURN_IF_ERROR(MakeRoom(dirfd, e));
        KEEPFS_RETURN_IF_ERROR(MakeSpecial(dirfd, e));
        made = true;
        return ApplyMeta(dirfd, e, -1);
      });
      if (made) ++result_.others;
      return s;
    }
  }
}

Status Restorer::RestoreDir(int dirfd, const ObjectId& tree, const std::string& rel) {
  return ForEachEntry(tree, repo_.node_source(), [&](const Entry& e) -> Result<bool> {
    std::string child_rel = rel.empty() ? e.name : rel + "/" + e.name;
    Status s = RestoreEntry(dirfd, e, child_rel);
    if (!s.ok()) {
      if (s.code() == StatusCode::kNoSpace) return s;  // nothing more will fit
      AddError(child_rel, s);
    }
    return true;
  });
}

}  // namespace

Result<RestoreResult> Restore(const Repo& repo, const SnapshotRecord& snap, std::string_view path,
                              const std::string& dest, const RestoreOptions& options,
                              RestoreProgress* progress) {
  KEEPFS_ASSIGN_OR_RETURN(Entry top, repo.ResolvePath(snap, path));
  // Into the store's own directory, a snapshot's config.toml, lock or
  // meta/CURRENT would replace the store's ("existing files in the way are
  // replaced"): refused before anything is written.
  if (PathIsInside(dest, repo.store().dir())) {
    return Status::InvalidArgument(dest + " is inside the store " + repo.store().dir() +
                                   "; restore somewhere else");
  }
  RestoreProgress local;
  UniqueFd root;
  Restorer r(repo, options, progress ? progress : &local, -1);
  KEEPFS_RETURN_IF_ERROR(r.AtDest([&]() -> Status {
    // Not durable: syncing DEST's parent needs read access to it, which a
    // user's restore may not have; restored files are not synced either.
    KEEPFS_RETURN_IF_ERROR(MakeDirs(dest, 0755, /*durable=*/false));
    root = UniqueFd(::open(dest.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root.valid()) return Status::FromErrno(errno, "opening destination " + dest);
    return CheckWritable(root.get(), dest);
  }));
  r.set_root(root.get());
  if (top.type == EntryType::kDir) {
    // RestoreDir recurses once per folder level, as deep as the snapshot goes.
    Status restored;
    RunWithStack(kTreeWalkStackBytes, [&] { restored = r.RestoreDir(root.get(), top.ref, ""); });
    KEEPFS_RETURN_IF_ERROR(restored);
    // DEST takes the restored directory's own metadata, last (its children
    // moved its mtime), like `rsync -a SRC/ DEST/`. Snapshots written before
    // the source root's metadata was kept have none to give.
    bool has_meta = !top.name.empty() || snap.root_meta.has_value();
    if (has_meta) {
      if (Status s = r.AtDest([&] { return r.ApplyMeta(root.get(), top, root.get()); }); !s.ok()) {
        r.result().errors.push_back({"", s.message()});
      }
    }
  } else {
    Status s = r.RestoreEntry(root.get(), top, top.name);
    if (!s.ok()) r.result().errors.push_back({top.name, s.message()});
  }
  return std::move(r.result());
}

}  // namespace keepfs::snapshot
