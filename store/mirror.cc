#include "store/mirror.h"

#include "store/backup_manifest.h"
#include "store/file_util.h"
#include "store/restore_marker.h"

namespace keepfs {

Mirror::~Mirror() {
  chunks_.reset();  // before the kv and guard it reads through
  kv_.reset();
}

Result<std::unique_ptr<Mirror>> Mirror::Open(const std::string& dir) {
  std::unique_ptr<Mirror> m(new Mirror());
  m->dir_ = dir;
  std::string meta;
  if (PathExists(dir + "/MANIFEST")) {
    KEEPFS_ASSIGN_OR_RETURN(BackupManifest manifest, ReadBackupManifest(dir));
    meta = dir + "/" + manifest.MetaDir();
    m->kind_ = "store-backup generation " + std::to_string(manifest.generation);
  } else if (PathExists(dir + "/meta") && PathExists(dir + "/config.toml")) {
    // A half-restored store's metadata may be incomplete.
    KEEPFS_RETURN_IF_ERROR(RefuseIfRestoring(dir));
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
  m->packs_ = NewLocalPackStore(dir);
  ChunkStoreOptions co;
  co.store_dir = dir;
  co.packs = m->packs_.get();
  co.writable = false;
  KEEPFS_ASSIGN_OR_RETURN(m->chunks_, ChunkStore::Open(m->kv_.get(), &m->guard_, co));
  return m;
}

}  // namespace keepfs
