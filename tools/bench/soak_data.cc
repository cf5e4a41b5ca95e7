#include "tools/bench/soak_data.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace keepfs::bench {

namespace {

uint64_t Splitmix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Bytes [q, q + n) of a piece with this seed (Piece).
void FillPiece(uint64_t seed, uint64_t q, char* out, size_t n) {
  if (seed == 0) {
    std::memset(out, 0, n);
    return;
  }
  const uint64_t end = q + n;
  if (seed & 1) {  // runs of 32 equal letters: compresses about 10x with zstd -3
    while (q < end) {
      uint64_t run_end = std::min(end, (q | 31) + 1);
      char c = static_cast<char>('a' + Splitmix(seed ^ (q >> 5)) % 26);
      std::memset(out, c, run_end - q);
      out += run_end - q;
      q = run_end;
    }
    return;
  }
  while (q < end) {
    uint64_t word = Splitmix(seed + (q >> 3));
    uint64_t word_end = std::min(end, (q | 7) + 1);
    for (; q < word_end; ++q) *out++ = static_cast<char>(word >> (8 * (q & 7)));
  }
}

Status Errno(const std::string& what) { return Status::FromErrno(errno, what); }

Status MakeParents(const std::string& root, const std::string& rel) {
  for (size_t slash = rel.find('/'); slash != std::string::npos; slash = rel.find('/', slash + 1)) {
    std::string dir = root + "/" + rel.substr(0, slash);
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return Errno("mkdir " + dir);
  }
  return Status::OK();
}

Status WriteAt(int fd, const FileSpec& spec, uint64_t offset, uint64_t n, const std::string& path) {
  std::vector<char> buf(1 << 20);
  while (n > 0) {
    size_t take = static_cast<size_t>(std::min<uint64_t>(n, buf.size()));
    spec.Fill(offset, buf.data(), take);
    ssize_t w = ::pwrite(fd, buf.data(), take, static_cast<off_t>(offset));
    if (w != static_cast<ssize_t>(take)) return Errno("write " + path);
    offset += take;
    n -= take;
  }
  return Status::OK();
}

}  // namespace

uint64_t FileSpec::size() const {
  uint64_t s = 0;
  for (const Piece& p : pieces) s += p.size;
  return s;
}

void FileSpec::Fill(uint64_t offset, char* out, size_t n) const {
  uint64_t start = 0;
  for (const Piece& p : pieces) {
    uint64_t end = start + p.size;
    if (n > 0 && offset < end) {
      size_t take = static_cast<size_t>(std::min<uint64_t>(n, end - offset));
      FillPiece(p.seed, offset - start, out, take);
      out += take;
      offset += take;
      n -= take;
    }
    start = end;
  }
}

std::shared_ptr<FileSpec> SharedSpec(uint64_t round, bool sparse) {
  auto spec = std::make_shared<FileSpec>();
  spec->sparse = sparse;
  for (uint64_t i = 0; i < 16; ++i) {  // 1 MiB; a quarter of it zeros, in 64 KiB holes
    uint64_t seed = i % 4 == 1 ? 0 : Splitmix(round * 1000 + i) | 2;
    spec->pieces.push_back({seed, 64 << 10});
  }
  return spec;
}

SourceTree::SourceTree(std::string root, uint64_t seed, bool shared_sparse)
    : root_(std::move(root)), state_(seed), shared_sparse_(shared_sparse) {}

uint64_t SourceTree::Next() { return state_ = Splitmix(state_); }

std::shared_ptr<FileSpec> SourceTree::NewFile() {
  auto spec = std::make_shared<FileSpec>();
  uint64_t kind = Next() % 10;
  auto seed = [&](bool text) { return (Next() & ~uint64_t{1}) + (text ? 1 : 2); };
  if (kind < 4) {  // small: inline in its record
    spec->pieces.push_back({seed(true), static_cast<uint32_t>(50 + Next() % 4000)});
  } else if (kind < 7) {  // medium: one to three pieces, 4-192 KiB
    for (uint64_t i = 0, n = 1 + Next() % 3; i < n; ++i) {
      spec->pieces.push_back(
          {seed(Next() % 2 == 0), static_cast<uint32_t>((1 + Next() % 16) << 12)});
    }
  } else {  // large: 4-20 pieces of 64-192 KiB, 0.25-3.75 MiB
    for (uint64_t i = 0, n = 4 + Next() % 17; i < n; ++i) {
      spec->pieces.push_back(
          {seed(Next() % 3 == 0), static_cast<uint32_t>((16 + Next() % 33) << 12)});
    }
  }
  return spec;
}

