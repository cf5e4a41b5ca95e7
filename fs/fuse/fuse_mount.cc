#define FUSE_USE_VERSION 314
#include "fs/fuse/fuse_mount.h"

#include <fuse_lowlevel.h>
#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fs/inode_cap.h"
#include "fs/mountinfo.h"

namespace keepfs::fs {

namespace {
// What every request reaches: the view, and the inode cap when there is one.
struct Session {
  View* view = nullptr;
  std::unique_ptr<InodeCap> cap;  // null: no cap ([mount] max_inodes = 0)
};
// A fuse_reply_* call frees the request, whether it succeeds or not: take
// what is needed after it (the session, the name) before replying.
Session* SessionOf(fuse_req_t req) { return static_cast<Session*>(fuse_req_userdata(req)); }
View* ViewOf(fuse_req_t req) { return SessionOf(req)->view; }

Caller CallerOf(fuse_req_t req) {
  const fuse_ctx* ctx = fuse_req_ctx(req);
  Caller c;
  c.uid = ctx->uid;
  c.gid = ctx->gid;
  c.pid = static_cast<uint32_t>(ctx->pid);
  c.in_group = [req](uint32_t gid) {
    gid_t groups[256];
    int n = fuse_req_getgroups(req, 256, groups);
    for (int i = 0; i < n && i < 256; ++i) {
      if (groups[i] == gid) return true;
    }
    return false;
  };
  return c;
}

struct stat ToStat(const Attr& a) {
  struct stat st {};
  st.st_ino = a.ino;
  st.st_mode = a.mode;
  st.st_nlink = a.nlink;
  st.st_uid = a.uid;
  st.st_gid = a.gid;
  st.st_rdev = a.rdev;
  st.st_size = static_cast<off_t>(a.size);
  st.st_blocks = static_cast<blkcnt_t>(a.blocks);
  st.st_blksize = 128 * 1024;
  st.st_mtim.tv_sec = a.mtime_sec;
  st.st_mtim.tv_nsec = a.mtime_nsec;
  st.st_atim = st.st_mtim;
  st.st_ctim = st.st_mtim;
  return st;
}

fuse_entry_param ToEntry(const EntryOut& e) {
  fuse_entry_param p{};
  p.ino = e.attr.ino;  // 0: negative entry, cached for entry_timeout
  p.attr = ToStat(e.attr);
  p.entry_timeout = e.entry_timeout;
  p.attr_timeout = e.attr_timeout;
  return p;
}

void ReplyErr(fuse_req_t req, const Status& s) { fuse_reply_err(req, ErrnoOf(s)); }

void OpInit(void*, fuse_conn_info* conn) {
  if (conn->capable & FUSE_CAP_READDIRPLUS) conn->want |= FUSE_CAP_READDIRPLUS;
  if (conn->capable & FUSE_CAP_ASYNC_READ) conn->want |= FUSE_CAP_ASYNC_READ;
  // NFS export: the kernel may look up "." and ".." in node ids it forgot
  // (View::Lookup answers them from the number alone, fs/view_export.h).
  if (conn->capable & FUSE_CAP_EXPORT_SUPPORT) conn->want |= FUSE_CAP_EXPORT_SUPPORT;
  // Large reads: libfuse sizes max_pages from max_write (1 MiB buffers).
  conn->max_readahead = 4u << 20;
  conn->max_read = 1u << 20;  // must match the max_read mount option
}

void OpLookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  auto r = ViewOf(req)->Lookup(CallerOf(req), parent, name);
  if (!r.ok()) return ReplyErr(req, r.status());
  fuse_entry_param e = ToEntry(*r);
  Session* session = SessionOf(req);
  std::string kept = session->cap && e.ino != 0 ? std::string(name) : std::string();
  if (fuse_reply_entry(req, &e) != 0) {
    if (e.ino != 0) session->view->Forget(e.ino, 1);
  } else if (session->cap && e.ino != 0) {
    session->cap->Record(parent, kept);
  }
}

void OpForget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  ViewOf(req)->Forget(ino, nlookup);
  fuse_reply_none(req);
}

