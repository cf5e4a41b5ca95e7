#include "tests/testing/fake_source_fs.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

namespace keepfs::testing {

using snapshot::SourceDir;
using snapshot::SourceFile;
using snapshot::Xattr;

struct FakeSourceFs::Node {
  struct stat st {};
  std::string data;                         // regular, non-sparse
  bool sparse = false;
  std::map<uint64_t, std::string> extents;  // sparse: offset -> data
  std::string target;                       // symlink
  std::map<std::string, std::string> xattrs;
};

struct FakeSourceFs::State {
  std::mutex mu;
  std::map<std::string, std::shared_ptr<Node>> nodes;  // GUARDED_BY(mu)
  ino_t next_ino = 100;                                 // GUARDED_BY(mu)
  int64_t clock = 1700000000;                           // GUARDED_BY(mu)
  struct Failure {
    int err;
    int remaining;  // 0: forever
  };
  std::map<std::pair<Op, std::string>, Failure> failures;       // GUARDED_BY(mu)
  std::map<std::string, std::function<void()>> on_read;         // GUARDED_BY(mu)

  // Metadata changed: ctime moves (as for chown or setxattr on Linux).
  void TouchCtime(Node& n) {  // REQUIRES(mu)
    ++clock;
    n.st.st_ctim = {clock, 0};
  }
  // Data changed: mtime and ctime move.
  void Touch(Node& n) {  // REQUIRES(mu)
    TouchCtime(n);
    n.st.st_mtim = n.st.st_ctim;
  }
  std::shared_ptr<Node> Make(mode_t mode) {  // REQUIRES(mu)
    auto n = std::make_shared<Node>();
    n->st.st_mode = mode;
    n->st.st_ino = next_ino++;
    n->st.st_nlink = 1;
    n->st.st_dev = 42;
    Touch(*n);
    return n;
  }
  Status MaybeFail(Op op, const std::string& path) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = failures.find({op, path});
    if (it == failures.end()) return Status::OK();
    int err = it->second.err;
    if (it->second.remaining > 0 && --it->second.remaining == 0) failures.erase(it);
    return Status::FromErrno(err, "fake failure");
  }
  std::shared_ptr<Node> Find(const std::string& path) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = nodes.find(path);
    return it == nodes.end() ? nullptr : it->second;
  }
};

namespace {

std::string Join(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

void SetSize(FakeSourceFs::Node& n, uint64_t size, uint64_t data_bytes) {
  n.st.st_size = static_cast<off_t>(size);
  n.st.st_blocks = static_cast<blkcnt_t>((data_bytes + 511) / 512);
}

std::vector<Xattr> XattrList(const FakeSourceFs::Node& n) {
  std::vector<Xattr> out;
  for (const auto& [k, v] : n.xattrs) out.push_back({k, v});
  return out;
}

class FakeFile final : public SourceFile {
 public:
  FakeFile(std::shared_ptr<FakeSourceFs::State> state, std::string path,
           std::shared_ptr<FakeSourceFs::Node> node)
      : state_(std::move(state)), path_(std::move(path)), node_(std::move(node)) {}

  Status Stat(struct stat* st) override {
    std::lock_guard<std::mutex> lock(state_->mu);
    *st = node_->st;
    return Status::OK();
  }

  Result<size_t> ReadAt(uint64_t offset, void* buf, size_t n) override {
    KEEPFS_RETURN_IF_ERROR(state_->MaybeFail(FakeSourceFs::Op::kRead, path_));
    size_t got = 0;
    std::function<void()> hook;
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      uint64_t size = static_cast<uint64_t>(node_->st.st_size);
      if (offset < size) {
        got = static_cast<size_t>(std::min<uint64_t>(n, size - offset));
        char* out = static_cast<char*>(buf);
        if (!node_->sparse) {
          std::memcpy(out, node_->data.data() + offset, got);
        } else {
          std::memset(out, 0, got);
          for (const auto& [start, data] : node_->extents) {
            uint64_t end = start + data.size();
            uint64_t lo = std::max(start, offset), hi = std::min(end, offset + got);
            if (lo < hi) std::memcpy(out + (lo - offset), data.data() + (lo - start), hi - lo);
          }
        }
      }
      auto it = state_->on_read.find(path_);
      if (it != state_->on_read.end()) hook = it->second;
    }
    if (hook) hook();
    return got;
  }

  Result<std::optional<uint64_t>> NextData(uint64_t offset) override {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (!node_->sparse) {
      if (offset < static_cast<uint64_t>(node_->st.st_size)) return std::optional<uint64_t>(offset);
      return std::optional<uint64_t>();
    }
    for (const auto& [start, data] : node_->extents) {
      if (start + data.size() > offset) return std::optional<uint64_t>(std::max(start, offset));
    }
    return std::optional<uint64_t>();
  }

  Result<uint64_t> NextHole(uint64_t offset) override {
    std::lock_guard<std::mutex> lock(state_->mu);
    uint64_t size = static_cast<uint64_t>(node_->st.st_size);
    if (!node_->sparse) return size;
    for (const auto& [start, data] : node_->extents) {
      if (start <= offset && offset < start + data.size()) return start + data.size();
    }
    return std::min(offset, size);
  }

  Result<std::vector<Xattr>> Xattrs() override {
    KEEPFS_RETURN_IF_ERROR(state_->MaybeFail(FakeSourceFs::Op::kXattrs, path_));
    std::lock_guard<std::mutex> lock(state_->mu);
    return XattrList(*node_);
  }

 private:
  std::shared_ptr<FakeSourceFs::State> state_;
  std::string path_;
  std::shared_ptr<FakeSourceFs::Node> node_;  // an open file outlives its name
};

class FakeDir final : public SourceDir {
 public:
  FakeDir(std::shared_ptr<FakeSourceFs::State> state, std::string path)
      : state_(std::move(state)), path_(std::move(path)) {}

