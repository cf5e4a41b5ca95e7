// The source folders of the soak test (tools/bench/soak.h) and what each
// snapshot of them must read back as.
//
// A file's bytes are made up on demand from its pieces (a seed and a length
// each), so a reader checks any range of any version without keeping bytes,
// and a change to one piece leaves the chunks of the others as they were: the
// next backup stores only what changed, and the old piece becomes garbage
// once prune lets every snapshot holding it go.
//
// Thread safety: FileSpec and Manifest are immutable values once made, safe
// to share; a SourceTree is used by one thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "store/status.h"

namespace keepfs::bench {

struct Piece {
  // 0: zeros (written as a hole in a sparse copy); odd: text-like bytes that
  // compress; even: random bytes that do not.
  uint64_t seed = 0;
  uint32_t size = 0;
};

struct FileSpec {
  std::vector<Piece> pieces;
  bool sparse = false;  // zero pieces are left holes on disk

  uint64_t size() const;
  // The bytes of [offset, offset + n), which must lie inside the file.
  void Fill(uint64_t offset, char* out, size_t n) const;
};

// One snapshot's tree: every file by its path ('/'-separated, relative), and
// the names in every folder ("" is the snapshot's root).
struct Manifest {
  std::map<std::string, std::shared_ptr<const FileSpec>> files;
  std::map<std::string, std::set<std::string>> dirs;
};

// A user's source folder on disk and the model of it.
class SourceTree {
 public:
  // root: a folder to create. shared_sparse: this user's copy of the file
  // both users hold is sparse (the other's is dense), so the sharing pass
  // has a pair to unify whenever that file changes.
  SourceTree(std::string root, uint64_t seed, bool shared_sparse);

  // Writes the first version.
  Status Create();
  // Changes the folder as a user's day would: rewrites pieces of large
  // files in place, replaces medium and small files, adds and deletes files
  // (and folders); every few rounds the shared file changes the same way for
  // both users (round is the caller's count of rounds).
  Status Mutate(uint64_t round);
  // What a backup taken now must hold.
  std::shared_ptr<const Manifest> Snapshot() const;

 private:
  std::shared_ptr<FileSpec> NewFile();
  Status Write(const std::string& rel, const FileSpec& spec) const;
  Status Patch(const std::string& rel, const FileSpec& spec, size_t piece) const;
  Status Remove(const std::string& rel);
  uint64_t Next();

  std::string root_;
  uint64_t state_;
  bool shared_sparse_;
  uint64_t names_ = 0;
  std::map<std::string, std::shared_ptr<FileSpec>> files_;
};

// The shared file's name, and its spec at round (the same for both users
// but for sparseness).
inline constexpr const char* kSharedFile = "common/disk.img";
std::shared_ptr<FileSpec> SharedSpec(uint64_t round, bool sparse);

}  // namespace keepfs::bench