Status SourceTree::Write(const std::string& rel, const FileSpec& spec) const {
  KEEPFS_RETURN_IF_ERROR(MakeParents(root_, rel));
  const std::string path = root_ + "/" + rel, tmp = root_ + "/.tmp-soak";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("create " + tmp);
  Status s;
  if (::ftruncate(fd, static_cast<off_t>(spec.size())) != 0) s = Errno("truncate " + tmp);
  uint64_t at = 0;
  for (const Piece& p : spec.pieces) {
    if (s.ok() && !(spec.sparse && p.seed == 0)) s = WriteAt(fd, spec, at, p.size, tmp);
    at += p.size;
  }
  if (::close(fd) != 0 && s.ok()) s = Errno("close " + tmp);
  KEEPFS_RETURN_IF_ERROR(s);
  // A new inode under the old name, as editors and rsync leave it.
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Errno("rename to " + path);
  return Status::OK();
}

Status SourceTree::Patch(const std::string& rel, const FileSpec& spec, size_t piece) const {
  const std::string path = root_ + "/" + rel;
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Errno("open " + path);
  uint64_t at = 0;
  for (size_t i = 0; i < piece; ++i) at += spec.pieces[i].size;
  Status s = WriteAt(fd, spec, at, spec.pieces[piece].size, path);
  if (::close(fd) != 0 && s.ok()) s = Errno("close " + path);
  return s;
}

Status SourceTree::Remove(const std::string& rel) {
  files_.erase(rel);
  std::string path = root_ + "/" + rel;
  if (::unlink(path.c_str()) != 0) return Errno("unlink " + path);
  // Folders left empty go too: a backup never holds an empty folder here.
  for (size_t slash = rel.rfind('/'); slash != std::string::npos && slash > 0;
       slash = rel.rfind('/', slash - 1)) {
    std::string dir = root_ + "/" + rel.substr(0, slash);
    if (::rmdir(dir.c_str()) != 0) break;  // not empty
  }
  return Status::OK();
}

Status SourceTree::Create() {
  if (::mkdir(root_.c_str(), 0755) != 0) return Errno("mkdir " + root_);
  for (int d = 0; d < 4; ++d) {
    for (int f = 0; f < 8; ++f) {
      std::string rel = "d" + std::to_string(d) + "/f" + std::to_string(names_++);
      if (d == 3 && f >= 4) rel = "d3/sub/f" + std::to_string(names_++);
      files_[rel] = NewFile();
    }
  }
  files_[kSharedFile] = SharedSpec(0, shared_sparse_);
  for (const auto& [rel, spec] : files_) KEEPFS_RETURN_IF_ERROR(Write(rel, *spec));
  return Status::OK();
}

Status SourceTree::Mutate(uint64_t round) {
  std::vector<std::string> names;
  for (const auto& [rel, spec] : files_) {
    if (rel != kSharedFile) names.push_back(rel);
  }
  // Four files change: a large one gets one piece rewritten in place (the
  // rest of its chunks stay), any other is replaced by new bytes.
  for (int i = 0; i < 4 && !names.empty(); ++i) {
    const std::string rel = names[Next() % names.size()];
    std::shared_ptr<FileSpec> spec = files_[rel];
    if (spec->pieces.size() >= 4) {
      auto changed = std::make_shared<FileSpec>(*spec);  // manifests share the old one
      size_t piece = Next() % changed->pieces.size();
      changed->pieces[piece].seed = (Next() & ~uint64_t{3}) + 2;
      KEEPFS_RETURN_IF_ERROR(Patch(rel, *changed, piece));
      files_[rel] = std::move(changed);
    } else {
      files_[rel] = NewFile();
      KEEPFS_RETURN_IF_ERROR(Write(rel, *files_[rel]));
    }
  }
  if (Next() % 2 == 0 && names.size() > 24)
    KEEPFS_RETURN_IF_ERROR(Remove(names[Next() % names.size()]));
  if (Next() % 2 == 0 && names.size() < 48) {
    std::string dir = "d" + std::to_string(Next() % 4);
    if (Next() % 4 == 0) dir += "/n" + std::to_string(names_++);  // a new folder
    std::string rel = dir + "/f" + std::to_string(names_++);
    files_[rel] = NewFile();
    KEEPFS_RETURN_IF_ERROR(Write(rel, *files_[rel]));
  }
  if (round % 4 == 0) {
    files_[kSharedFile] = SharedSpec(round / 4, shared_sparse_);
    KEEPFS_RETURN_IF_ERROR(Write(kSharedFile, *files_[kSharedFile]));
  }
  return Status::OK();
}

std::shared_ptr<const Manifest> SourceTree::Snapshot() const {
  auto m = std::make_shared<Manifest>();
  m->dirs[""];
  for (const auto& [rel, spec] : files_) {
    m->files[rel] = spec;
    size_t start = 0;
    std::string dir;
    for (size_t slash = rel.find('/'); slash != std::string::npos; slash = rel.find('/', start)) {
      m->dirs[dir].insert(rel.substr(start, slash - start));
      dir = rel.substr(0, slash);
      m->dirs[dir];
      start = slash + 1;
    }
    m->dirs[dir].insert(rel.substr(start));
  }
  return m;
}

}  // namespace keepfs::bench
