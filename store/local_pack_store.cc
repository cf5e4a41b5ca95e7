// The embedded default PackStore: pack files in the store directory.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <unordered_map>

#include "store/file_util.h"
#include "store/pack.h"
#include "store/pack_store.h"

namespace keepfs {
namespace {

// Descriptors kept open for reads; an evicted one stays open while a read
// that took it is running.
constexpr size_t kMaxOpenPacks = 256;

class LocalUpload : public PackUpload {
 public:
  LocalUpload(std::string tmp, std::string final_path, UniqueFd fd)
      : tmp_(std::move(tmp)), final_(std::move(final_path)), fd_(std::move(fd)) {}
  ~LocalUpload() override {
    if (!sealed_) ::unlink(tmp_.c_str());
  }

  Status Append(std::string_view bytes) override {
    if (!fd_.valid()) return Status::Internal("append to a finished pack " + final_);
    return WriteAll(fd_.get(), bytes.data(), bytes.size(), tmp_);
  }

  Status Seal() override {
    if (!fd_.valid()) return Status::Internal("seal of a finished pack " + final_);
    // Data first: the pack's bytes are durable before its name appears, and
    // the name is durable before any metadata points at it.
    KEEPFS_RETURN_IF_ERROR(FsyncFd(fd_.get(), tmp_));
    fd_.Reset();
    if (::rename(tmp_.c_str(), final_.c_str()) != 0) {
      return Status::FromErrno(errno, "renaming pack into " + final_);
    }
    sealed_ = true;
    return FsyncDir(final_.substr(0, final_.find_last_of('/')));
  }

 private:
  std::string tmp_, final_;
  UniqueFd fd_;
  bool sealed_ = false;
};

class LocalPackStore : public PackStore {
 public:
  explicit LocalPackStore(std::string dir) : dir_(std::move(dir)) {}

  std::string Describe(uint64_t pack_id) const override { return PackRelPath(pack_id); }
  std::string LocalPath(uint64_t pack_id) const override {
    return dir_ + "/" + PackRelPath(pack_id);
  }

  Result<std::unique_ptr<PackUpload>> Create(uint64_t pack_id) override {
    std::string final_path = LocalPath(pack_id);
    if (PathExists(final_path)) return Status::AlreadyExists("pack " + final_path + " exists");
    std::string subdir = final_path.substr(0, final_path.find_last_of('/'));
    // A new packs/XX/ must itself be durable before a pack is renamed into
    // it: MakeDirs syncs packs/ when it creates one.
    if (!PathExists(subdir)) KEEPFS_RETURN_IF_ERROR(MakeDirs(subdir));
    std::string tmp = dir_ + "/tmp/" + std::to_string(pack_id) + ".pack.tmp";
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd.valid()) return Status::FromErrno(errno, "creating pack " + tmp);
    return std::unique_ptr<PackUpload>(
        new LocalUpload(std::move(tmp), std::move(final_path), std::move(fd)));
  }

  Status Read(uint64_t pack_id, uint64_t offset, size_t len, char* buf) const override {
    KEEPFS_ASSIGN_OR_RETURN(std::shared_ptr<UniqueFd> fd, Fd(pack_id));
    return PreadAll(fd->get(), buf, len, offset, "pack " + PackRelPath(pack_id));
  }

  Result<std::optional<uint64_t>> Size(uint64_t pack_id) const override {
    struct stat st;
    std::string path = LocalPath(pack_id);
    if (::stat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) return std::optional<uint64_t>();
      return Status::FromErrno(errno, "stat of pack " + path);
    }
    return std::optional<uint64_t>(static_cast<uint64_t>(st.st_size));
  }

  Result<std::vector<uint64_t>> List() const override { return ListPackFiles(dir_); }

  Status Remove(uint64_t pack_id) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      fds_.erase(pack_id);  // a reader still holding the fd keeps the inode alive
    }
    std::string path = LocalPath(pack_id);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return Status::FromErrno(errno, "removing pack " + path);
    }
    // A store restored from a store-backup copy lacks the files of packs
    // condemned when the copy was taken (they are not copied), and may lack
    // their packs/XX directory too: then there is nothing to make durable.
    Status synced = FsyncDir(path.substr(0, path.find_last_of('/')));
    if (!synced.ok() && !synced.IsNotFound()) return synced;
    return Status::OK();
  }

  Result<uint64_t> FreeBytes() const override {
    struct statvfs vfs;
    const std::string packs = dir_ + "/packs";
    if (::statvfs(packs.c_str(), &vfs) != 0) return Status::FromErrno(errno, "statvfs " + packs);
    return static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  }

  Status RemoveUnsealed() override {
    std::string tmp_dir = dir_ + "/tmp";
    DIR* d = ::opendir(tmp_dir.c_str());
    if (!d) return Status::OK();
    while (dirent* de = ::readdir(d)) {
      std::string name = de->d_name;
      if (name.ends_with(".pack.tmp")) ::unlink((tmp_dir + "/" + name).c_str());
    }
    ::closedir(d);
    return Status::OK();
  }

 private:
  Result<std::shared_ptr<UniqueFd>> Fd(uint64_t pack_id) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = fds_.find(pack_id);
    if (it != fds_.end()) return it->second;
    std::string path = LocalPath(pack_id);
    auto fd = std::make_shared<UniqueFd>(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd->valid()) {
      if (errno == ENOENT) return Status::Corruption("pack " + path + " is missing");
      return Status::FromErrno(errno, "opening pack " + path);
    }
    if (fds_.size() >= kMaxOpenPacks) fds_.erase(fds_.begin());  // readers keep their shared_ptr
    fds_.emplace(pack_id, fd);
    return fd;
  }

  const std::string dir_;
  mutable std::mutex mu_;  // a leaf
  mutable std::unordered_map<uint64_t, std::shared_ptr<UniqueFd>> fds_;  // GUARDED_BY(mu_)
};

}  // namespace

std::unique_ptr<PackStore> NewLocalPackStore(const std::string& store_dir) {
  return std::make_unique<LocalPackStore>(store_dir);
}

}  // namespace keepfs