  Status StatSelf(struct stat* st) override { return StatPath(path_, st); }
  Result<std::vector<Xattr>> XattrsSelf() override { return XattrsPath(path_); }

  Result<std::vector<std::string>> List() override {
    KEEPFS_RETURN_IF_ERROR(state_->MaybeFail(FakeSourceFs::Op::kList, path_));
    std::lock_guard<std::mutex> lock(state_->mu);
    std::vector<std::string> names;
    std::string prefix = path_.empty() ? "" : path_ + "/";
    for (const auto& [p, node] : state_->nodes) {
      if (p.empty() || p.size() <= prefix.size() || p.compare(0, prefix.size(), prefix) != 0) {
        continue;
      }
      std::string rest = p.substr(prefix.size());
      if (rest.find('/') == std::string::npos) names.push_back(rest);
    }
    std::reverse(names.begin(), names.end());  // callers must not rely on any order
    return names;
  }

  Status Stat(const std::string& name, struct stat* st) override {
    return StatPath(Join(path_, name), st);
  }

  Result<std::vector<Xattr>> Xattrs(const std::string& name) override {
    return XattrsPath(Join(path_, name));
  }

  Result<std::string> ReadLink(const std::string& name) override {
    std::string p = Join(path_, name);
    KEEPFS_RETURN_IF_ERROR(state_->MaybeFail(FakeSourceFs::Op::kReadLink, p));
    auto n = state_->Find(p);
    if (!n) return Status::FromErrno(ENOENT, "readlink");
    if (!S_ISLNK(n->st.st_mode)) return Status::FromErrno(EINVAL, "readlink");
    std::lock_guard<std::mutex> lock(state_->mu);
    return n->target;
  }

  Result<std::unique_ptr<SourceDir>> OpenDir(const std::string& name) override {
    std::string p = Join(path_, name);
    KEEPFS_RETURN_IF_ERROR(state_->MaybeFail(FakeSourceFs::Op::kOpen, p));
    auto n = state_->Find(p);
    if (!n) return Status::FromErrno(ENOENT, "opening directory");
    if (S_ISLNK(n->st.st_mode)) return Status::FromErrno(ELOOP, "opening directory");
    if (!S_ISDIR(n->st.st_mode)) return Status::FromErrno(ENOTDIR, "opening directory");
    return std::unique_ptr<SourceDir>(new FakeDir(state_, p));
  }

  Result<std::unique_ptr<SourceFile>> OpenFile(const std::string& name) override {
    std::string p = Join(path_, name);
    KEEPFS_RETURN_IF_ERROR(state_->MaybeFail(FakeSourceFs::Op::kOpen, p));
    auto n = state_->Find(p);
    if (!n) return Status::FromErrno(ENOENT, "opening");
    if (S_ISLNK(n->st.st_mode)) return Status::FromErrno(ELOOP, "opening");
    return std::unique_ptr<SourceFile>(new FakeFile(state_, p, n));
  }