void OpForgetMulti(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  for (size_t i = 0; i < count; ++i) ViewOf(req)->Forget(forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(req);
}

void OpGetattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  auto r = ViewOf(req)->GetAttr(CallerOf(req), ino);
  if (!r.ok()) return ReplyErr(req, r.status());
  struct stat st = ToStat(r->first);
  fuse_reply_attr(req, &st, r->second);
}

void OpReadlink(fuse_req_t req, fuse_ino_t ino) {
  auto r = ViewOf(req)->ReadLink(CallerOf(req), ino);
  if (!r.ok()) return ReplyErr(req, r.status());
  fuse_reply_readlink(req, r->c_str());
}

void OpAccess(fuse_req_t req, fuse_ino_t ino, int mask) {
  fuse_reply_err(req, ErrnoOf(ViewOf(req)->Access(CallerOf(req), ino, mask)));
}

void OpOpendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  auto r = ViewOf(req)->OpenDir(CallerOf(req), ino);
  if (!r.ok()) return ReplyErr(req, r.status());
  fi->fh = *r;
  // A snapshot's folders never change: the kernel may keep their listings.
  if (ViewOf(req)->IsImmutableDir(*r)) {
    fi->cache_readdir = 1;
    fi->keep_cache = 1;
  }
  View* view = ViewOf(req);
  if (fuse_reply_open(req, fi) != 0) view->ReleaseDir(*r);
}

void ReadDirCommon(fuse_req_t req, fuse_ino_t dir, size_t size, off_t off, fuse_file_info* fi,
                   bool plus) {
  std::vector<char> buf(size);
  size_t used = 0;
  std::vector<uint64_t> taken;  // inos counted as lookups, undone if the reply fails
  std::vector<std::string> names;  // their names, for the inode cap
  Status s = ViewOf(req)->ReadDir(
      fi->fh, static_cast<uint64_t>(off), plus,
      [&](std::string_view name, const EntryOut& e, uint64_t next) {
        std::string n(name);
        size_t need;
        if (plus) {
          fuse_entry_param p = ToEntry(e);
          if (e.name_only) p.ino = 0;  // no entry: the kernel makes no inode
          need = fuse_add_direntry_plus(req, buf.data() + used, size - used, n.c_str(), &p,
                                        static_cast<off_t>(next));
        } else {
          struct stat st {};
          st.st_ino = e.attr.ino;
          st.st_mode = e.attr.mode;
          need = fuse_add_direntry(req, buf.data() + used, size - used, n.c_str(), &st,
                                   static_cast<off_t>(next));
        }
        if (need > size - used) return false;
        used += need;
        if (plus && !e.name_only && n != "." && n != "..") {
          taken.push_back(e.attr.ino);
          if (SessionOf(req)->cap) names.push_back(std::move(n));
        }
        return true;
      });
  if (!s.ok() && used == 0) return ReplyErr(req, s);
  Session* session = SessionOf(req);
  if (fuse_reply_buf(req, buf.data(), used) != 0) {
    for (uint64_t ino : taken) session->view->Forget(ino, 1);
    return;
  }
  for (const std::string& n : names) session->cap->Record(dir, n);
}

void OpReaddir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  ReadDirCommon(req, ino, size, off, fi, false);
}

void OpReaddirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  ReadDirCommon(req, ino, size, off, fi, true);
}

void OpReleasedir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  ViewOf(req)->ReleaseDir(fi->fh);
  fuse_reply_err(req, 0);
}

void OpOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  auto r = ViewOf(req)->Open(CallerOf(req), ino, fi->flags);
  if (!r.ok()) return ReplyErr(req, r.status());
  fi->fh = *r;
  if (ViewOf(req)->IsGenerated(*r)) {
    fi->direct_io = 1;  // a .keepfs report: its size may differ from the last getattr
  } else {
    fi->keep_cache = 1;  // immutable: pages cached by an earlier open stay valid
  }
  View* view = ViewOf(req);
  if (fuse_reply_open(req, fi) != 0) view->Release(*r);
}

void OpRead(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  // Straight from the cached chunks into the kernel: no copy of our own.
  thread_local std::vector<View::Segment> segs;
  thread_local std::vector<iovec> iov;
  Status s = ViewOf(req)->ReadSegments(fi->fh, static_cast<uint64_t>(off), size, &segs);
  if (!s.ok()) return ReplyErr(req, s);
  iov.clear();
  for (const auto& seg : segs) iov.push_back({const_cast<char*>(seg.data), seg.size});
  fuse_reply_iov(req, iov.data(), static_cast<int>(iov.size()));
  segs.clear();  // drops this reply's chunk references
}

void OpLseek(fuse_req_t req, fuse_ino_t, off_t off, int whence, fuse_file_info* fi) {
  auto r = ViewOf(req)->SeekData(fi->fh, static_cast<uint64_t>(off), whence);
  if (!r.ok()) return ReplyErr(req, r.status());
  fuse_reply_lseek(req, static_cast<off_t>(*r));
}

void OpRelease(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  ViewOf(req)->Release(fi->fh);
  fuse_reply_err(req, 0);
}

void OpGetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  auto r = ViewOf(req)->GetXattr(CallerOf(req), ino, name);
  if (!r.ok()) return ReplyErr(req, r.status());
  if (size == 0) return (void)fuse_reply_xattr(req, r->size());
  if (r->size() > size) return (void)fuse_reply_err(req, ERANGE);
  fuse_reply_buf(req, r->data(), r->size());
}

void OpListxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  auto r = ViewOf(req)->ListXattr(CallerOf(req), ino);
  if (!r.ok()) return ReplyErr(req, r.status());
  std::string list;
  for (const auto& n : *r) list.append(n).push_back('\0');
  if (size == 0) return (void)fuse_reply_xattr(req, list.size());
  if (list.size() > size) return (void)fuse_reply_err(req, ERANGE);
  fuse_reply_buf(req, list.data(), list.size());
}

void OpStatfs(fuse_req_t req, fuse_ino_t) {
  auto r = ViewOf(req)->StatFs();
  if (!r.ok()) return ReplyErr(req, r.status());
  struct statvfs v {};
  v.f_bsize = v.f_frsize = r->block_size;
  v.f_blocks = r->blocks;
  v.f_bfree = r->bfree;
  v.f_bavail = r->bavail;
  v.f_files = r->files;
  v.f_namemax = r->name_max;
  fuse_reply_statfs(req, &v);
}

// The kernel caps FUSE read-ahead at the backing device's read_ahead_kb
// (128 KiB by default), whatever max_readahead says: sequential reads then
// arrive as 128 KiB requests. Raise it for our mount (root only; best effort).
void RaiseReadAhead(const std::string& mountpoint, unsigned kib) {
  std::optional<MountEntry> mount = FindMount(mountpoint);
  if (!mount) return;
  std::ofstream out("/sys/class/bdi/" + mount->device + "/read_ahead_kb");
  out << kib << "\n";
  out.flush();
  if (!out) spdlog::debug("cannot raise read-ahead of {} (not root?)", mountpoint);
}

