// Mirror: another copy of a store, opened read-only as a source of chunks
// and metadata records for repair (snapshot/repair.h).
//
// DIR is either a keepfs store (DIR/meta/, DIR/packs/) or a copy made by
// `keepfs store-backup` (DIR/MANIFEST names the generation N whose metadata
// is DIR/meta.N/; packs are in DIR/packs/). Nothing in DIR is written: the
// metadata is opened read-only, without the store's lock, so a mirror that
// is mounted or being backed up elsewhere can still be read. What it holds
// is then as of the open; a pack its gc removes meanwhile just cannot supply
// its chunks. Everything taken from a mirror is checked against its id by
// the caller (SHA-256), so a mirror of another store, or a damaged one, can
// never put wrong bytes in.
//
// Thread safety: as KvStore and ChunkStore (reads from many threads).
#pragma once

#include <memory>
#include <string>

#include "store/chunk_store.h"
#include "store/kv_store.h"
#include "store/object_guard.h"
#include "store/pack_store.h"
#include "store/status.h"

namespace keepfs {

class Mirror {
 public:
  // NotFound with advice when dir is neither a store nor a store-backup copy.
  static Result<std::unique_ptr<Mirror>> Open(const std::string& dir);
  ~Mirror();

  const std::string& dir() const { return dir_; }
  // "store" or "store-backup generation N".
  const std::string& kind() const { return kind_; }
  KvStore& kv() { return *kv_; }
  ChunkStore& chunks() { return *chunks_; }

 private:
  Mirror() = default;
  std::string dir_, kind_;
  std::unique_ptr<KvStore> kv_;
  std::unique_ptr<PackStore> packs_;  // destroyed after chunks_
  ObjectGuard guard_;
  std::unique_ptr<ChunkStore> chunks_;
};

}  // namespace keepfs
