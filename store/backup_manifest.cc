#include "store/backup_manifest.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>

#include "store/file_util.h"
#include "store/object_id.h"

namespace keepfs {

namespace {
constexpr char kManifestMagic[] = "keepfs-store-backup 1";
}  // namespace

std::string EncodeBackupManifest(const BackupManifest& m) {
  std::string o = std::string(kManifestMagic) + "\nstore " + m.store_id + "\ngeneration " +
                  std::to_string(m.generation) + "\ncreated " + std::to_string(m.created) + "\n";
  for (const auto& [path, f] : m.files) {
    o += "file " + path + " " + std::to_string(f.size) + " " + f.sha256 + "\n";
  }
  return o + "end\n";
}

Result<BackupManifest> ParseBackupManifest(const std::string& text, const std::string& where) {
  std::istringstream in(text);
  std::string line;
  BackupManifest m;
  auto bad = [&](const std::string& why) {
    return Status::Corruption(where + " is damaged (" + why + "); it cannot be trusted");
  };
  if (!std::getline(in, line) || line != kManifestMagic) return bad("first line");
  bool ended = false;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string word;
    f >> word;
    if (word == "store") {
      f >> m.store_id;
    } else if (word == "generation") {
      f >> m.generation;
    } else if (word == "created") {
      f >> m.created;
    } else if (word == "file") {
      std::string path;
      BackupFile e;
      if (!(f >> path >> e.size >> e.sha256) || path.find("..") != std::string::npos ||
          path.empty() || path[0] == '/' || e.sha256.size() != 64 ||
          e.sha256.find_first_not_of("0123456789abcdef") != std::string::npos) {
        return bad("file line '" + line + "'");
      }
      m.files[path] = e;
    } else if (word == "end") {
      ended = true;
      break;
    } else {
      return bad("unknown line '" + line + "'");
    }
  }
  if (!ended || m.store_id.empty() || m.generation == 0) return bad("incomplete");
  return m;
}

Result<BackupManifest> ReadBackupManifest(const std::string& dir) {
  const std::string path = dir + "/MANIFEST";
  if (!PathExists(path)) {
    return Status::NotFound(dir + " has no MANIFEST: it is not a keepfs store-backup copy (or "
                            "its first store-backup never finished)");
  }
  KEEPFS_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path));
  return ParseBackupManifest(text, path);
}

Result<BackupFile> CopyHashing(const ReadNext& read, const std::string& dst) {
  UniqueFd out;
  if (!dst.empty()) {
    out = UniqueFd(::open(dst.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!out.valid()) return Status::FromErrno(errno, "creating " + dst);
  }
  std::string buf(4 << 20, '\0');  // a ranged read of a pack in RADOS per 4 MiB
  Sha256 sha;
  BackupFile e;
  for (;;) {
    KEEPFS_ASSIGN_OR_RETURN(size_t n, read(buf.data(), buf.size()));
    if (n == 0) break;
    sha.Update(buf.data(), n);
    e.size += n;
    if (out.valid()) KEEPFS_RETURN_IF_ERROR(WriteAll(out.get(), buf.data(), n, dst));
  }
  if (out.valid()) KEEPFS_RETURN_IF_ERROR(FsyncFd(out.get(), dst));
  e.sha256 = sha.Finish().ToHex();
  return e;
}

Result<BackupFile> CopyHashing(const std::string& src, const std::string& dst) {
  UniqueFd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) return Status::FromErrno(errno, "opening " + src);
  return CopyHashing(
      [&](char* buf, size_t len) -> Result<size_t> {
        for (;;) {
          ssize_t n = ::read(in.get(), buf, len);
          if (n >= 0) return static_cast<size_t>(n);
          if (errno != EINTR) return Status::FromErrno(errno, "reading " + src);
        }
      },
      dst);
}

}  // namespace keepfs
