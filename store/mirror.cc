#include "store/mirror.h"

#include <sstream>

#include "store/file_util.h"

namespace keepfs {

namespace {
// The generation a store-backup MANIFEST commits to (store/store_backup.h).
Result<uint64_t> ManifestGeneration(const std::string& path) {
  KEEPFS_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path));
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("generation ", 0) != 0) continue;
    try {
      uint64_t g = std::stoull(line.substr(11));
      if (g > 0) return g;
    } catch (...) {
      break;
    }
  }
  return Status::Corruption(path + " names no generation: is it a keepfs store-backup copy?");
}
}  // namespace

Mirror::~Mirror() {
  chunks_.reset();  // before the kv and guard it reads through
  kv_.reset();
}

Result<std::unique_ptr<Mirror>> Mirror::Open(const std::string& dir) {
  std::unique_ptr<Mirror> m(new Mirror());
  m->dir_ = dir;
  std::string meta;
  if (PathExists(dir + "/MANIFEST")) {
    KEEPFS_ASSIGN_OR_RETURN(uint64_t gen, ManifestGeneration(dir + "/MANIFEST"));
    meta = dir + "/meta." + std::to_string(gen);
    m->kind_ = "store-backup generation " + std::to_string(gen);
  } else if (PathExists(dir + "/meta") && PathExists(dir + "/config.toml")) {
    meta = dir + "/meta";
    m->kind_ = "store";
  } else {
    return Status::NotFound(dir + " is neither a keepfs store nor a keepfs store-backup copy "
                                  "(no MANIFEST, no config.toml and meta/)");
  }
  KvOptions kvo;
  kvo.read_only = true;
  kvo.block_cache_bytes = 8 << 20;
  auto kv = KvStore::Open(meta, kvo);
  if (!kv.ok()) return kv.status().WithContext("opening mirror " + dir);
  m->kv_ = std::move(*kv);
  ChunkStoreOptions co;
  co.store_dir = dir;
  co.writable = false;
  KEEPFS_ASSIGN_OR_RETURN(m->chunks_, ChunkStore::Open(m->kv_.get(), &m->guard_, co));
  return m;
}

}  // namespace keepfs
