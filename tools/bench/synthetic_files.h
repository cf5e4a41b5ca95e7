// Synthetic files for the history generator (make_history.cc): the bytes of
// file i at version v, made up on demand from (seed, i, v) so that nothing of
// a million files is kept but their ids, and an in-memory SourceDir holding
// one such file, so that it is stored by the real FileIngester (chunking,
// compression, content records, the sharing fingerprint) like any backed-up
// file.
//
// Thread safety: pure functions; a OneFileDir is used by one thread.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "snapshot/source_fs.h"

namespace keepfs::bench {

// Text of words from a fixed vocabulary (so it compresses like prose, about
// 3x), size bytes exactly, different for every (seed, file, version).
std::string SyntheticText(uint64_t seed, uint64_t file, uint32_t version, size_t size);

// A mixing hash (splitmix64), for sizes, names and choices.
uint64_t Mix(uint64_t x);

// A directory that holds exactly one regular file, name, with the given bytes
// and times (ctime = mtime). Only OpenFile and what FileIngester asks of the
// file are implemented; everything else is NotSupported.
class OneFileDir final : public snapshot::SourceDir {
 public:
  OneFileDir(std::string name, std::string data, int64_t mtime_sec, uint64_t ino);

  Status StatSelf(struct stat* st) override;
  Result<std::vector<snapshot::Xattr>> XattrsSelf() override;
  Result<std::vector<std::string>> List() override;
  Status Stat(const std::string& name, struct stat* st) override;
  Result<std::vector<snapshot::Xattr>> Xattrs(const std::string& name) override;
  Result<std::string> ReadLink(const std::string& name) override;
  Result<std::unique_ptr<snapshot::SourceDir>> OpenDir(const std::string& name) override;
  Result<std::unique_ptr<snapshot::SourceFile>> OpenFile(const std::string& name) override;

  // The stat of the file (shared by the file handle).
  struct stat FileStat() const;
  const std::string& data() const { return data_; }

 private:
  std::string name_;
  std::string data_;
  int64_t mtime_sec_;
  uint64_t ino_;
};

}  // namespace keepfs::bench