// Every request that would change something: the snapshots are read-only.
void Erofs(fuse_req_t req) { fuse_reply_err(req, EROFS); }
void OpSetattr(fuse_req_t req, fuse_ino_t, struct stat*, int, fuse_file_info*) { Erofs(req); }
void OpMknod(fuse_req_t req, fuse_ino_t, const char*, mode_t, dev_t) { Erofs(req); }
void OpMkdir(fuse_req_t req, fuse_ino_t, const char*, mode_t) { Erofs(req); }
void OpUnlink(fuse_req_t req, fuse_ino_t, const char*) { Erofs(req); }
void OpSymlink(fuse_req_t req, const char*, fuse_ino_t, const char*) { Erofs(req); }
void OpRename(fuse_req_t req, fuse_ino_t, const char*, fuse_ino_t, const char*, unsigned) {
  Erofs(req);
}
void OpLink(fuse_req_t req, fuse_ino_t, fuse_ino_t, const char*) { Erofs(req); }
void OpCreate(fuse_req_t req, fuse_ino_t, const char*, mode_t, fuse_file_info*) { Erofs(req); }
void OpWrite(fuse_req_t req, fuse_ino_t, const char*, size_t, off_t, fuse_file_info*) {
  Erofs(req);
}
void OpFallocate(fuse_req_t req, fuse_ino_t, int, off_t, off_t, fuse_file_info*) { Erofs(req); }
// user.keepfs.pin pins and unpins (View::SetXattr); every other attribute
// change is refused like any other write.
void OpSetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size,
                int) {
  Status s = ViewOf(req)->SetXattr(CallerOf(req), ino, name, std::string_view(value, size));
  fuse_reply_err(req, s.ok() ? 0 : ErrnoOf(s));
}
void OpRemovexattr(fuse_req_t req, fuse_ino_t ino, const char* name) {
  Status s = ViewOf(req)->RemoveXattr(CallerOf(req), ino, name);
  fuse_reply_err(req, s.ok() ? 0 : ErrnoOf(s));
}

fuse_lowlevel_ops MakeOps() {
  fuse_lowlevel_ops ops{};
  ops.init = OpInit;
  ops.lookup = OpLookup;
  ops.forget = OpForget;
  ops.forget_multi = OpForgetMulti;
  ops.getattr = OpGetattr;
  ops.readlink = OpReadlink;
  ops.access = OpAccess;
  ops.opendir = OpOpendir;
  ops.readdir = OpReaddir;
  ops.readdirplus = OpReaddirplus;
  ops.releasedir = OpReleasedir;
  ops.open = OpOpen;
  ops.read = OpRead;
  ops.lseek = OpLseek;
  ops.release = OpRelease;
  ops.getxattr = OpGetxattr;
  ops.listxattr = OpListxattr;
  ops.statfs = OpStatfs;
  ops.setattr = OpSetattr;
  ops.mknod = OpMknod;
  ops.mkdir = OpMkdir;
  ops.unlink = OpUnlink;
  ops.rmdir = OpUnlink;
  ops.symlink = OpSymlink;
  ops.rename = OpRename;
  ops.link = OpLink;
  ops.create = OpCreate;
  ops.write = OpWrite;
  ops.fallocate = OpFallocate;
  ops.setxattr = OpSetxattr;
  ops.removexattr = OpRemovexattr;
  return ops;
}
}  // namespace