 private:
  Status StatPath(const std::string& p, struct stat* st) {
    KEEPFS_RETURN_IF_ERROR(state_->MaybeFail(FakeSourceFs::Op::kStat, p));
    auto n = state_->Find(p);
    if (!n) return Status::FromErrno(ENOENT, "stat");
    std::lock_guard<std::mutex> lock(state_->mu);
    *st = n->st;
    return Status::OK();
  }
  Result<std::vector<Xattr>> XattrsPath(const std::string& p) {
    KEEPFS_RETURN_IF_ERROR(state_->MaybeFail(FakeSourceFs::Op::kXattrs, p));
    auto n = state_->Find(p);
    if (!n) return Status::FromErrno(ENOENT, "listing xattrs");
    std::lock_guard<std::mutex> lock(state_->mu);
    return XattrList(*n);
  }

  std::shared_ptr<FakeSourceFs::State> state_;
  std::string path_;
};

}  // namespace

FakeSourceFs::FakeSourceFs() : state_(std::make_shared<State>()) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->nodes[""] = state_->Make(S_IFDIR | 0755);
}

FakeSourceFs::~FakeSourceFs() = default;

void FakeSourceFs::AddDir(const std::string& path, uint32_t mode) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->nodes[path] = state_->Make(S_IFDIR | mode);
}

void FakeSourceFs::AddFile(const std::string& path, std::string data, uint32_t mode) {
  std::lock_guard<std::mutex> lock(state_->mu);
  auto n = state_->Make(S_IFREG | mode);
  SetSize(*n, data.size(), data.size());
  n->data = std::move(data);
  state_->nodes[path] = n;
}

void FakeSourceFs::AddSparseFile(const std::string& path, uint64_t size,
                                 std::map<uint64_t, std::string> extents) {
  std::lock_guard<std::mutex> lock(state_->mu);
  auto n = state_->Make(S_IFREG | 0644);
  uint64_t data_bytes = 0;
  for (const auto& [off, d] : extents) data_bytes += d.size();
  SetSize(*n, size, data_bytes);
  n->sparse = true;
  n->extents = std::move(extents);
  state_->nodes[path] = n;
}

void FakeSourceFs::AddSymlink(const std::string& path, std::string target) {
  std::lock_guard<std::mutex> lock(state_->mu);
  auto n = state_->Make(S_IFLNK | 0777);
  SetSize(*n, target.size(), 0);
  n->target = std::move(target);
  state_->nodes[path] = n;
}

void FakeSourceFs::AddSpecial(const std::string& path, mode_t type, dev_t rdev) {
  std::lock_guard<std::mutex> lock(state_->mu);
  auto n = state_->Make(type | 0644);
  n->st.st_rdev = rdev;
  state_->nodes[path] = n;
}

void FakeSourceFs::Remove(const std::string& path) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->nodes.erase(path);
}

void FakeSourceFs::SetOwner(const std::string& path, uint32_t uid, uint32_t gid) {
  std::lock_guard<std::mutex> lock(state_->mu);
  Node& n = *state_->nodes.at(path);
  n.st.st_uid = uid;
  n.st.st_gid = gid;
  state_->TouchCtime(n);
}

void FakeSourceFs::SetXattr(const std::string& path, const std::string& name,
                            const std::string& value) {
  std::lock_guard<std::mutex> lock(state_->mu);
  Node& n = *state_->nodes.at(path);
  n.xattrs[name] = value;
  state_->TouchCtime(n);
}

void FakeSourceFs::Modify(const std::string& path, std::string data) {
  std::lock_guard<std::mutex> lock(state_->mu);
  Node& n = *state_->nodes.at(path);
  SetSize(n, data.size(), data.size());
  n.data = std::move(data);
  state_->Touch(n);
}

void FakeSourceFs::FailOn(Op op, const std::string& path, int err, int times) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->failures[{op, path}] = {err, times};
}

void FakeSourceFs::OnRead(const std::string& path, std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->on_read[path] = std::move(fn);
}

Result<std::unique_ptr<SourceDir>> FakeSourceFs::OpenRoot(const std::string& path) {
  (void)path;  // the fake has one tree; the path is only recorded in the snapshot
  KEEPFS_RETURN_IF_ERROR(state_->MaybeFail(Op::kOpen, ""));
  return std::unique_ptr<SourceDir>(new FakeDir(state_, ""));
}

}  // namespace keepfs::testing