Status ServeMount(View* view, const MountOptions& options) {
  struct stat st;
  if (::stat(options.mountpoint.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::NotFound("mount point " + options.mountpoint +
                            " is not a directory: create it first (mkdir -p)");
  }
  if (::access("/dev/fuse", R_OK | W_OK) != 0) {
    return Status::FromErrno(errno, "/dev/fuse")
        .WithContext("cannot mount (is the fuse module loaded and /dev/fuse accessible?)");
  }
  std::string fsname = options.fsname;
  for (char& ch : fsname) {
    if (ch == ',') ch = '_';  // a comma would end the option
  }
  std::vector<std::string> argv_s = {
      "keepfs", "-o",
      "allow_other,nosuid,nodev,fsname=" + fsname + ",subtype=keepfs,max_read=1048576"};
  if (options.debug) argv_s.push_back("-d");
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  fuse_lowlevel_ops ops = MakeOps();
  Session session;
  session.view = view;
  fuse_session* se = fuse_session_new(&args, &ops, sizeof ops, &session);
  // The session keeps no pointer into args, whose copy libfuse may have
  // allocated while parsing them.
  fuse_opt_free_args(&args);
  if (!se) return Status::Internal("fuse_session_new failed (see the message above)");
  struct Cleanup {
    fuse_session* se;
    Session* session;
    View* view;
    bool handlers = false, mounted = false;
    ~Cleanup() {
      session->cap.reset();  // no invalidation after this point
      view->SetInvalidator(nullptr);
      if (mounted) fuse_session_unmount(se);
      if (handlers) fuse_remove_signal_handlers(se);
      fuse_session_destroy(se);
    }
  } cleanup{se, &session, view};
  if (fuse_set_signal_handlers(se) != 0) return Status::Internal("cannot set signal handlers");
  cleanup.handlers = true;
  if (fuse_session_mount(se, options.mountpoint.c_str()) != 0) {
    return Status(StatusCode::kIoError,
                  "cannot mount on " + options.mountpoint +
                      " (already mounted? see the message above; 'keepfs umount " +
                      options.mountpoint + "' unmounts a stale mount)",
                  EIO);
  }
  cleanup.mounted = true;
  // Commits and removals in this process (one writer) tell the kernel at once.
  // ENOENT only means the kernel had nothing cached under that name.
  view->SetInvalidator([se](uint64_t parent, const std::string& name) {
    fuse_lowlevel_notify_inval_entry(se, parent, name.c_str(), name.size());
  });
  if (options.max_inodes > 0) {
    session.cap = std::make_unique<InodeCap>(
        options.max_inodes, [se](uint64_t parent, const std::string& name) {
          // ENOENT: the kernel dropped that name already.
          fuse_lowlevel_notify_inval_entry(se, parent, name.c_str(), name.size());
        });
  }
  RaiseReadAhead(options.mountpoint, 4096);
  if (options.on_ready) options.on_ready();
  fuse_loop_config* cfg = fuse_loop_cfg_create();
  fuse_loop_cfg_set_max_threads(cfg, options.max_threads);
  fuse_loop_cfg_set_idle_threads(cfg, 4);
  int rc = fuse_session_loop_mt(se, cfg);
  fuse_loop_cfg_destroy(cfg);
  if (rc != 0 && rc != SIGINT && rc != SIGTERM && rc != SIGHUP) {
    return Status(StatusCode::kIoError, "the FUSE session ended with an error", rc > 0 ? rc : -rc);
  }
  return Status::OK();
}

Status Unmount(const std::string& mountpoint, bool lazy) {
  if (::umount2(mountpoint.c_str(), lazy ? MNT_DETACH : 0) == 0) return Status::OK();
  int err = errno;
  if (err == EPERM) {
    // Not root: fusermount3 unmounts what this user mounted.
    pid_t pid = ::fork();
    if (pid == 0) {
      if (lazy) {
        ::execlp("fusermount3", "fusermount3", "-u", "-z", mountpoint.c_str(), nullptr);
      } else {
        ::execlp("fusermount3", "fusermount3", "-u", mountpoint.c_str(), nullptr);
      }
      ::_exit(127);
    }
    int status = 0;
    if (pid > 0 && ::waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
        WEXITSTATUS(status) == 0) {
      return Status::OK();
    }
  }
  if (err == EBUSY) {
    return Status(StatusCode::kBusy,
                  mountpoint + " is busy: a process has a file or its working directory in it "
                               "(see 'fuser -vm " + mountpoint + "'); close it, or use --lazy",
                  EBUSY);
  }
  if (err == EINVAL) {
    return Status(StatusCode::kInvalidArgument, mountpoint + " is not a mount point", EINVAL);
  }
  return Status::FromErrno(err, "unmounting " + mountpoint);
}

}  // namespace keepfs::fs
